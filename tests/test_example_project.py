"""The example project: its demo command seeds once, never seeds deleted rows back, starts over with
``--reset``, checks its address before writing, and its migrations are complete."""

from __future__ import annotations

import os
import socket
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


def manage(*args: str, db: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    # The test run's own DJANGO_SETTINGS_MODULE must not leak into the example project.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings", "LIVECLASS_DEMO_DB": str(db)}
    result = subprocess.run([sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True,
                            timeout=300)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
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

    # What a person deletes or changes stays so: the next run seeds nothing back.
    with sqlite3.connect(demo_db) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM liveclass_booking_teacheravailability")
        conn.execute("UPDATE school_lesson SET title = 'Renamed by hand' WHERE external_ref = 'demo-algebra'")
        conn.execute("DELETE FROM authtoken_token")
    edited = row_counts(demo_db)
    third = manage("liveclass_demo", db=demo_db)
    assert "Nothing new" in third.stdout and "--reset" in third.stdout and "+ " not in third.stdout
    assert "API token for" not in third.stdout
    assert row_counts(demo_db) == edited and edited["liveclass_booking_teacheravailability"] == 0
    assert title_of(demo_db, "demo-algebra") == "Renamed by hand"

    # --reset starts over: the demo as a first run seeds it.
    reset = manage("liveclass_demo", "--reset", db=demo_db)
    assert "Emptied the database" in reset.stdout and "Created" in reset.stdout and "API token for" in reset.stdout
    assert row_counts(demo_db) == seeded
    assert title_of(demo_db, "demo-algebra") == "Algebra basics"
    assert "Nothing new" in manage("liveclass_demo", db=demo_db).stdout


def title_of(db: Path, key: str) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT title FROM school_lesson WHERE external_ref = ?", [key]).fetchone()[0]


def test_a_busy_address_stops_the_demo_before_it_writes_anything(demo_db: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        refused = manage("liveclass_demo", "--serve", "--address", address, db=demo_db, ok=False)
    assert f"Cannot serve on {address}: another program is listening there" in refused.stderr
    assert "Nothing was written" in refused.stderr
    # Not migrated, let alone seeded.
    if demo_db.exists():
        with sqlite3.connect(demo_db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 0


def test_example_migrations_are_complete(demo_db: Path) -> None:
    manage("makemigrations", "--check", "--dry-run", db=demo_db)
