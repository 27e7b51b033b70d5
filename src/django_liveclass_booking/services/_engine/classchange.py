"""A whole class changed by its teacher: moved to a new time, or its title, seats or meeting details."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError
from django.db.models import Q

from ... import signals
from ...exceptions import BookingError
from ...models import (
    ACTIVE_BOOKING_STATUSES,
    BookingEventKind,
    BookingSeriesItem,
    BookingStatus,
    SeriesItemStatus,
    SessionKind,
    SessionStatus,
    SessionWaitlist,
    TeacherBookingPolicy,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from . import calendar, db, dberrors, events, expiry, history, locks, moving, outbox, seating, seats
from .events import send_after_commit

#: The text fields ``update_session`` changes, each limited to its column's length.
TEXT_FIELDS = ("title", "meeting_provider", "meeting_url", "meeting_passcode")


def column_length(name: str) -> int:
    length = getattr(get_session_model()._meta.get_field(name), "max_length", None)
    return int(length) if length else 2000


def reschedule(session: Any, start: dt.datetime, end: dt.datetime, length: int, now: dt.datetime,
               actor_id: Any) -> None:
    """Move a group session and its active bookings to [start, end); signals after commit."""
    Booking, Session = get_booking_model(), get_session_model()
    using = db.alias()
    try:
        with db.atomic():
            locks.lock_teacher(session.teacher_id)
            # 1:1 requests past their expiry no longer hold the time: expired first (their sessions
            # locked by ascending pk), as for a new session. Then this session's own row.
            calendar.expire_due_lessons_near(session.teacher_id, start, end, now)
            locked = locks.lock_session(session.pk)
            if locked is None or locked.status != SessionStatus.SCHEDULED or locked.start_at_utc <= now:
                raise seating.session_closed(locked or session)
            calendar.ensure_teacher_free(session.teacher_id, start, end, excluding=locked.pk)
            # Requests and offers past their expiry go first: they do not move with the class.
            expiry.refresh_sessions([locked.pk], now)
            previous_start, previous_end = locked.start_at_utc, locked.end_at_utc
            Session.objects.using(using).filter(pk=locked.pk).update(
                start_at_utc=start, end_at_utc=end, duration_minutes=length, modified=now)
            bookings = _move_bookings(locked, start, end, now, actor_id)
            _move_items(locked, bookings, previous_start, start, end)
            # An offer never outlives the start: one made for the old time is cut to the new one.
            SessionWaitlist.objects.using(using).filter(
                session_id=locked.pk, status=WaitlistStatus.OFFERED, offer_expires_at__gt=start,
            ).update(offer_expires_at=start)
            session.start_at_utc, session.end_at_utc, session.duration_minutes = start, end, length
            session.modified = now
            for booking in bookings:
                booking.session = session
                send_after_commit(signals.booking_rescheduled, Booking, booking=booking,
                                  previous_start=previous_start, previous_end=previous_end)
            send_after_commit(signals.session_rescheduled, type(session), session=session,
                              previous_start=previous_start, previous_end=previous_end)
    except IntegrityError as exc:
        # PostgreSQL's exclusion constraint: only a write that bypassed the teacher lock gets here.
        dberrors.raise_if_overlap(exc)
        raise


def _move_items(locked: Any, bookings: list[Any], previous_start: dt.datetime, start: dt.datetime,
                end: dt.datetime) -> None:
    """Subscriptions' occurrences of the class follow it: those booked, and those waiting in its line
    (found by their recurrence key and the class's old start, as cancelling a subscription finds them)."""
    moved = Q(booking_id__in=[b.pk for b in bookings]) if bookings else Q(pk__in=[])
    if locked.recurrence_key:
        moved |= Q(series__recurrence_key=locked.recurrence_key, status=SeriesItemStatus.WAITLISTED,
                   start_at_utc=previous_start)
    elif not bookings:
        return
    BookingSeriesItem.objects.using(db.alias()).filter(moved).update(start_at_utc=start, end_at_utc=end)


def _move_bookings(locked: Any, start: dt.datetime, end: dt.datetime, now: dt.datetime, actor_id: Any) -> list[Any]:
    """The session's pending and confirmed bookings at the new time, each with a ``rescheduled`` event."""
    Booking = get_booking_model()
    using = db.alias()
    bookings = list(Booking.objects.using(using).filter(session_id=locked.pk, status__in=ACTIVE_BOOKING_STATUSES))
    if not bookings:
        return []
    pks = [b.pk for b in bookings]
    Booking.objects.using(using).filter(pk__in=pks).update(start_at_utc=start, end_at_utc=end, modified=now)
    requests = [b for b in bookings if b.status == BookingStatus.PENDING and b.expires_at is not None]
    ttl = TeacherBookingPolicy.for_teacher(locked.teacher_id).request_ttl_hours if requests else None
    changed = []
    for booking in requests:
        expires: Any = booking.expires_at
        new = moving.moved_expiry(expires, booking.status_changed, locked.start_at_utc, start, ttl)
        if new != expires:
            booking.expires_at = new
            changed.append(booking)
    for booking in bookings:
        booking.start_at_utc, booking.end_at_utc, booking.modified = start, end, now
    if changed:
        Booking.objects.using(using).bulk_update(changed, ["expires_at"])
    history.record(pks, BookingEventKind.RESCHEDULED, now, history.by(
        actor_id, previous_start=locked.start_at_utc, previous_end=locked.end_at_utc, start=start, end=end))
    return bookings


def update(session: Any, changes: Mapping[str, Any], capacity: int | None, now: dt.datetime) -> None:
    """Write the changed fields of a session; seats a larger capacity adds go to its waitlist at once."""
    with db.atomic():
        locked = locks.lock_session(session.pk)
        if locked is None or locked.status != SessionStatus.SCHEDULED:
            raise seating.session_closed(locked or session)
        fields: dict[str, Any] = {**changes, "modified": now}
        offers: list[SessionWaitlist] = []
        if capacity is not None:
            if locked.kind != SessionKind.GROUP:
                raise BookingError(code="not_a_group_session", params={"session": locked.pk})
            # Judged against the stored count under the lock: no claim or release can run meanwhile.
            if capacity < locked.seats_taken:
                raise BookingError(code="capacity_below_taken",
                                   params={"taken": locked.seats_taken, "capacity": capacity})
            offers = seats.waiting_for_added(locked, capacity, now)
            fields.update(seats.resized(locked, capacity, offers, session))
        get_session_model().objects.using(db.alias()).filter(pk=locked.pk).update(**fields)
        # What its people see of it (not its capacity): they hear of a new title or way to join.
        outbox.plan("session_details_changed", {"session": session, "changed": sorted(
            name for name, value in changes.items() if getattr(locked, name) != value)})
        for name, value in changes.items():
            setattr(session, name, value)
        session.modified = now
        send_after_commit(signals.session_updated, type(session), session=session)
        # The offers last: their signals follow the session's.
        seats.offer(offers, now)


def with_values(session: Any, changes: Mapping[str, Any]) -> Any:
    """A copy of ``session`` holding ``changes``, to validate them as a new session's fields are."""
    copy = events.snapshot(session)
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy
