"""On PostgreSQL the database itself keeps a teacher's scheduled sessions from overlapping.

Migration 0003 adds an exclusion constraint there (``liveclass_teacher_no_overlap``): it holds even
against writes that bypass the services and their teacher lock, and the services turn its error into
``SlotUnavailable``. SQLite and MariaDB have no such constraint; there the teacher lock the services
take is the only guarantee.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test import override_settings

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import SlotUnavailable
from django_liveclass_booking.models import SessionKind, SessionStatus, get_booking_model, get_session_model
from django_liveclass_booking.operations import OVERLAP_CONSTRAINT

# Transactional: the constraint is checked at INSERT, and the race below needs real commits.
pytestmark = pytest.mark.django_db(transaction=True)

# Not a module-wide skip: the companion test at the end runs exactly where these do not.
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="the exclusion constraint exists on PostgreSQL only")
without_exclusion_constraint = pytest.mark.skipif(connection.vendor == "postgresql",
                                                  reason="PostgreSQL has the exclusion constraint")

HOUR = dt.timedelta(hours=1)
HOLD_SECONDS = 1.0  # how long the other writer keeps its transaction open after inserting


def session_row(teacher: Any, start: dt.datetime, *, length: dt.timedelta = HOUR, **fields: Any) -> Any:
    """A session written straight through the ORM: no teacher lock, no overlap check."""
    return get_session_model().objects.create(
        teacher=teacher, start_at_utc=start, end_at_utc=start + length,
        duration_minutes=int(length.total_seconds() // 60), capacity=3, **fields,
    )


@pytest.fixture
def start(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=1)


# --- the constraint ---------------------------------------------------------------------------


@postgresql_only
def test_database_refuses_an_overlapping_scheduled_session_of_the_same_teacher(teacher, start):
    session_row(teacher, start)
    with pytest.raises(IntegrityError, match=OVERLAP_CONSTRAINT):
        session_row(teacher, start + dt.timedelta(minutes=30))


@postgresql_only
def test_database_accepts_an_overlapping_cancelled_session(teacher, start):
    session_row(teacher, start)
    session_row(teacher, start + dt.timedelta(minutes=30), status=SessionStatus.CANCELLED)


@postgresql_only
def test_database_accepts_another_teachers_overlapping_session(teacher, make_user, start):
    session_row(teacher, start)
    session_row(make_user(), start)


@postgresql_only
def test_database_accepts_back_to_back_sessions(teacher, start):
    # Half-open ranges, as the services count them: one ending at 10:00 leaves 10:00 free.
    session_row(teacher, start)
    session_row(teacher, start + HOUR)
    session_row(teacher, start - HOUR)


@postgresql_only
def test_database_refuses_reinstating_a_cancelled_session_over_a_scheduled_one(teacher, start):
    cancelled = session_row(teacher, start, status=SessionStatus.CANCELLED)
    session_row(teacher, start)
    Session = get_session_model()
    with pytest.raises(IntegrityError, match=OVERLAP_CONSTRAINT):
        Session.objects.filter(pk=cancelled.pk).update(status=SessionStatus.SCHEDULED)


# --- the services under a writer that bypasses the teacher lock ----------------------------------


class SneakyWriter(threading.Thread):
    """Inserts an overlapping session in its own transaction, then keeps it open before finishing.

    The service called meanwhile cannot see the uncommitted row in its own overlap check; its
    INSERT waits on the exclusion constraint until this transaction ends.
    """

    def __init__(self, teacher: Any, start: dt.datetime, *, commit: bool = True) -> None:
        super().__init__(daemon=True)
        self.teacher, self.at, self.commit = teacher, start, commit
        self.inserted = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                session_row(self.teacher, self.at)
                self.inserted.set()
                time.sleep(HOLD_SECONDS)
                transaction.set_rollback(not self.commit)
        except BaseException as exc:  # reported to the test thread
            self.error = exc
        finally:
            self.inserted.set()
            connections.close_all()


def while_sneaky_writer_holds(writer: SneakyWriter, call: Callable[[], Any]) -> Any:
    """Run ``call`` after the writer's insert and before its commit; return what it returned or raised."""
    writer.start()
    try:
        assert writer.inserted.wait(timeout=30)
        try:
            return call()
        except Exception as exc:
            return exc
    finally:
        writer.join(timeout=30)
        assert writer.error is None, writer.error


def scheduled_sessions_of(teacher: Any) -> list[tuple[str, dt.datetime]]:
    return list(get_session_model().objects.filter(teacher=teacher, status=SessionStatus.SCHEDULED)
                .values_list("kind", "start_at_utc"))


@postgresql_only
def test_schedule_session_refuses_a_slot_taken_by_a_concurrent_write_that_bypassed_the_lock(teacher, start, now):
    writer = SneakyWriter(teacher, start)
    outcome = while_sneaky_writer_holds(
        writer, lambda: services.schedule_session(teacher, start=start + dt.timedelta(minutes=30), duration=60,
                                                  capacity=5, now=now))

    assert isinstance(outcome, SlotUnavailable), outcome
    assert outcome.code == "teacher_unavailable"
    # Refused by the constraint, not by the service's own check, which could not see the row.
    assert isinstance(outcome.__cause__, IntegrityError)
    assert scheduled_sessions_of(teacher) == [(SessionKind.GROUP, start)]


@postgresql_only
@override_settings(LIVECLASS_BOOKING={"REQUIRE_AVAILABILITY": False})
def test_request_lesson_refuses_a_slot_taken_by_a_concurrent_write_that_bypassed_the_lock(teacher, student, start,
                                                                                          now):
    writer = SneakyWriter(teacher, start)
    outcome = while_sneaky_writer_holds(
        writer, lambda: services.request_lesson(student, teacher, start=start + dt.timedelta(minutes=30),
                                                duration=60, now=now))

    assert isinstance(outcome, SlotUnavailable), outcome
    assert outcome.code == "teacher_unavailable"
    assert isinstance(outcome.__cause__, IntegrityError)
    assert scheduled_sessions_of(teacher) == [(SessionKind.GROUP, start)]
    assert not get_booking_model().objects.filter(student=student).exists()


@postgresql_only
def test_schedule_session_goes_ahead_when_the_concurrent_write_rolls_back(teacher, start, now):
    writer = SneakyWriter(teacher, start, commit=False)
    later = start + dt.timedelta(minutes=30)
    outcome = while_sneaky_writer_holds(
        writer, lambda: services.schedule_session(teacher, start=later, duration=60, capacity=5, now=now))

    assert not isinstance(outcome, Exception), outcome
    assert scheduled_sessions_of(teacher) == [(SessionKind.GROUP, later)]


# --- elsewhere ---------------------------------------------------------------------------------


@without_exclusion_constraint
def test_without_the_constraint_overlapping_writes_that_bypass_the_services_are_stored(teacher, start):
    # Documents the limit of the guarantee on SQLite and MariaDB: the migration adds nothing there,
    # so only the services' teacher lock and overlap check keep a calendar free of overlaps.
    session_row(teacher, start)
    session_row(teacher, start + dt.timedelta(minutes=30))
    assert len(scheduled_sessions_of(teacher)) == 2
