"""A group seat moved to another session of the same teacher: the new seat claimed, the old one handed on.

The booking keeps its row (and primary key): its session and times change in place, its status
does not. One transaction: the new seat is claimed exactly as ``book_seat`` claims one (nobody
waiting, a free seat, the session open), then the old seat goes to the old session's waitlist.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError

from ... import signals
from ...exceptions import AlreadyBooked, BookingError, PolicyViolation
from ...models import (
    ACTIVE_BOOKING_STATUSES,
    BookingEvent,
    BookingEventKind,
    BookingSeriesItem,
    BookingStatus,
    SessionKind,
    SessionStatus,
    get_booking_model,
    get_session_model,
)
from ...policy import BookingRequest, Violation, evaluate
from . import db, dberrors, expiry, history, locks, places, seating, seats, transitions
from .actors import is_system, require_actor
from .events import send_after_commit

#: What an ``invalid_transition`` of a move names as its target: a move changes no status.
MOVED = "moved"


def refusal_by_input(booking: Any, session: Any, now: dt.datetime) -> BookingError | None:
    """What the objects passed in already refuse, before any lock (the locked rows are judged again)."""
    if (booking.kind != SessionKind.GROUP or session.kind != SessionKind.GROUP or session.pk == booking.session_id
            or session.teacher_id != booking.teacher_id):
        return BookingError(code="not_movable", params={"session": session.pk})
    if booking.status not in ACTIVE_BOOKING_STATUSES:
        return transitions.refuse(booking.status, MOVED)
    if session.status != SessionStatus.SCHEDULED or session.start_at_utc <= now:
        return seating.session_closed(session)
    if booking.start_at_utc <= now:
        return BookingError(code="session_closed", params={"session": booking.session_id})
    return None


def move(booking: Any, session: Any, now: dt.datetime, *, actor_id: Any, as_student: bool) -> None:
    """Move the seat; retry once past a stale request of the student holding the target's unique key."""
    try:
        _move_once(booking, session, now, actor_id, as_student)
        return
    except IntegrityError as exc:
        if not dberrors.is_active_booking_conflict(exc):
            raise
        conflict = exc
    # The unique key (session, student, active) found an active booking of this student in the
    # target. Only a request of theirs past its expiry (not swept yet) may be that booking: expire
    # it and move again, in one transaction so a refused second attempt leaves the expiry unwritten.
    with db.atomic():
        if not _expire_stale_request(booking, session, now):
            raise AlreadyBooked(params={"session": session.pk}) from conflict
        try:
            _move_once(booking, session, now, actor_id, as_student)
        except IntegrityError as exc:
            if dberrors.is_active_booking_conflict(exc):
                raise AlreadyBooked(params={"session": session.pk}) from exc
            raise


def _move_once(booking: Any, session: Any, now: dt.datetime, actor_id: Any, as_student: bool) -> None:
    Booking = type(booking)
    using = db.alias()
    old_pk, target_pk = booking.session_id, session.pk
    with db.atomic():
        # The stored state, read under the locks: the booking (with its student, for the rules) and both rows.
        # Always the teacher row first (one read either way): with a limit set it serialises the student's
        # bookings, as for a new seat, and a move is rare enough to queue behind the teacher's other changes.
        policy = locks.lock_teacher(booking.teacher_id)
        rows = {row.pk: row for row in _lock_sessions([old_pk, target_pk])}
        old: Any = rows.get(old_pk)
        target: Any = rows.get(target_pk)
        stored = Booking.objects.using(using).select_related("student").filter(pk=booking.pk).first()
        _refuse_stale(booking, stored, old, target, now)
        if as_student:
            _cutoff(policy, old.start_at_utc, now, old_pk)
        evaluate(BookingRequest(
            student=stored.student, teacher_id=target.teacher_id, kind=target.kind, start=target.start_at_utc,
            end=target.end_at_utc, now=now, session=target, policy=policy, moving=booking,
            loaded_teacher=session.teacher if type(session).teacher.is_cached(session) else None,
        )).raise_if_refused()
        recount = False
        if not seats.claim_seat(target_pk, now, student_id=booking.student_id):
            # Requests or offers past their expiry may hold the target's seats: free them, claim again.
            if not (expiry.expire_due_in_sessions([target_pk], now)
                    and seats.claim_seat(target_pk, now, student_id=booking.student_id)):
                raise seating.why_no_seat(stored.student, target_pk, now)
            recount = True
        fields: dict[str, Any] = {"start_at_utc": target.start_at_utc, "end_at_utc": target.end_at_utc,
                                  "modified": now}
        if stored.status == BookingStatus.PENDING and stored.expires_at is not None:
            fields["expires_at"] = moved_expiry(stored.expires_at, stored.status_changed, old.start_at_utc,
                                                target.start_at_utc, policy.request_ttl_hours)
        # The booking, its series item (a subscription's occurrence follows it) and its history row: one
        # statement on PostgreSQL. The unique key refuses a second active booking of the student in the
        # target (IntegrityError).
        event = history.by(actor_id, previous_session=old_pk, previous_start=old.start_at_utc,
                           previous_end=old.end_at_utc, session=target_pk, start=target.start_at_utc,
                           end=target.end_at_utc)
        history.write_with_event([
            (Booking.objects.using(using).filter(pk=booking.pk), {"session_id": target_pk, **fields}),
            (BookingSeriesItem.objects.using(using).filter(booking_id=booking.pk),
             {"start_at_utc": target.start_at_utc, "end_at_utc": target.end_at_utc}),
        ], BookingEvent(booking_id=booking.pk, kind=BookingEventKind.MOVED, actor_id=event.actor_id, at=now,
                        data=dict(event.data)))
        places.released([booking], places.MOVED)
        shown_old = seats.cached_session(booking)
        booking.session = session
        for name, value in fields.items():
            setattr(booking, name, value)
        if recount:
            seats.show_taken(session)
        else:
            seats.show_claimed(target, session)
        places.taken([booking])
        send_after_commit(signals.booking_rescheduled, Booking, booking=booking, previous_start=old.start_at_utc,
                          previous_end=old.end_at_utc)
        # The old seat last: its offer (if anyone waits there) signals after the move.
        seats.free_one(old, now, shown_old if shown_old is not session else None)


