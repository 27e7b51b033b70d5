"""The background sweep of ``liveclass_demo --serve``: one run of process_due() at a time, in its own thread.

Run by tests/test_example_credits.py with the rest of the school's tests.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.models import Notification
from school.adapter import add_credits
from school.management.commands.liveclass_demo import sweep_forever, sweep_once
from school.models import CreditEntry


def in_thread(work: Callable[[], Any]) -> tuple[Any, bool]:
    """``work()`` in a thread of its own, as the demo runs it; its result, and whether the thread's
    database connection was closed when it returned."""
    outcome: list[Any] = []

    def run() -> None:
        outcome.append(work())
        outcome.append(connection.connection is None)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert len(outcome) == 2, "the work raised or hung"
    return outcome[0], outcome[1]


@pytest.mark.django_db(transaction=True)
def test_a_run_sends_what_is_due_says_so_and_closes_its_connection(settings: Any) -> None:
    # Left to the sweep, as messages are whose after-commit delivery was lost with its process.
    settings.LIVECLASS_BOOKING = {**settings.LIVECLASS_BOOKING,
                                  "NOTIFICATIONS": {**settings.LIVECLASS_BOOKING["NOTIFICATIONS"],
                                                    "DELIVER_ON_COMMIT": False}}
    User = get_user_model()
    teacher = User.objects.create_user("sweep-teacher", "teacher@example.com", "pw")
    student = User.objects.create_user("sweep-student", "student@example.com", "pw")
    with transaction.atomic():
        add_credits(student, 1, CreditEntry.Reason.GIFT)
    session = services.schedule_session(teacher, start=timezone.now() + dt.timedelta(hours=26), duration=60,
                                        capacity=5)
    services.book_seat(student, session)
    assert not mail.outbox
    out, err = io.StringIO(), io.StringIO()

    counts, closed = in_thread(lambda: sweep_once(out, err))

    assert counts is not None and counts["notifications_sent"] == 1 and closed
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["student@example.com"]
    assert "notifications sent 1" in out.getvalue() and out.getvalue().count("\n") == 1
    assert not err.getvalue()
    # Nothing more is due: a quiet run prints nothing.
    counts, closed = in_thread(lambda: sweep_once(out, err))
    assert counts is not None and not any(counts.values()) and closed
    assert out.getvalue().count("\n") == 1 and not err.getvalue()
    assert Notification.objects.filter(sent_at__isnull=False).count() == 1


def test_a_failed_run_is_printed_and_the_loop_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """process_due() raising (a locked SQLite file, a mail server down) does not end the thread."""
    stop = threading.Event()
    calls: list[int] = []

    def flaky(now: Any = None) -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        stop.set()
        return {"expired_requests": 0, "expired_offers": 1, "offers_made": 1, "notifications_sent": 2}

    monkeypatch.setattr(services, "process_due", flaky)
    out, err = io.StringIO(), io.StringIO()

    _, closed = in_thread(lambda: sweep_forever(0, out, err, stop))

    assert len(calls) == 2 and closed
    assert "process_due() failed" in err.getvalue() and "RuntimeError: database is locked" in err.getvalue()
    assert "expired offers 1, offers made 1, notifications sent 2" in out.getvalue()
    assert "expired requests" not in out.getvalue()


def test_one_failed_run_returns_none() -> None:
    out, err = io.StringIO(), io.StringIO()

    def broken(now: Any = None) -> dict[str, int]:
        raise ValueError("boom")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "process_due", broken)
        result, _ = in_thread(lambda: sweep_once(out, err))
    assert result is None and "ValueError: boom" in err.getvalue() and not out.getvalue()
