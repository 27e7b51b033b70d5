"""Reschedule races, each with a control that shows the harness produces the race (see test_races.py)."""

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.db import IntegrityError, OperationalError, connection, transaction

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError, SlotUnavailable
from django_liveclass_booking.models import (
    RescheduleRequest,
    SessionStatus,
    get_booking_model,
    get_session_model,
)
from django_liveclass_booking.operations import OVERLAP_CONSTRAINT
from django_liveclass_booking.services._engine import locks

from .invariants import assert_all
from .threads import run_at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

ROUNDS = 3
UTC = dt.UTC
HOUR = dt.timedelta(hours=1)


def outcome(result):
    return type(result).__name__ if isinstance(result, Exception) else "ok"


@pytest.fixture
def tutor(teacher, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    services.set_policy(teacher, timezone="UTC")
    return teacher


def two_lessons(tutor, make_user, now, day):
    """Two lessons of one teacher, each with a pending proposal for the same free hour."""
    base = now.replace(hour=10) + dt.timedelta(days=day)
    target = base + dt.timedelta(hours=5)
    proposals = []
    for offset in (0, 2):
        student = make_user()
        booking = services.request_lesson(student, tutor, start=base + dt.timedelta(hours=offset), duration=60,
                                          now=now)
        proposals.append((services.request_reschedule(booking, start=target, actor=tutor, now=now), student))
    return target, proposals


def overlapping_lessons(tutor):
    starts = sorted(get_session_model().objects.filter(teacher=tutor, status=SessionStatus.SCHEDULED)
                    .values_list("start_at_utc", "end_at_utc"))
    return [(a, b) for a, b in zip(starts, starts[1:], strict=False) if b[0] < a[1]]


def naive_accept(proposal, window):
    """Look for a clash on the calendar, then move the session and booking; no teacher lock."""
    Session, Booking = get_session_model(), get_booking_model()
    booking = Booking.objects.get(pk=proposal.booking_id)
    clash = (Session.objects.filter(teacher_id=booking.teacher_id, status=SessionStatus.SCHEDULED)
             .overlapping(proposal.start_at_utc, proposal.end_at_utc).exclude(pk=booking.session_id).exists())
    window.wait(timeout=30)
    if clash:
        return "refused"
    try:
        with transaction.atomic():
            Session.objects.filter(pk=booking.session_id).update(start_at_utc=proposal.start_at_utc,
                                                                 end_at_utc=proposal.end_at_utc)
            Booking.objects.filter(pk=booking.pk).update(start_at_utc=proposal.start_at_utc,
                                                         end_at_utc=proposal.end_at_utc)
            RescheduleRequest.objects.filter(pk=proposal.pk).update(status="accepted")
    except IntegrityError as exc:
        if OVERLAP_CONSTRAINT in str(exc):
            return "stopped by the database"
        raise
    except OperationalError as exc:
        if "deadlock detected" in str(exc) and "exclusion constraint" in str(exc):
            return "stopped by the database"
        raise
    return "moved"


def test_control_naive_check_then_move_double_books_the_teacher(tutor, make_user, now):
    _, proposals = two_lessons(tutor, make_user, now, 2)
    window = threading.Barrier(2)

    results = run_at_once(lambda pair: naive_accept(pair[0], window), proposals)

    assert not [r for r in results if isinstance(r, Exception)], results
    # Both checks found the hour free: the check-then-write race is there.
    assert results.count("refused") == 0, results
    if connection.vendor == "postgresql":
        # Only the exclusion constraint stands in the way on PostgreSQL.
        assert sorted(results) == ["moved", "stopped by the database"], results
        assert not overlapping_lessons(tutor)
    else:
        assert results == ["moved", "moved"], results
        assert overlapping_lessons(tutor)


def test_library_moves_exactly_one_lesson_into_a_free_slot(tutor, make_user, now):
    for day in range(ROUNDS):
        target, proposals = two_lessons(tutor, make_user, now, 2 + day)

        results = run_at_once(lambda pair: services.accept_reschedule(pair[0], actor=pair[1], now=now), proposals)

        assert Counter(outcome(r) for r in results) == {"ok": 1, "SlotUnavailable": 1}, results
        assert all(r.code == "teacher_unavailable" for r in results if isinstance(r, SlotUnavailable))
        assert not overlapping_lessons(tutor)
        statuses = sorted(RescheduleRequest.objects.filter(pk__in=[p.pk for p, _ in proposals])
                          .values_list("status", flat=True))
        assert statuses == ["accepted", "pending"]
        assert get_booking_model().objects.filter(teacher=tutor, start_at_utc=target).count() == 1
        assert_all()


def test_library_keeps_one_pending_proposal_per_booking(tutor, make_user, now):
    for day in range(ROUNDS):
        student = make_user()
        booking = services.request_lesson(student, tutor, start=now.replace(hour=10) + dt.timedelta(days=2 + day),
                                          duration=60, now=now)
        starts = [booking.start_at_utc + dt.timedelta(hours=h) for h in (3, 5, 7, 9)]

        results = run_at_once(lambda start, b=booking: services.request_reschedule(
            get_booking_model().objects.get(pk=b.pk), start=start, actor=tutor, now=now), starts)

        assert Counter(outcome(r) for r in results) == {"ok": 1, "BookingError": 3}, results
        assert {r.code for r in results if isinstance(r, BookingError)} == {"reschedule_pending"}
        assert RescheduleRequest.objects.filter(booking=booking, status="pending").count() == 1


# --- an answer and a cancel of the same lesson at once ---------------------------------------------------

def _cancel_holding_the_session(monkeypatch, booking, student, now, held):
    """cancel_booking that keeps its session lock a while before it writes the booking row."""
    real = locks.lock_session_of_booking

    def slow(booking):
        row = real(booking)
        if threading.current_thread().name == "cancel":
            held.set()
            time.sleep(1.0)
        return row

    monkeypatch.setattr(locks, "lock_session_of_booking", slow)

    def cancel():
        threading.current_thread().name = "cancel"
        return services.cancel_booking(get_booking_model().objects.get(pk=booking.pk), actor=student, now=now)

    return cancel


def _lesson_with_a_proposal(tutor, student, now):
    booking = services.request_lesson(student, tutor, start=now + 3 * 24 * HOUR, duration=60, now=now)
    proposal = services.request_reschedule(booking, start=booking.start_at_utc + 4 * HOUR, actor=tutor, now=now)
    assert proposal.status == "pending"
    return booking, proposal


@pytest.mark.skipif(connection.vendor == "sqlite", reason="one writer at a time: SQLite cannot deadlock")
@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_an_answer_and_a_cancel_of_one_lesson_at_once_never_deadlock(tutor, student, now, monkeypatch, answer):
    booking, proposal = _lesson_with_a_proposal(tutor, student, now)
    held = threading.Event()
    cancel = _cancel_holding_the_session(monkeypatch, booking, student, now, held)

    def work(i):
        if i == 0:
            return cancel()
        held.wait(10)
        time.sleep(0.2)  # the cancel holds the session: the answer comes in behind it
        row = RescheduleRequest.objects.get(pk=proposal.pk)
        service = services.accept_reschedule if answer == "accept" else services.decline_reschedule
        return service(row, actor=student, now=now)

    cancelled, answered = run_at_once(work, [0, 1])
    assert outcome(cancelled) == "ok", cancelled
    # The answer waited for the cancel, then found the lesson cancelled (or, declining, simply answered).
    assert outcome(answered) in ({"ok"} if answer == "decline" else {"InvalidTransition"}), answered
    assert get_booking_model().objects.get(pk=booking.pk).status == "cancelled"
    assert_all()


@pytest.mark.skipif(connection.vendor == "sqlite", reason="one writer at a time: SQLite cannot deadlock")
def test_control_locking_the_booking_before_the_session_deadlocks(tutor, student, now, monkeypatch):
    booking, _ = _lesson_with_a_proposal(tutor, student, now)
    held = threading.Event()
    cancel = _cancel_holding_the_session(monkeypatch, booking, student, now, held)

    def work(i):
        if i == 0:
            return cancel()
        held.wait(10)
        with transaction.atomic():
            # The other order: the booking row, then its session.
            get_booking_model().objects.select_for_update().get(pk=booking.pk)
            get_session_model().objects.select_for_update().get(pk=booking.session_id)
        return None

    results = run_at_once(work, [0, 1])
    assert any(isinstance(r, OperationalError) and "deadlock" in str(r).lower() for r in results), results