def _lock_sessions(pks: list[Any]) -> list[Any]:
    """Both sessions locked by ascending pk, as ``locks.lock_sessions`` locks them, and read in that statement.

    The move needs the rows themselves (their times, counts and status): one round trip instead of two.
    """
    locks.require_transaction()
    return list(get_session_model().objects.using(db.alias()).select_for_update().filter(pk__in=pks).order_by("pk"))


def require_actor_of(booking: Any, actor: Any) -> None:
    """``require_actor`` without its query for the booking's own student or teacher.

    The booking's row, read again under the lock, holds both by a protected foreign key: while it
    exists, so do they.
    """
    if (not is_system(actor) and getattr(actor, "is_authenticated", False) is True
            and isinstance(actor, get_user_model()) and getattr(actor, "pk", None) is not None
            and actor.pk in (booking.student_id, booking.teacher_id)):
        return
    require_actor(actor)


def _refuse_stale(booking: Any, stored: Any, old: Any, target: Any, now: dt.datetime) -> None:
    """The locked rows decide: the booking still active in its session, both sessions open."""
    if stored is None or stored.session_id != booking.session_id:
        raise transitions.refuse(getattr(stored, "status", booking.status), MOVED)
    if stored.status not in ACTIVE_BOOKING_STATUSES:
        raise transitions.refuse(stored.status, MOVED)
    if stored.status == BookingStatus.PENDING and stored.expires_at is not None and stored.expires_at <= now:
        raise transitions.refuse(BookingStatus.EXPIRED, MOVED,
                                 f"This request expired at {stored.expires_at:%Y-%m-%d %H:%M} UTC.")
    if old is None or old.start_at_utc <= now:
        raise BookingError(code="session_closed", params={"session": booking.session_id})
    if target is None or target.status != SessionStatus.SCHEDULED or target.start_at_utc <= now:
        raise seating.session_closed(target)
    if target.kind != SessionKind.GROUP or target.teacher_id != stored.teacher_id:
        raise BookingError(code="not_movable", params={"session": target.pk})


def _cutoff(policy: Any, start: dt.datetime, now: dt.datetime, session_pk: Any) -> None:
    """A student leaving a session is bound by its cancellation cutoff (a late move is never flagged)."""
    cutoff = start - dt.timedelta(hours=policy.cancellation_cutoff_hours)
    if now <= cutoff or policy.allow_late_cancellation:
        return
    raise PolicyViolation([Violation(
        "cancellation_window",
        f"Bookings can only be cancelled up to {policy.cancellation_cutoff_hours} hours before the start.",
        {"cutoff_hours": policy.cancellation_cutoff_hours, "cutoff": cutoff.isoformat(), "session": session_pk},
    )])


def moved_expiry(expires_at: dt.datetime, requested_at: dt.datetime, old_start: dt.datetime,
                 new_start: dt.datetime, ttl_hours: int | None) -> dt.datetime:
    """A pending request's expiry at a new start: its time to live, never past the start.

    An expiry that was the old start (the request outlived it) is computed again from the time it was
    requested; one set by the time to live stays, capped at the new start.
    """
    if expires_at >= old_start:
        return expiry.request_expiry(ttl_hours, requested_at, new_start)
    return min(expires_at, new_start)


def _expire_stale_request(booking: Any, session: Any, now: dt.datetime) -> bool:
    with db.atomic():
        if not get_booking_model().objects.using(db.alias()).due_to_expire(now).filter(
                session_id=session.pk, student_id=booking.student_id).exists():
            return False
        # The one lock order: the teacher row (the move after this may take it), then both sessions.
        locks.lock_teacher(session.teacher_id)
        locks.lock_sessions([booking.session_id, session.pk])
        expiry.refresh_sessions([session.pk], now)
    return True
