"""Pending requests expire at ``expires_at``: lazily when something touches them, and in the sweep.

The caller holds the locks of the sessions involved (teacher row first, then sessions by ascending
pk). Every booking transition locks its session first, so under those locks the set of due
requests read here is exactly the set the UPDATE changes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Case, F, IntegerField, Value, When

from .. import signals
from ..models import BookingStatus, SessionKind, SessionStatus, get_booking_model, get_session_model
from ._common import send_after_commit


def request_expiry(ttl_hours: int | None, now: dt.datetime, start: dt.datetime) -> dt.datetime:
    """A pending request lives ``ttl_hours`` (no limit when None), and never past the session start."""
    return start if ttl_hours is None else min(start, now + dt.timedelta(hours=ttl_hours))


def expire_requests(due: list[Any], now: dt.datetime) -> int:
    """Expire these due pending bookings: give group seats back, cancel 1:1 lessons, signal each."""
    if not due:
        return 0
    Booking, Session = get_booking_model(), get_session_model()
    Booking.objects.filter(pk__in=[b.pk for b in due], status=BookingStatus.PENDING).update(
        status=BookingStatus.EXPIRED, status_changed=now
    )
    seats = Counter(b.session_id for b in due if b.kind == SessionKind.GROUP)
    if seats:
        # One statement for every session: seats_taken - (this session's expired count).
        Session.objects.filter(pk__in=seats).update(seats_taken=F("seats_taken") - Case(
            *(When(pk=pk, then=Value(n)) for pk, n in seats.items()), default=Value(0), output_field=IntegerField(),
        ))
    lessons = [b.session_id for b in due if b.kind == SessionKind.ONE_ON_ONE]
    if lessons:
        Session.objects.filter(pk__in=lessons, status=SessionStatus.SCHEDULED).update(
            status=SessionStatus.CANCELLED, status_changed=now, seats_taken=0
        )
    for booking in due:
        booking.status, booking.status_changed = BookingStatus.EXPIRED, now
        send_after_commit(signals.booking_expired, type(booking), booking=booking)
        if booking.kind == SessionKind.ONE_ON_ONE:
            session = booking.session
            session.status, session.status_changed, session.seats_taken = SessionStatus.CANCELLED, now, 0
            send_after_commit(signals.session_cancelled, type(session), session=session)
    return len(due)


def expire_due_in_sessions(session_pks: list[Any], now: dt.datetime) -> int:
    """Expire the due requests of sessions whose rows the caller has locked."""
    due = list(get_booking_model().objects.due_to_expire(now).filter(session_id__in=session_pks).select_related("session"))
    return expire_requests(due, now)
