"""Eight students move their seats at once into a class with one free seat: exactly one gets it.

As in tests/test_races.py, the race comes with a control: a naive count-then-move, run by the same
threads, demonstrably lets more than one student through, so the library's passing run means something.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import transaction
from django.db.models import F

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import SessionFull
from django_liveclass_booking.models import ACTIVE_BOOKING_STATUSES, get_booking_model, get_session_model

from .invariants import assert_all
from .threads import run_at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

ROUNDS = 3
MOVERS = 8


def setup(make_session, make_user, now):
    """A class with one free seat between two classes of four students each (sessions on both sides by pk)."""
    before = make_session(capacity=MOVERS // 2)
    target = make_session(capacity=3)
    after = make_session(capacity=MOVERS // 2)
    for _ in range(2):
        services.book_seat(make_user(), target, now=now)
    movers = [services.book_seat(make_user(), source, now=now) for source in (before, after)
              for _ in range(MOVERS // 2)]
    return target, movers


def in_target(target):
    return get_booking_model().objects.filter(session_id=target.pk, status__in=ACTIVE_BOOKING_STATUSES).count()


def naive_move(booking, target, now, barrier):
    """Count the target's bookings, then move the booking and set the counters from what was read."""
    Session, Booking = get_session_model(), get_booking_model()
    taken = Booking.objects.filter(session_id=target.pk, status__in=ACTIVE_BOOKING_STATUSES).count()
    barrier.wait(timeout=30)
    if taken >= target.capacity:
        return "full"
    with transaction.atomic():
        Session.objects.filter(pk=target.pk).update(seats_taken=taken + 1)
        Booking.objects.filter(pk=booking.pk).update(session_id=target.pk, start_at_utc=target.start_at_utc,
                                                     end_at_utc=target.end_at_utc)
        Session.objects.filter(pk=booking.session_id).update(seats_taken=F("seats_taken") - 1)
    return "moved"


def test_control_naive_count_then_move_lets_several_students_into_one_seat(make_session, make_user, now):
    target, movers = setup(make_session, make_user, now)
    barrier = threading.Barrier(len(movers))

    results = run_at_once(lambda booking: naive_move(booking, target, now, barrier), movers)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert results.count("moved") > 1
    assert in_target(target) > target.capacity


def test_library_moves_exactly_one_student_into_the_last_seat(make_session, make_user, now):
    for _ in range(ROUNDS):
        target, movers = setup(make_session, make_user, now)

        results = run_at_once(
            lambda booking, t=target: services.move_seat(booking, t, actor=services.SYSTEM, now=now), movers)

        assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, SessionFull)], results
        assert Counter("ok" if not isinstance(r, Exception) else r.code for r in results) == {
            "ok": 1, "session_full": MOVERS - 1}
        assert in_target(target) == target.capacity
        assert_all()
