"""The waitlist's line: its stored entries, their moves, and the session they wait for."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError
from django.db.models import Max

from ... import signals
from ...adapter import get_adapter
from ...exceptions import AlreadyBooked, BookingError, InvalidTransition
from ...models import (
    BookingSource,
    BookingStatus,
    SessionStatus,
    SessionWaitlist,
    TeacherBookingPolicy,
    WaitlistStatus,
    get_booking_model,
)
from ...models.bookings import live_at
from ...policy import BookingRequest, evaluate
from . import db, dberrors, expiry, history, locks, places, seating, transitions
from .actors import is_system, require, require_actor
from .events import send_after_commit


def require_permission(actor: Any, entry: SessionWaitlist, action: str, message: str) -> None:
    """The adapter's ``can_act_on_waitlist_entry`` decides; ``SYSTEM`` may do anything."""
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_act_on_waitlist_entry(actor, entry, action), message)


def closed(session: Any, now: dt.datetime) -> bool:
    return session is None or session.status != SessionStatus.SCHEDULED or session.start_at_utc <= now


def locked_open_session(session_pk: Any, now: dt.datetime) -> Any:
    """Lock the session, refuse it if closed, and apply what is due there."""
    locked = locks.lock_session(session_pk)
    if closed(locked, now):
        raise BookingError(code="session_closed",
                           params={"session": session_pk})
    expiry.refresh_sessions([session_pk], now)
    return locked


def join_checked(student: Any, session: Any, now: dt.datetime) -> SessionWaitlist:
    """Join after the checks a seat would get: the session, the teacher's waitlist setting, the policy."""
    refusal = seating.precheck(student, session, now)
    if refusal is not None:
        raise refusal
    policy = TeacherBookingPolicy.for_teacher(session.teacher_id)
    if not policy.waitlist_enabled:
        raise BookingError(code="waitlist_disabled")
    # The line leads to a booking: whoever the policy would refuse a seat may not queue for one.
    request = BookingRequest(student=student, teacher_id=session.teacher_id, kind=session.kind,
                             start=session.start_at_utc, end=session.end_at_utc, now=now, policy=policy,
                             session=session)
    evaluate(request).raise_if_refused()
    return join(student, session, now)


def join(student: Any, session: Any, now: dt.datetime) -> SessionWaitlist:
    """Put ``student`` at the end of the line (policy already checked), inside the caller's transaction."""
    using = db.alias()
    locked = locked_open_session(session.pk, now)
    if get_booking_model().objects.using(using).filter(live_at(now), session_id=session.pk,
                                                       student=student).exists():
        raise AlreadyBooked(params={"session": session.pk})
    line = SessionWaitlist.objects.using(using).filter(session_id=session.pk)
    if line.open().filter(student=student).exists():
        raise BookingError(code="already_waitlisted")
    locked.refresh_from_db(using=using, fields=["seats_taken"])
    if locked.seats_taken < locked.capacity and not line.waiting().exists():
        raise BookingError(code="seats_available",
                           params={"session": session.pk})
    last = line.aggregate(last=Max("position"))["last"] or 0
    entry = SessionWaitlist(session_id=session.pk, student=student, position=last + 1)
    transitions.begin(entry, WaitlistStatus.WAITING, now)
    try:
        with db.atomic():
            entry.save(force_insert=True, using=using)
    except IntegrityError as exc:
        if dberrors.is_open_entry_conflict(exc):
            raise BookingError(code="already_waitlisted") from exc
        raise
    send_after_commit(signals.waitlist_joined, SessionWaitlist, entry=entry)
    return entry


def stored(entry: SessionWaitlist) -> SessionWaitlist:
    row = SessionWaitlist.objects.using(db.alias()).filter(pk=entry.pk).first()
    if row is None:
        raise BookingError(code="not_found")
    return row


def refuse(row: SessionWaitlist, target: str) -> InvalidTransition:
    return transitions.refuse(row.status, target, what="waitlist entry")


def move(entry: SessionWaitlist, row: SessionWaitlist, target: str, now: dt.datetime, **fields: Any) -> None:
    if not transitions.move(entry, target, now, queryset=SessionWaitlist.objects.using(db.alias()), **fields):
        raise refuse(row, target)


def live_offer(entry: SessionWaitlist, now: dt.datetime, target: str) -> SessionWaitlist:
    """The stored entry, which must hold an offer that has not expired."""
    row = stored(entry)
    if row.status != WaitlistStatus.OFFERED:
        raise refuse(row, target)
    if row.offer_expires_at is not None and row.offer_expires_at <= now:
        raise BookingError(code="offer_expired",
                           params={"expired_at": row.offer_expires_at.isoformat()})
    return row


def take_offered_seat(entry: SessionWaitlist, row: SessionWaitlist, session: Any, now: dt.datetime) -> Any:
    """The offer's seat becomes a confirmed booking (the counter already holds it)."""
    Booking = get_booking_model()
    booking = Booking(
        session=session, student_id=row.student_id, teacher_id=session.teacher_id, kind=session.kind,
        start_at_utc=session.start_at_utc, end_at_utc=session.end_at_utc, decided_at=now,
        source=BookingSource.WAITLIST,
    )
    transitions.begin(booking, BookingStatus.CONFIRMED, now)
    try:
        with db.atomic():
            history.insert_new(booking, now, history.by(row.student_id, waitlist_entry=row.pk))
    except IntegrityError as exc:
        if dberrors.is_active_booking_conflict(exc):
            raise AlreadyBooked(params={"session": session.pk}) from exc
        raise
    places.taken([booking])
    move(entry, row, WaitlistStatus.ACCEPTED, now, booking=booking)
    send_after_commit(signals.waitlist_offer_accepted, SessionWaitlist, entry=entry, booking=booking)
    send_after_commit(signals.booking_confirmed, Booking, booking=booking)
    return booking


def first_in_line(session_pk: Any) -> Any:
    return (SessionWaitlist.objects.using(db.alias()).waiting().filter(session_id=session_pk).in_line_order()
            .values_list("pk", flat=True).first())
