"""What every booking goes through after it is made: decided, cancelled, its place freed."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from ... import signals
from ...exceptions import BookingError, PolicyViolation
from ...models import (
    ACTIVE_BOOKING_STATUSES,
    BookingSeriesItem,
    BookingStatus,
    SeriesItemStatus,
    SessionKind,
    SessionStatus,
    TeacherBookingPolicy,
    get_booking_model,
    get_session_model,
)
from ...policy import Violation
from . import db, places, seats, transitions
from .events import send_after_commit


def move_booking(booking: Any, target: str, now: dt.datetime, **fields: Any) -> None:
    """Conditionally move ``booking`` to ``target``; refuse if its stored status does not allow it."""
    Booking = type(booking)
    # A pending request past its expiry is expired already, even before the sweep marks it.
    if transitions.move(booking, target, now, live_at=now, **fields):
        return
    stored, expires_at = Booking.objects.using(db.alias()).filter(pk=booking.pk).values_list(
        "status", "expires_at").first() or (booking.status, None)
    if stored == BookingStatus.PENDING and expires_at is not None and expires_at <= now:
        raise transitions.refuse(BookingStatus.EXPIRED, target,
                                 f"This request expired at {expires_at:%Y-%m-%d %H:%M} UTC.")
    raise transitions.refuse(stored, target)


def free_place(booking: Any, now: dt.datetime, locked_session: Any) -> Any:
    """After a booking left the active states: give its seat back, or free the 1:1 lesson's slot.

    Returns the 1:1 session it cancelled, if any, so the caller signals it after the booking.
    """
    if booking.kind == SessionKind.GROUP:
        shown = seats.cached_session(booking)
        seats.free_one(locked_session, now, shown if shown is not locked_session else None)
        return None
    Session = get_session_model()
    cancelled = transitions.move_rows(Session.objects.using(db.alias()).filter(pk=booking.session_id),
                                      SessionStatus.CANCELLED, now, **seats.emptied())
    if not cancelled:
        return None
    transitions.apply(locked_session, SessionStatus.CANCELLED, now, **seats.emptied())
    return locked_session


def release_reason(booking: Any) -> str:
    """Why a booking that just left the active states gave its place back (``on_place_released``)."""
    if booking.status == BookingStatus.CANCELLED:
        return places.LATE_CANCELLED if booking.late_cancellation else places.CANCELLED
    return {BookingStatus.DECLINED: places.DECLINED, BookingStatus.EXPIRED: places.EXPIRED}[booking.status]


def leave_active(signal: Any, booking: Any, now: dt.datetime, locked_session: Any) -> None:
    """Signal the booking's own transition, then free its place (whose offers signal after it)."""
    places.released([booking], release_reason(booking))
    send_after_commit(signal, type(booking), booking=booking)
    freed_session = free_place(booking, now, locked_session)
    if freed_session is not None:
        send_after_commit(signals.session_cancelled, type(freed_session), session=freed_session)


def student_cutoff(booking: Any, now: dt.datetime) -> tuple[bool, BookingError | None]:
    """Whether a student's cancellation is late, and the refusal when the policy does not allow it."""
    if now >= booking.start_at_utc:
        return False, BookingError(code="session_closed",
                                   params={"session": booking.session_id})
    policy = TeacherBookingPolicy.for_teacher(booking.teacher_id)
    cutoff = booking.start_at_utc - dt.timedelta(hours=policy.cancellation_cutoff_hours)
    if now <= cutoff:
        return False, None
    if policy.allow_late_cancellation:
        return True, None
    return False, PolicyViolation([Violation(
        "cancellation_window",
        f"Bookings can only be cancelled up to {policy.cancellation_cutoff_hours} hours before the start.",
        {"cutoff_hours": policy.cancellation_cutoff_hours, "cutoff": cutoff.isoformat()},
    )])


def end_bookings(bookings: list[Any], status: str, signal: Any, now: dt.datetime, *, close_items: bool = True,
                 **fields: Any) -> list[Any]:
    """Move bookings (sessions locked) to a final status, free their seats or slots, signal each.

    A 1:1 lesson's session is cancelled with its booking. ``close_items``: their series items are
    cancelled too (an expiry leaves them as they are). Returns the waitlist entries offered a seat.
    """
    Booking, Session = get_booking_model(), get_session_model()
    using = db.alias()
    transitions.move_rows(Booking.objects.using(using).filter(pk__in=[b.pk for b in bookings]), status, now,
                          **fields)
    if close_items:
        transitions.move_rows(BookingSeriesItem.objects.using(using).filter(
            booking_id__in=[b.pk for b in bookings]), SeriesItemStatus.CANCELLED, now)
    lessons = [b.session_id for b in bookings if b.kind == SessionKind.ONE_ON_ONE]
    if lessons:
        transitions.move_rows(Session.objects.using(using).filter(pk__in=lessons), SessionStatus.CANCELLED, now,
                              **seats.emptied())
    for booking in bookings:
        transitions.apply(booking, status, now, **fields)
    places.released(bookings, release_reason(bookings[0]) if bookings else places.CANCELLED)
    for booking in bookings:
        send_after_commit(signal, Booking, booking=booking)
        if booking.kind == SessionKind.ONE_ON_ONE:
            # As for one booking: a 1:1 lesson's session goes with it, and says so after it.
            session = booking.session
            transitions.apply(session, SessionStatus.CANCELLED, now, **seats.emptied())
            send_after_commit(signals.session_cancelled, type(session), session=session)
    return seats.free_seats(Counter(b.session_id for b in bookings if b.kind == SessionKind.GROUP), now)


def cancel_in_session(bookings: Iterable[Any], now: dt.datetime, **fields: Any) -> list[Any]:
    """Cancel these active bookings of one session being cancelled (its seats go with it)."""
    bookings = list(bookings)
    if bookings:
        transitions.move_rows(
            get_booking_model().objects.using(db.alias()).filter(pk__in=[b.pk for b in bookings],
                                                                 status__in=ACTIVE_BOOKING_STATUSES),
            BookingStatus.CANCELLED, now, **fields)
        for booking in bookings:
            transitions.apply(booking, BookingStatus.CANCELLED, now, **fields)
        places.released(bookings, places.SESSION_CANCELLED)
    return bookings
