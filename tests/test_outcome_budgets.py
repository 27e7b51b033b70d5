"""Database round trips of recording an outcome and of the sweep that completes lessons.

Transactional tests, so that no test-wrapping savepoints are counted: the BEGIN and COMMIT a real
request sends are (Django 5.2+ records both).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services
from django_liveclass_booking.models import BookingEvent, BookingStatus, SessionKind, get_booking_model
from django_liveclass_booking.services._engine import outcomes as engine

pytestmark = pytest.mark.django_db(transaction=True)

RECORD_OUTCOME_BUDGET = 6
#: A manager's permission is looked up once per user instance: the user's and their groups' permissions.
PERMISSION_LOOKUP = 2
#: The statements of one chunk of the sweep: the due bookings, BEGIN, their sessions' locks, the
#: bookings loaded, the rows moved (locked, updated), COMMIT; and their history (see ``inserts``).
SWEEP_CHUNK = 7
#: The statements of the sweep's last look, finding nothing: the due bookings.
SWEEP_EMPTY_LOOK = 1


def count(call: Callable[[], Any]) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as ctx:
        result = call()
    return len(ctx.captured_queries), result


def fresh(booking: Any) -> Any:
    """The booking as a view loads it."""
    return get_booking_model().objects.get(pk=booking.pk)


@pytest.fixture
def booking(session: Any, student: Any, now: dt.datetime) -> Any:
    return services.book_seat(student, session, now=now)


def during(booking: Any) -> dt.datetime:
    return booking.start_at_utc + dt.timedelta(minutes=30)


def record(booking: Any, outcome: str, actor: Any, minutes: int = 30) -> Callable[[], Any]:
    when = booking.start_at_utc + dt.timedelta(minutes=minutes)
    return lambda: services.record_outcome(fresh(booking), outcome=outcome, actor=actor, now=when)


def measure(booking: Any, outcome: str, actor: Any, minutes: int = 30) -> int:
    target = fresh(booking)
    when = booking.start_at_utc + dt.timedelta(minutes=minutes)
    queries, _ = count(lambda: services.record_outcome(target, outcome=outcome, actor=actor, now=when))
    return queries


@pytest.mark.parametrize(("who", "outcome"), [("teacher", "completed"), ("teacher", "no_show"),
                                              ("student", "teacher_no_show"), ("system", "no_show")])
def test_recording_an_outcome_stays_within_budget(booking, teacher, student, who, outcome):
    actor = {"teacher": teacher, "student": student, "system": services.SYSTEM}[who]
    queries = measure(booking, outcome, actor)
    assert queries <= RECORD_OUTCOME_BUDGET, queries
    assert fresh(booking).status == outcome


def test_a_dispute_and_a_correction_stay_within_budget(booking, teacher, student):
    assert measure(booking, "completed", teacher) <= RECORD_OUTCOME_BUDGET
    queries = measure(booking, "no_show", teacher, minutes=40)  # the teacher's own: checked in the UPDATE
    assert queries <= RECORD_OUTCOME_BUDGET, queries
    queries = measure(booking, "teacher_no_show", student, minutes=50)
    assert queries <= RECORD_OUTCOME_BUDGET, queries
    assert fresh(booking).status == "disputed"


def test_a_manager_settles_a_dispute_within_budget(booking, teacher, student, make_user):
    measure(booking, "completed", teacher)
    measure(booking, "teacher_no_show", student, minutes=40)
    superuser = make_user("boss", is_staff=True, is_superuser=True)
    assert measure(booking, "no_show", superuser, minutes=50) <= RECORD_OUTCOME_BUDGET
    manager = make_user("manager")
    manager.user_permissions.add(Permission.objects.get(codename="manage_bookings"))
    manager = type(manager).objects.get(pk=manager.pk)
    queries = measure(booking, "completed", manager, minutes=60)
    assert queries <= RECORD_OUTCOME_BUDGET + PERMISSION_LOOKUP, queries


# --- the sweep: a constant number of queries whatever the number of bookings ------------------------------


def confirmed_bookings(teacher: Any, sessions: list[Any], n: int, now: dt.datetime) -> None:
    """``n`` confirmed seats spread over ``sessions``, written in bulk (as an import would)."""
    User = get_user_model()
    User.objects.bulk_create([User(username=f"s{n}-{i}", password="!") for i in range(n)])
    students = list(User.objects.filter(username__startswith=f"s{n}-").values_list("pk", flat=True))
    Booking = get_booking_model()
    Booking.objects.bulk_create([
        Booking(session=s, student_id=pk, teacher=teacher, kind=SessionKind.GROUP, start_at_utc=s.start_at_utc,
                end_at_utc=s.end_at_utc, status=BookingStatus.CONFIRMED, status_changed=now)
        for pk, s in zip(students, (sessions[i % len(sessions)] for i in range(n)), strict=True)
    ])


@pytest.fixture
def sweep(make_session: Any, teacher: Any, now: dt.datetime) -> Callable[[int], int]:
    """Make ``n`` confirmed bookings over 10 sessions, then count the queries of the sweep that completes them."""
    runs = iter(range(1, 100))

    def run(n: int) -> int:
        start = now + dt.timedelta(days=next(runs))
        sessions = [make_session(capacity=1000, start=start + dt.timedelta(hours=2 * i)) for i in range(10)]
        confirmed_bookings(teacher, sessions, n, now)
        after = sessions[-1].end_at_utc + dt.timedelta(hours=73)
        queries, counts = count(lambda: services.process_due(now=after))
        assert counts["completed"] == n
        moved = get_booking_model().objects.filter(status="completed", session__in=sessions)
        assert moved.count() == n
        assert BookingEvent.objects.filter(kind="completed", actor=None, booking__in=moved).count() == n
        return queries

    return run


def inserts(rows: int) -> int:
    """The statements that write ``rows`` history rows: one, unless the database limits a statement's
    parameters (SQLite's 999), when Django splits the rows into batches."""
    fields = [f for f in BookingEvent._meta.concrete_fields if not f.primary_key]
    return -(-rows // connection.ops.bulk_batch_size(fields, [None] * rows))


def test_the_sweep_completes_ten_or_a_thousand_bookings_at_a_constant_cost(sweep):
    ten = sweep(10)
    thousand = sweep(1000)
    # A thousand bookings are two chunks of CHUNK_SIZE; the sweep then looks once more for any left.
    chunk = engine.CHUNK_SIZE
    assert 1000 // chunk == 2
    assert thousand - ten == (2 * (SWEEP_CHUNK + inserts(chunk)) + SWEEP_EMPTY_LOOK
                              - (SWEEP_CHUNK + inserts(10))), (connection.vendor, ten, thousand)


def test_in_one_chunk_the_sweep_costs_the_same_for_ten_or_a_thousand(sweep, monkeypatch):
    monkeypatch.setattr(engine, "CHUNK_SIZE", 5000)
    ten, thousand = sweep(10), sweep(1000)
    # Equal on PostgreSQL and MariaDB; SQLite splits the history's INSERT at its parameter limit.
    assert thousand - ten == inserts(1000) - inserts(10), (connection.vendor, ten, thousand)
