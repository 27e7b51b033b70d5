"""``manage.py liveclass_booking JOB`` takes Django's common options after the job's name as well as before it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, load_command_class

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "example_project" / "manage.py"
SENTENCE = "Expired 0 requests, 0 offers"


def parse(*argv: str) -> dict[str, object]:
    command = load_command_class("django_liveclass_booking", "liveclass_booking")
    return vars(command.create_parser("manage.py", "liveclass_booking").parse_args(list(argv)))


@pytest.mark.parametrize("job", [["process"], ["import_legacy", "export.json"]])
def test_every_job_takes_the_common_options_after_its_name(job: list[str]) -> None:
    options = parse(*job, "-v", "2", "--settings", "tests.settings", "--pythonpath", ".", "--traceback",
                    "--no-color", "--skip-checks")
    assert options["verbosity"] == 2 and options["settings"] == "tests.settings" and options["pythonpath"] == "."
    assert options["traceback"] is True and options["no_color"] is True and options["skip_checks"] is True


def test_every_option_django_gives_the_command_is_taken_after_each_job() -> None:
    # Django may add common options in a later version: each job takes them all, whatever they are.
    command = load_command_class("django_liveclass_booking", "liveclass_booking")
    parser = command.create_parser("manage.py", "liveclass_booking")
    common = {option for action in parser._actions if action.dest not in ("help", "version", "job")
              for option in action.option_strings}
    assert {"-v", "--verbosity", "--settings", "--pythonpath", "--traceback", "--skip-checks"} <= common
    (jobs,) = [action for action in parser._actions if action.dest == "job"]
    for name, job in jobs.choices.items():
        taken = {option for action in job._actions for option in action.option_strings}
        assert common <= taken, (name, common - taken)


def test_an_option_after_the_job_wins_and_one_before_it_still_counts() -> None:
    assert parse("-v", "3", "--traceback", "process")["verbosity"] == 3
    assert parse("-v", "3", "--traceback", "process")["traceback"] is True
    assert parse("-v", "3", "process", "-v", "0")["verbosity"] == 0
    # Not given anywhere: Django's defaults.
    defaults = parse("process")
    assert defaults["verbosity"] == 1 and defaults["traceback"] is False and defaults["settings"] is None


def test_the_jobs_still_refuse_an_unknown_option() -> None:
    with pytest.raises(CommandError, match="unrecognized arguments: --bogus"):
        call_command("liveclass_booking", "process", "--bogus")


@pytest.mark.django_db
def test_verbosity_zero_after_the_job_silences_the_sentence() -> None:
    out = io.StringIO()
    call_command("liveclass_booking", "process", "-v", "0", "--traceback", "--no-color", stdout=out)
    assert out.getvalue() == ""
    call_command("liveclass_booking", "process", "--verbosity", "2", stdout=out)
    assert out.getvalue().startswith(SENTENCE)
    # --json is for programs: it prints whatever the verbosity.
    out = io.StringIO()
    call_command("liveclass_booking", "process", "-v", "0", "--json", stdout=out)
    assert out.getvalue().startswith("{")


@pytest.mark.example_project
def test_manage_py_takes_the_common_options_after_the_job(tmp_path: Path) -> None:
    # This tree's package, whatever the environment installed.
    python_path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "LIVECLASS_DEMO_DB": str(tmp_path / "db.sqlite3"), "PYTHONPATH": python_path}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)

    migrated = manage("migrate", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr

    quiet = manage("liveclass_booking", "process", "-v", "0", "--settings", "example_project.settings",
                   "--pythonpath", str(ROOT / "example_project"), "--no-color")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""
    verbose = manage("liveclass_booking", "process", "-v", "2")
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout.startswith(SENTENCE)

    # --traceback after the job: a command error comes with its traceback; without it, one line.
    traced = manage("liveclass_booking", "process", "--now", "not-a-time", "--traceback")
    assert traced.returncode == 1
    assert "Traceback (most recent call last)" in traced.stderr and "--now:" in traced.stderr
    plain = manage("liveclass_booking", "process", "--now", "not-a-time")
    assert plain.returncode == 1
    assert "Traceback" not in plain.stderr and plain.stderr.startswith("CommandError: --now:")

    # A settings module that does not exist, named after the job, is the one Django tries to load.
    missing = manage("liveclass_booking", "process", "--settings", "no_such_settings_module")
    assert missing.returncode != 0 and "no_such_settings_module" in missing.stderr
