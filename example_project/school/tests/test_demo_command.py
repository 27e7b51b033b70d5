"""``liveclass_demo``: the address is checked before anything is written, the data is seeded once and never
seeded back, ``--reset`` starts over, and ``--serve`` runs the sweep beside the server until it stops.

Run by tests/test_example_credits.py with the rest of the school's tests, on each test database;
tests/test_example_project.py runs the same command as a person does, on the demo's SQLite file.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from django_liveclass_booking import services
from django_liveclass_booking.models import TeacherAvailability
from school.management.commands import liveclass_demo
from school.models import DemoSeeding, Lesson


@pytest.fixture
def busy_address() -> Iterator[str]:
    """An address another program listens on."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield f"127.0.0.1:{busy.getsockname()[1]}"


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def commands_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The commands the demo calls (migrate, flush, runserver), in order; all but runserver run."""
    names: list[str] = []
    real = liveclass_demo.call_command

    def recording(name: str, *args: Any, **kwargs: Any) -> Any:
        names.append(name)
        if name == "runserver":
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(liveclass_demo, "call_command", recording)
    return names


@pytest.mark.django_db
def test_a_busy_address_is_refused_before_anything_is_written(busy_address: str, commands_run: list[str]) -> None:
    with pytest.raises(CommandError, match="another program is listening there. Nothing was written"):
        call_command("liveclass_demo", "--serve", "--address", busy_address, "--reset", stdout=io.StringIO())

    assert commands_run == []  # not migrated, not flushed, not served
    assert not get_user_model().objects.exists() and not DemoSeeding.objects.exists()


@pytest.mark.parametrize("address", ["nonsense", "127.0.0.1:", "127.0.0.1:70000", "localhost:http"])
def test_an_address_without_a_port_is_refused(address: str) -> None:
    with pytest.raises(CommandError, match="give a port"):
        liveclass_demo.check_address_free(address)


def test_a_free_address_passes_the_check() -> None:
    liveclass_demo.check_address_free(free_address())
    liveclass_demo.check_address_free(free_address().split(":")[1])  # a port alone, as runserver takes it


@pytest.mark.django_db(transaction=True)
def test_the_demo_is_seeded_once_and_reset_starts_over(commands_run: list[str]) -> None:
    first = io.StringIO()
    call_command("liveclass_demo", stdout=first)
    assert "Created" in first.getvalue() and DemoSeeding.objects.count() == 1
    windows = TeacherAvailability.objects.count()
    lessons = Lesson.objects.count()
    assert windows and lessons and Token.objects.count() == 2

    # A person deletes and edits demo rows; the next run puts nothing back.
    TeacherAvailability.objects.all().delete()
    Token.objects.filter(user__username="s.chen").delete()
    Lesson.objects.filter(external_ref="demo-algebra").update(title="Renamed by hand")
    again = io.StringIO()
    call_command("liveclass_demo", stdout=again)
    assert "Nothing new" in again.getvalue() and "--reset" in again.getvalue()
    assert not TeacherAvailability.objects.exists() and Token.objects.count() == 1
    assert Lesson.objects.get(external_ref="demo-algebra").title == "Renamed by hand"
    assert "API token for t.jones" in again.getvalue() and "API token for s.chen" not in again.getvalue()

    reset = io.StringIO()
    call_command("liveclass_demo", "--reset", stdout=reset)
    assert "Emptied the database" in reset.getvalue() and "Created" in reset.getvalue()
    assert TeacherAvailability.objects.count() == windows and Lesson.objects.count() == lessons
    assert Lesson.objects.get(external_ref="demo-algebra").title == "Algebra basics"
    assert Token.objects.count() == 2 and DemoSeeding.objects.count() == 1
    assert commands_run == ["migrate", "migrate", "migrate", "flush"]


@pytest.mark.django_db(transaction=True)
def test_serve_runs_the_sweep_beside_the_server_and_stops_it_with_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    DemoSeeding.objects.create()  # seeded before: this test is about serving
    sweeps: list[float] = []

    def process_due(now: Any = None) -> dict[str, int]:
        sweeps.append(time.monotonic())
        return {"expired_offers": 0}

    monkeypatch.setattr(services, "process_due", process_due)
    address = free_address()
    served: dict[str, Any] = {}
    real = liveclass_demo.call_command

    def runserver(name: str, *args: Any, **kwargs: Any) -> Any:
        if name != "runserver":
            return real(name, *args, **kwargs)
        served["args"], served["kwargs"] = args, kwargs
        # While the server runs, the sweep runs again and again on its own.
        deadline = time.monotonic() + 30
        while len(sweeps) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        served["sweeps"] = len(sweeps)
        served["threads"] = [thread for thread in threading.enumerate() if thread.name == "liveclass-sweep"]
        raise SystemExit(0)  # as Control-C ends runserver

    monkeypatch.setattr(liveclass_demo, "call_command", runserver)
    out = io.StringIO()

    with pytest.raises(SystemExit):
        call_command("liveclass_demo", "--serve", "--address", address, "--sweep-every", "1", stdout=out)

    assert served["args"] == (address,) and served["kwargs"] == {"use_reloader": False}
    assert served["sweeps"] >= 2 and len(served["threads"]) == 1
    assert "process_due() runs every 1 s in the background" in out.getvalue()
    # The server stopped: so did the sweep, and it runs no more.
    (sweep,) = served["threads"]
    assert not sweep.is_alive()
    count = len(sweeps)
    time.sleep(1.5)
    assert len(sweeps) == count


@pytest.mark.django_db(transaction=True)
def test_serve_without_a_sweep_starts_no_thread(commands_run: list[str]) -> None:
    DemoSeeding.objects.create()
    before = {thread.ident for thread in threading.enumerate()}
    call_command("liveclass_demo", "--serve", "--address", free_address(), "--sweep-every", "0",
                 stdout=io.StringIO())
    assert commands_run == ["migrate", "runserver"]
    assert not [thread for thread in threading.enumerate()
                if thread.name == "liveclass-sweep" and thread.ident not in before]
