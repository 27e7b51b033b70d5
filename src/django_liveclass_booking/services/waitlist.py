"""The session waitlist: first come, first served, with expiring seat offers.

Every function locks the session row first (the lock every change to its seats takes) and applies
what is due there before deciding, so an expired offer or request never holds a seat.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from .. import signals
from ..adapter import get_adapter
from ..exceptions import AlreadyBooked, BookingError, InvalidTransition, SessionFull
from ..models import (
    BookingSource,
    BookingStatus,
    SessionStatus,
    SessionWaitlist,
    TeacherBookingPolicy,
    WaitlistStatus,
    get_booking_model,
)
from ..models.bookings import live_at
from ..policy import BookingRequest, evaluate
from . import expiry, seats
from ._common import is_system, require, require_actor, resolve_now, send_after_commit


def _closed(session: Any, now: dt.datetime) -> bool:
    return session is None or session.status != SessionStatus.SCHEDULED or session.start_at_utc <= now


def _locked_open_session(session_pk: Any, now: dt.datetime) -> Any:
    locked = seats.lock_session(session_pk)
    if _closed(locked, now):
        raise BookingError("This session is cancelled or has already started.", code="session_closed",
                           params={"session": session_pk})
    expiry.refresh_sessions([session_pk], now)
    return locked


def join_waitlist(student: Any, session: Any, *, now: dt.datetime | None = None) -> SessionWaitlist:
    """Join the line for a seat in a full group session (status ``waiting``).

    Raises ``BookingError`` with ``waitlist_disabled``, ``seats_available`` (a seat is free and
    nobody waits: book it instead), ``already_waitlisted``, ``session_closed``,
    ``not_a_group_session``, ``own_session``; ``AlreadyBooked``.
    """
    from .booking import _seat_precheck

    current = resolve_now(now)
    require(student is not None and getattr(student, "is_authenticated", False), "Only a signed-in student may join.")
    refusal = _seat_precheck(student, session, current)
    if refusal is not None:
        raise refusal
    policy = TeacherBookingPolicy.for_teacher(session.teacher_id)
    if not policy.waitlist_enabled:
        raise BookingError("This teacher does not keep waitlists.", code="waitlist_disabled")
    # The line leads to a booking: whoever the policy would refuse a seat may not queue for one.
    request = BookingRequest(student=student, teacher_id=session.teacher_id, kind=session.kind,
                             start=session.start_at_utc, end=session.end_at_utc, now=current, policy=policy,
                             session=session)
    evaluate(request).raise_if_refused()
    try:
        with transaction.atomic():
            locked = _locked_open_session(session.pk, current)
            if get_booking_model().objects.filter(live_at(current), session_id=session.pk, student=student).exists():
                raise AlreadyBooked(params={"session": session.pk})
            line = SessionWaitlist.objects.filter(session_id=session.pk)
            if line.open().filter(student=student).exists():
                raise BookingError("You are already on this session's waitlist.", code="already_waitlisted")
            locked.refresh_from_db(fields=["seats_taken"])
            if locked.seats_taken < locked.capacity and not line.waiting().exists():
                raise BookingError("A seat is free: book it instead of joining the waitlist.", code="seats_available",
                                   params={"session": session.pk})
            last = line.aggregate(last=Max("position"))["last"] or 0
            entry = SessionWaitlist.objects.create(session_id=session.pk, student=student, position=last + 1,
                                                   status=WaitlistStatus.WAITING, status_changed=current)
            send_after_commit(signals.waitlist_joined, SessionWaitlist, entry=entry)
    except IntegrityError as exc:
        if "one_open_per_student" in str(exc) or "open_key" in str(exc):
            raise BookingError("You are already on this session's waitlist.", code="already_waitlisted") from exc
        raise
    return entry


def _entry_row(entry: SessionWaitlist) -> SessionWaitlist:
    row = SessionWaitlist.objects.filter(pk=entry.pk).first()
    if row is None:
        raise BookingError("This waitlist entry no longer exists.", code="not_found")
    return row


def _refuse(row: SessionWaitlist, target: str) -> InvalidTransition:
    return InvalidTransition(f"A {row.status} waitlist entry cannot become {target}.",
                             params={"from": row.status, "to": target})


def _may_act_for(actor: Any, entry: SessionWaitlist, *, teacher_too: bool = False) -> bool:
    if is_system(actor) or actor.pk == entry.student_id:
        return True
    if teacher_too and actor.pk == entry.session.teacher_id:
        return True
    return get_adapter().is_staff_manager(actor)


def _move(entry: SessionWaitlist, row: SessionWaitlist, sources: tuple[str, ...], target: str,
          now: dt.datetime, **fields: Any) -> None:
    moved = SessionWaitlist.objects.filter(pk=entry.pk, status__in=sources).update(
        status=target, status_changed=now, **fields)
    if not moved:
        raise _refuse(row, target)
    entry.status, entry.status_changed = target, now
    for name, value in fields.items():
        setattr(entry, name, value)


def _live_offer(entry: SessionWaitlist, now: dt.datetime, target: str) -> SessionWaitlist:
    """The stored entry, which must hold an offer that has not expired."""
    row = _entry_row(entry)
    if row.status != WaitlistStatus.OFFERED:
        raise _refuse(row, target)
    if row.offer_expires_at is not None and row.offer_expires_at <= now:
        raise BookingError(f"This offer expired at {row.offer_expires_at:%Y-%m-%d %H:%M} UTC.", code="offer_expired",
                           params={"expired_at": row.offer_expires_at.isoformat()})
    return row


def accept_offer(entry: SessionWaitlist, *, actor: Any, now: dt.datetime | None = None) -> Any:
    """Take the offered seat: the entry becomes ``accepted``, a ``confirmed`` booking (source ``waitlist``).

    Only the waiting student (or a manager, or SYSTEM). An expired offer raises ``BookingError``
    ``offer_expired`` and writes nothing; the seat passes on when the session is next touched.
    """
    require_actor(actor)
    require(_may_act_for(actor, entry), "Only the student it was offered to may accept this seat.")
    current = resolve_now(now)
    Booking = get_booking_model()
    with transaction.atomic():
        session = seats.lock_session(entry.session_id)
        row = _live_offer(entry, current, WaitlistStatus.ACCEPTED)
        if _closed(session, current):
            raise BookingError("This session has already started.", code="session_closed")
        try:
            with transaction.atomic():
                # The offer already holds this seat in seats_taken: the booking takes it over.
                booking = Booking.objects.create(
                    session=session, student_id=row.student_id, teacher_id=session.teacher_id, kind=session.kind,
                    start_at_utc=session.start_at_utc, end_at_utc=session.end_at_utc,
                    status=BookingStatus.CONFIRMED, status_changed=current, decided_at=current,
                    source=BookingSource.WAITLIST,
                )
        except IntegrityError as exc:
            from .booking import _is_active_booking_conflict

            if _is_active_booking_conflict(exc):
                raise AlreadyBooked(params={"session": session.pk}) from exc
            raise
        _move(entry, row, (WaitlistStatus.OFFERED,), WaitlistStatus.ACCEPTED, current, booking=booking)
        send_after_commit(signals.waitlist_offer_accepted, SessionWaitlist, entry=entry, booking=booking)
        send_after_commit(signals.booking_confirmed, Booking, booking=booking)
    return booking


def decline_offer(entry: SessionWaitlist, *, actor: Any, now: dt.datetime | None = None) -> SessionWaitlist:
    """Turn the offered seat down (``declined``); it goes to the next in line, else back to the pool."""
    require_actor(actor)
    require(_may_act_for(actor, entry), "Only the student it was offered to may decline this seat.")
    current = resolve_now(now)
    with transaction.atomic():
        seats.lock_session(entry.session_id)
        row = _live_offer(entry, current, WaitlistStatus.DECLINED)
        _move(entry, row, (WaitlistStatus.OFFERED,), WaitlistStatus.DECLINED, current)
        seats.free_seats({entry.session_id: 1}, current)
    return entry


def leave_waitlist(entry: SessionWaitlist, *, actor: Any, now: dt.datetime | None = None) -> SessionWaitlist:
    """Leave the line (``left``). Leaving while holding an offer passes the seat on."""
    require_actor(actor)
    require(_may_act_for(actor, entry, teacher_too=True), "Only the student, the teacher or a manager may do that.")
    current = resolve_now(now)
    with transaction.atomic():
        seats.lock_session(entry.session_id)
        expiry.refresh_sessions([entry.session_id], current)
        row = _entry_row(entry)
        _move(entry, row, (WaitlistStatus.WAITING, WaitlistStatus.OFFERED), WaitlistStatus.LEFT, current)
        if row.status == WaitlistStatus.OFFERED:
            seats.free_seats({entry.session_id: 1}, current)
    return entry


def offer_seat(entry: SessionWaitlist, *, now: dt.datetime | None = None) -> SessionWaitlist:
    """Offer a free seat to this entry now, if it is first in line (for staff tools and jobs).

    Raises ``InvalidTransition`` unless it is ``waiting``, ``BookingError`` ``not_first_in_line``
    when someone joined before it and still waits, ``SessionFull`` when no seat is free.
    """
    current = resolve_now(now)
    with transaction.atomic():
        _locked_open_session(entry.session_id, current)
        row = _entry_row(entry)
        if row.status != WaitlistStatus.WAITING:
            raise _refuse(row, WaitlistStatus.OFFERED)
        first = (SessionWaitlist.objects.waiting().filter(session_id=entry.session_id).in_line_order()
                 .values_list("pk", flat=True).first())
        if first != entry.pk:
            raise BookingError("Someone who joined earlier is still waiting.", code="not_first_in_line")
        if not seats.claim_seat(entry.session_id, current, for_waitlist=True):
            raise SessionFull(params={"session": entry.session_id})
        offered = seats.free_seats({entry.session_id: 1}, current)
        entry.refresh_from_db()
        assert offered and offered[0].pk == entry.pk
    return entry


def expire_offer(entry: SessionWaitlist, *, now: dt.datetime | None = None) -> SessionWaitlist:
    """Expire this entry's offer if it is past due, passing the seat on (``BookingError`` ``offer_not_due`` if not)."""
    current = resolve_now(now)
    with transaction.atomic():
        seats.lock_session(entry.session_id)
        row = _entry_row(entry)
        if row.status != WaitlistStatus.OFFERED:
            raise _refuse(row, WaitlistStatus.EXPIRED)
        if row.offer_expires_at is None or row.offer_expires_at > current:
            raise BookingError("This offer has not expired yet.", code="offer_not_due")
        expiry.expire_offers([row], current)
        entry.refresh_from_db()
    return entry
