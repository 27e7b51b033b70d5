"""The example school's own tests (example_project/school/tests), on this run's test database: its
lesson credits, its outbox page and the background sweep of its demo.

They need the example project's settings (its swapped session model, its credit tables), so they
run in a pytest of their own; unlike the other example project tests they follow
``LIVECLASS_TEST_DB``, because their race needs PostgreSQL's and MariaDB's row locks to mean anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"

pytestmark = pytest.mark.concurrency


def test_the_school_credit_ledger_and_its_race() -> None:
    db = os.environ.get("LIVECLASS_TEST_DB", "sqlite")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(ROOT / "src"), str(ROOT)])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--ds=example_project.test_settings",
         str(EXAMPLE / "school" / "tests")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = re.search(r"(\d+) passed(?:, (\d+) skipped)?", output)
    assert summary is not None, output
    skipped = int(summary.group(2) or 0)
    # The naive control only skips on SQLite, which serialises write transactions; elsewhere it must run.
    assert skipped == (1 if db == "sqlite" else 0), output
    assert int(summary.group(1)) >= 32, output
