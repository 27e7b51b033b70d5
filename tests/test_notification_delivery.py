"""The outbox under load: several delivery workers at once, and the cost of writing the rows.

The race runs real threads, each with its own database connection, against the real SMTP server;
its naive control (read the unsent rows, send, then mark them) shows the race is there to lose.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services
from django_liveclass_booking.adapter import get_adapter
from django_liveclass_booking.models import Notification

from .test_query_budgets import BOOK_SEAT_BUDGET
from .threads import run_at_once

pytestmark = [pytest.mark.django_db(transaction=True)]

WORKERS = 4


@pytest.fixture
def mail_settings(settings, smtp):
    smtp.use(settings)
    # The rows stay for the workers: nothing is sent right after commit.
    settings.LIVECLASS_BOOKING = {"NOTIFICATIONS": {"ENABLED": True, "DELIVER_ON_COMMIT": False}}
    return settings


@pytest.fixture
def full_class(make_session, make_user, now, mail_settings):
    session = make_session(capacity=24)
    students = [make_user(f"learner{i}", email=f"learner{i}@example.com") for i in range(24)]
    for student in students:
        services.book_seat(student, session, actor=student, now=now)
    assert Notification.objects.filter(kind="booking_confirmed", sent_at__isnull=True).count() == 24
    return session, students


@pytest.mark.concurrency
def test_four_sweeps_at_once_send_each_row_once(full_class, smtp, now):
    results = run_at_once(lambda _i: services.process_due(now=now), range(WORKERS))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r["notifications_sent"] for r in results) == 24
    got = Counter(rcpt for rcpts, _m in smtp.inbox.messages() for rcpt in rcpts)
    assert got == {f"learner{i}@example.com": 1 for i in range(24)}
    assert not Notification.objects.filter(kind="booking_confirmed", sent_at__isnull=True).exists()
    assert set(Notification.objects.filter(kind="booking_confirmed").values_list("attempts", flat=True)) == {1}


def test_a_sweep_sends_its_batch_over_one_smtp_session(full_class, smtp, now):
    assert services.process_due(now=now)["notifications_sent"] == 24
    assert len(smtp.inbox.messages()) == 24
    assert smtp.inbox.greetings == 1, "one connection for the batch, not one per message"


@pytest.mark.concurrency
def test_naive_control_read_send_mark_sends_twice(full_class, smtp, now):
    """Without the claim, workers that read the same unsent rows all send them."""
    read_all = threading.Barrier(WORKERS)

    def naive(_i: int) -> int:
        rows = list(Notification.objects.filter(sent_at__isnull=True, kind="booking_confirmed")
                    .select_related("recipient", "booking", "session"))
        read_all.wait(timeout=60)
        for row in rows:
            get_adapter().send_notification(row)
            Notification.objects.filter(pk=row.pk).update(sent_at=now)
        return len(rows)

    results = run_at_once(naive, range(WORKERS))
    assert not [r for r in results if isinstance(r, Exception)], results
    got = Counter(rcpt for rcpts, _m in smtp.inbox.messages() for rcpt in rcpts)
    assert max(got.values()) == WORKERS, "each worker sent every row"


def _cancel_class_queries(make_session, make_user, teacher, now, size: int) -> tuple[int, int]:
    session = make_session(capacity=size)
    for i in range(size):
        student = make_user(f"s{size}-{i}", email=f"s{size}-{i}@example.com")
        services.book_seat(student, session, actor=student, now=now)
    with CaptureQueriesContext(connection) as ctx:
        services.cancel_session(session, actor=teacher, reason="Ill", now=now)
    written = Notification.objects.filter(kind="session_cancelled", session=session).count()
    assert not Notification.objects.filter(kind="reminder", session=session).exists(), "its reminders are gone"
    inserts = [q for q in ctx.captured_queries if "INSERT" in q["sql"] and "notification" in q["sql"]]
    assert len(inserts) == 1, "one bulk insert for the whole class"
    assert written == size
    return len(ctx.captured_queries), written


def test_writing_a_cancelled_class_costs_the_same_for_3_or_30_students(make_session, make_user, teacher, now,
                                                                        mail_settings):
    small, _ = _cancel_class_queries(make_session, make_user, teacher, now, 3)
    large, _ = _cancel_class_queries(make_session, make_user, teacher, now, 30)
    assert large == small, (small, large)


def test_book_seat_with_notifications_stays_in_budget(make_session, make_user, student, other_student, now,
                                                      mail_settings):
    session = make_session(capacity=3)
    services.book_seat(make_user(), session, now=now)  # the process reads the teacher's rules once

    def queries(who: Any) -> int:
        fresh = type(session).objects.get(pk=session.pk)
        with CaptureQueriesContext(connection) as ctx:
            services.book_seat(who, fresh, actor=who, now=now)
        # Not the PREPARE a connection sends once, before its first one-statement booking.
        return len([q for q in ctx.captured_queries if not q["sql"].startswith("PREPARE ")])

    with_rows = queries(student)
    mail_settings.LIVECLASS_BOOKING = {"NOTIFICATIONS": {"ENABLED": False}}
    without = queries(other_student)
    # Two statements more: the confirmation, and the reminders (one insert that skips a class's duplicates).
    # On PostgreSQL, without notifications the booking is one statement with no BEGIN and COMMIT around it.
    assert with_rows == without + 2 + (2 if connection.vendor == "postgresql" else 0), (with_rows, without)
    if connection.vendor == "postgresql":
        assert with_rows <= BOOK_SEAT_BUDGET, with_rows


def test_notifications_off_write_nothing(make_session, student, now, settings: Any):
    settings.LIVECLASS_BOOKING = {"NOTIFICATIONS": {"ENABLED": False}}
    session = make_session(capacity=3)
    services.book_seat(student, session, actor=student, now=now)
    assert not Notification.objects.exists()
