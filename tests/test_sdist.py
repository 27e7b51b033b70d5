"""The source distribution: built with ``python -m build --sdist``, it holds the tests with their settings
(and the docs, the example project and the benchmark they use), and a test module runs from it.

Marked ``packaging``: it builds in an isolated environment (setuptools from the package index) and runs
on SQLite whatever ``LIVECLASS_TEST_DB`` says, so CI runs it once, in its first pytest run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
#: What MANIFEST.in must bring along, beyond the package: without these the tests cannot run.
REQUIRED = [
    "pyproject.toml", "README.md", "LICENSE", "tox.ini",
    "tests/__init__.py", "tests/settings.py", "tests/conftest.py", "tests/urls.py", "tests/invariants.py",
    "tests/templates/registration/login.html", "tests/testapp/models.py",
    "docs/conf.py", "docs/index.rst", "docs/examples/tutorial.py",
    "example_project/manage.py", "example_project/example_project/settings.py", "bench/run.py",
    "src/django_liveclass_booking/py.typed",
]
#: Not copied into the tree the sdist is built from: what a checkout gathers that git does not track.
LEFT_OUT = [".git", ".venv*", ".tox", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache",
            ".ruff_cache", "build", "dist", "_build", "sent_emails", "*.sqlite3"]
#: A module that needs the test settings, conftest's fixtures, the test URLconf and the database.
MODULE = "tests/test_book_seat.py"


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # From a copy without build leftovers: setuptools puts into an sdist every file an old
    # *.egg-info/SOURCES.txt lists, which would hide a file MANIFEST.in forgets.
    source = tmp_path_factory.mktemp("source") / "checkout"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*LEFT_OUT))
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    (archive,) = dist.glob("django_liveclass_booking-*.tar.gz")
    target = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    (top,) = target.iterdir()
    return top


def files(top: Path) -> set[str]:
    return {path.relative_to(top).as_posix() for path in top.rglob("*") if path.is_file()}


def test_the_sdist_holds_the_tests_their_settings_and_what_they_use(unpacked: Path) -> None:
    shipped = files(unpacked)
    missing = [name for name in REQUIRED if name not in shipped]
    assert not missing, f"not in the sdist: {missing}"
    # Every test module of the repository is there.
    tests = {f"tests/{path.name}" for path in (ROOT / "tests").glob("test_*.py")}
    assert tests <= shipped, sorted(tests - shipped)
    leftovers = [name for name in shipped if "__pycache__" in name or name.endswith((".pyc", ".sqlite3"))
                 or name.startswith(("docs/_build/", "example_project/sent_emails/"))]
    assert not leftovers, leftovers


def test_a_test_module_runs_from_the_unpacked_sdist(unpacked: Path) -> None:
    env = {**os.environ, "LIVECLASS_TEST_DB": "sqlite", "PYTHONPATH": str(unpacked / "src")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    # The package and the test settings are the sdist's, not this checkout's.
    where = subprocess.run(
        [sys.executable, "-c", "import django_liveclass_booking, tests.settings; "
         "print(django_liveclass_booking.__file__); print(tests.settings.__file__)"],
        cwd=unpacked, env=env, capture_output=True, text=True, timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert all(Path(line).is_relative_to(unpacked) for line in where.stdout.split()), where.stdout

    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", MODULE],
                            cwd=unpacked, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Everything passed: nothing skipped, failed or in error.
    assert re.fullmatch(r"\d+ passed in [\d.]+s( \(.*\))?", result.stdout.strip().splitlines()[-1]), output
