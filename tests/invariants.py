"""Assertions of DESIGN invariants over the whole database, shared by the tests."""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Q

from django_liveclass_booking.models import (
    ACTIVE_BOOKING_STATUSES,
    OPEN_WAITLIST_STATUSES,
    SEAT_HOLDING_STATUSES,
    SessionWaitlist,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)


def assert_seat_counters() -> None:
    """Invariant 1: seats_taken == seat-holding bookings + open offers, and never above capacity.

    A booking with an outcome (completed, no-show...) keeps the seat it had: the session has started.
    """
    Session = get_session_model()
    offers = Counter(
        SessionWaitlist.objects.filter(status=WaitlistStatus.OFFERED).values_list("session_id", flat=True)
    )
    rows = Session.objects.annotate(active=Count("bookings", filter=Q(bookings__status__in=SEAT_HOLDING_STATUSES)))
    for session in rows:
        expected = session.active + offers.get(session.pk, 0) if session.status == "scheduled" else 0
        assert session.seats_taken == expected, (session.pk, session.seats_taken, expected)
        assert session.seats_taken <= session.capacity, (session.pk, session.seats_taken, session.capacity)


def assert_one_active_booking_per_student() -> None:
    """Invariant 3: at most one active booking per (session, student); one open waitlist entry."""
    Booking = get_booking_model()
    dupes = (
        Booking.objects.filter(status__in=ACTIVE_BOOKING_STATUSES)
        .values("session_id", "student_id").annotate(n=Count("pk")).filter(n__gt=1)
    )
    assert not list(dupes)
    open_dupes = (
        SessionWaitlist.objects.filter(status__in=OPEN_WAITLIST_STATUSES)
        .values("session_id", "student_id").annotate(n=Count("pk")).filter(n__gt=1)
    )
    assert not list(open_dupes)


def assert_all() -> None:
    assert_seat_counters()
    assert_one_active_booking_per_student()
