"""The session waitlist: first come, first served, with expiring seat offers.

Every function locks the session row first (the lock every change to its seats takes) and applies
what is due there before deciding, so an expired offer or request never holds a seat.
"""

from __future__ import annotations

import datetime as dt

from ..exceptions import BookingError, SessionFull
from ..models import (
    AbstractLiveClassBooking,
    AbstractLiveClassSession,
    SessionWaitlist,
    WaitlistStatus,
)
from ._engine import db, expiry, inputs, line, locks, seats
from ._engine.actors import require_user
from ._engine.guard import keeps_arguments_on_refusal
from ._engine.types import Actor, User

__all__ = ["join_waitlist", "accept_offer", "decline_offer", "leave_waitlist", "offer_seat", "expire_offer"]


@keeps_arguments_on_refusal
def join_waitlist(student: User, session: AbstractLiveClassSession, *,
                  now: dt.datetime | None = None) -> SessionWaitlist:
    """Join the line for a seat in a full group session (status ``waiting``).

    Raises ``BookingError`` with ``waitlist_disabled``, ``seats_available`` (a seat is free and
    nobody waits: book it instead), ``already_waitlisted``, ``session_closed``,
    ``not_a_group_session``, ``own_session``; ``AlreadyBooked``.
    """
    require_user(student, "student")
    inputs.session(session)
    current = inputs.resolve_now(now)
    with db.atomic():
        return line.join_checked(student, session, current)


@keeps_arguments_on_refusal
def accept_offer(entry: SessionWaitlist, *, actor: Actor, now: dt.datetime | None = None) -> AbstractLiveClassBooking:
    """Take the offered seat: the entry becomes ``accepted``, a ``confirmed`` booking (source ``waitlist``).

    Whoever the adapter's ``can_act_on_waitlist_entry`` allows (the waiting student, a manager) or
    SYSTEM. An expired offer raises ``BookingError`` ``offer_expired`` and writes nothing; the seat
    passes on when the session is next touched.
    """
    inputs.entry(entry)
    line.require_permission(actor, entry, "accept", "Only the student it was offered to may accept this seat.")
    current = inputs.resolve_now(now)
    with db.atomic():
        session = locks.lock_session(entry.session_id)
        row = line.live_offer(entry, current, WaitlistStatus.ACCEPTED)
        if line.closed(session, current):
            raise BookingError(code="session_closed")
        return line.take_offered_seat(entry, row, session, current)


@keeps_arguments_on_refusal
def decline_offer(entry: SessionWaitlist, *, actor: Actor, now: dt.datetime | None = None) -> SessionWaitlist:
    """Turn the offered seat down (``declined``); it goes to the next in line, else back to the pool."""
    inputs.entry(entry)
    line.require_permission(actor, entry, "decline", "Only the student it was offered to may decline this seat.")
    current = inputs.resolve_now(now)
    with db.atomic():
        session = locks.lock_session(entry.session_id)
        row = line.live_offer(entry, current, WaitlistStatus.DECLINED)
        line.move(entry, row, WaitlistStatus.DECLINED, current)
        seats.free_one(session, current, seats.cached_session(entry))
    return entry


@keeps_arguments_on_refusal
def leave_waitlist(entry: SessionWaitlist, *, actor: Actor, now: dt.datetime | None = None) -> SessionWaitlist:
    """Leave the line (``left``). Leaving while holding an offer passes the seat on."""
    inputs.entry(entry)
    line.require_permission(actor, entry, "leave", "Only the student, the teacher or a manager may do that.")
    current = inputs.resolve_now(now)
    with db.atomic():
        locks.lock_session(entry.session_id)
        expiry.refresh_sessions([entry.session_id], current)
        row = line.stored(entry)
        line.move(entry, row, WaitlistStatus.LEFT, current)
        if row.status == WaitlistStatus.OFFERED:
            seats.free_seats({entry.session_id: 1}, current)
        # What fell due above, and the seat passed on, may have moved the count the caller sees.
        shown = seats.cached_session(entry)
        if shown is not None:
            seats.show_taken(shown)
    return entry


@keeps_arguments_on_refusal
def offer_seat(entry: SessionWaitlist, *, now: dt.datetime | None = None) -> SessionWaitlist:
    """Offer a free seat to this entry now, if it is first in line (for staff tools and jobs).

    Raises ``InvalidTransition`` unless it is ``waiting``, ``BookingError`` ``not_first_in_line``
    when someone joined before it and still waits, ``SessionFull`` when no seat is free.
    """
    inputs.entry(entry)
    current = inputs.resolve_now(now)
    with db.atomic():
        line.locked_open_session(entry.session_id, current)
        row = line.stored(entry)
        if row.status != WaitlistStatus.WAITING:
            raise line.refuse(row, WaitlistStatus.OFFERED)
        if line.first_in_line(entry.session_id) != entry.pk:
            raise BookingError(code="not_first_in_line")
        if not seats.claim_seat(entry.session_id, current, for_waitlist=True):
            raise SessionFull(params={"session": entry.session_id})
        offered = seats.free_seats({entry.session_id: 1}, current)
        assert offered and offered[0].pk == entry.pk
        entry.refresh_from_db(using=db.alias())
    return entry


@keeps_arguments_on_refusal
def expire_offer(entry: SessionWaitlist, *, now: dt.datetime | None = None) -> SessionWaitlist:
    """Expire this entry's offer if it is past due, passing the seat on (``BookingError`` ``offer_not_due`` if not)."""
    inputs.entry(entry)
    current = inputs.resolve_now(now)
    with db.atomic():
        locks.lock_session(entry.session_id)
        row = line.stored(entry)
        if row.status != WaitlistStatus.OFFERED:
            raise line.refuse(row, WaitlistStatus.EXPIRED)
        if row.offer_expires_at is None or row.offer_expires_at > current:
            raise BookingError(code="offer_not_due")
        expiry.expire_offers([row], current)
        entry.refresh_from_db(using=db.alias())
    return entry
