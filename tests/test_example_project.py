"""The example project: its demo command seeds once and is idempotent, and its migrations are complete."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

# The example project always runs on its own SQLite file: one run of the suite is enough.
pytestmark = pytest.mark.example_project

MANAGE = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"
TABLES = [
    "auth_user", "school_lesson", "liveclass_booking_liveclassbooking", "liveclass_booking_teacherbookingpolicy",
    "liveclass_booking_teacheravailability",
]


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    return tmp_path / "demo.sqlite3"


def manage(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    # The test run's own DJANGO_SETTINGS_MODULE must not leak into the example project.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings", "LIVECLASS_DEMO_DB": str(db)}
    result = subprocess.run([sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def row_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}


def test_demo_command_seeds_once(demo_db: Path) -> None:
    first = manage("liveclass_demo", db=demo_db)
    assert "Created" in first.stdout and "admin / admin" in first.stdout
    seeded = row_counts(demo_db)
    assert seeded["school_lesson"] >= 3 and seeded["liveclass_booking_liveclassbooking"] >= 3
    with sqlite3.connect(demo_db) as conn:
        statuses = [row[0] for row in conn.execute("SELECT status FROM liveclass_booking_liveclassbooking")]
        full = conn.execute("SELECT COUNT(*) FROM school_lesson WHERE capacity = 2 AND seats_taken = 2").fetchone()[0]
        subjects = {row[0] for row in conn.execute("SELECT subject FROM school_lesson")}
    assert statuses.count("pending") == 1
    assert full == 1
    assert "" not in subjects

    second = manage("liveclass_demo", db=demo_db)
    assert "Nothing new" in second.stdout
    assert "+ " not in second.stdout
    assert row_counts(demo_db) == seeded


def test_example_migrations_are_complete(demo_db: Path) -> None:
    manage("makemigrations", "--check", "--dry-run", db=demo_db)
