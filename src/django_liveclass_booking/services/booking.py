"""Group seats and the lifecycle every booking shares: confirm, decline, cancel, check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from .. import signals
from ..adapter import get_adapter
from ..exceptions import AlreadyBooked, BookingError, NotAllowed, PolicyViolation, SessionFull
from ..models import (
    BookingSource,
    BookingStatus,
    SessionKind,
    SessionStatus,
    SessionWaitlist,
    TeacherBookingPolicy,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from ..models.bookings import live_at
from ..policy import BookingRequest, Decision, Violation, evaluate
from . import expiry, fastpath, seats, transitions
from ._common import (
    SYSTEM,
    aware,
    is_system,
    lock_teacher,
    minutes,
    require,
    require_actor,
    resolve_now,
    send_after_commit,
)


def _session_closed(session: Any) -> BookingError:
    return BookingError("This session is cancelled or has already started.", code="session_closed",
                        params={"session": getattr(session, "pk", None)})


def _is_active_booking_conflict(exc: IntegrityError) -> bool:
    # PostgreSQL and MariaDB name the constraint; SQLite names its columns.
    text = str(exc)
    return "one_active_per_student" in text or "active_key" in text


def _request_for_session(student: Any, session: Any, now: dt.datetime) -> BookingRequest:
    cached_teacher = session.teacher if type(session).teacher.is_cached(session) else None
    return BookingRequest(
        student=student, teacher_id=session.teacher_id, kind=session.kind, start=session.start_at_utc,
        end=session.end_at_utc, now=now, session=session, _teacher=cached_teacher,
        policy=TeacherBookingPolicy.for_teacher(session.teacher_id),
    )


def _seat_precheck(student: Any, session: Any, now: dt.datetime) -> BookingError | None:
    """What makes a seat unbookable whatever the policy says; shared by book_seat and check_booking.

    Judged on the instance; the seat claim re-checks status and start in the database.
    """
    if session.status != SessionStatus.SCHEDULED or session.start_at_utc <= now:
        return _session_closed(session)
    if session.kind != SessionKind.GROUP:
        return BookingError("A 1:1 lesson has no seats to book; its student is set when it is requested.",
                            code="not_a_group_session", params={"session": session.pk})
    if session.teacher_id == student.pk:
        return BookingError("A teacher cannot book a seat in their own session.", code="own_session",
                            params={"session": session.pk})
    return None


def book_seat(student: Any, session: Any, *, actor: Any = None, now: dt.datetime | None = None) -> Any:
    """Take a seat in a group session for ``student``.

    The booking is ``confirmed``, or ``pending`` when the teacher's policy asks for approval (a
    pending booking holds its seat). ``actor`` defaults to the student; someone else booking for a
    student needs the manage-bookings permission. Raises ``SessionFull``, ``AlreadyBooked``,
    ``PolicyViolation``, ``BookingError`` (``session_closed``, ``not_a_group_session``,
    ``own_session``) and ``NotAllowed``.
    """
    return _book_seat(student, session, actor=actor, now=now, source=BookingSource.DIRECT)


def _book_seat(student: Any, session: Any, *, actor: Any, now: dt.datetime | None, source: str) -> Any:
    current = resolve_now(now)
    actor = student if actor is None else actor
    adapter = get_adapter()
    require(is_system(actor) or actor.pk == student.pk or adapter.is_staff_manager(actor),
            "You may only book seats for yourself.")
    refusal = _seat_precheck(student, session, current)
    if refusal is not None:
        raise refusal
    try:
        return _claim_and_book(student, session, current, source)
    except IntegrityError as exc:
        if not _is_active_booking_conflict(exc):
            raise
        conflict = exc
    # The unique constraint found an active booking of this student. Only a request of theirs past
    # its expiry (not swept yet) may stand in the way: expire it and book again, in one transaction
    # so a refused second attempt leaves the expiry unwritten too.
    with transaction.atomic():
        if not _expire_own_stale_request(student, session, current):
            raise AlreadyBooked(params={"session": session.pk}) from conflict
        try:
            return _claim_and_book(student, session, current, source)
        except IntegrityError as exc:
            if _is_active_booking_conflict(exc):
                raise AlreadyBooked(params={"session": session.pk}) from exc
            raise


def _claim_and_book(student: Any, session: Any, current: dt.datetime, source: str) -> Any:
    """One attempt, one transaction: rules, then the seat claim and the insert (one statement on PostgreSQL)."""
    Booking = get_booking_model()
    with transaction.atomic():
        request = _request_for_session(student, session, current)
        if _counts_bookings(request.policy):
            # Two seats booked at once by one student would both pass a count-then-insert
            # limit: with a limit set, the teacher row serialises them (teacher, then session).
            request.policy = lock_teacher(session.teacher_id)
        decision = evaluate(request)
        decision.raise_if_refused()
        pending = decision.requires_approval
        # Built before the claim: nothing but the write itself runs while the seat row is locked.
        booking = Booking(
            session=session, student=student, teacher_id=session.teacher_id, kind=session.kind,
            start_at_utc=session.start_at_utc, end_at_utc=session.end_at_utc,
            status=BookingStatus.PENDING if pending else BookingStatus.CONFIRMED, status_changed=current,
            source=source, decided_at=None if pending else current,
            expires_at=expiry.request_expiry(request.policy.request_ttl_hours, current, session.start_at_utc)
            if pending else None,
        )
        if not (fastpath.available(Booking) and fastpath.claim_and_insert(booking, current)):
            if (not seats.claim_seat(session.pk, current, student_id=student.pk)
                    and not _claim_after_expiring(session.pk, current, student.pk)):
                raise _why_no_seat(student, session.pk, current)
            booking.save(force_insert=True)
        send_after_commit(signals.booking_requested if pending else signals.booking_confirmed, Booking,
                          booking=booking)
    return booking


def _expire_own_stale_request(student: Any, session: Any, now: dt.datetime) -> bool:
    with transaction.atomic():
        if not get_booking_model().objects.due_to_expire(now).filter(session_id=session.pk, student=student).exists():
            return False
        seats.lock_session(session.pk)
        expiry.refresh_sessions([session.pk], now)
    return True


def _counts_bookings(policy: Any) -> bool:
    return any(getattr(policy, name) is not None
               for name in ("max_bookings_per_day", "max_bookings_per_week", "max_pending_requests"))


def _claim_after_expiring(session_pk: Any, now: dt.datetime, student_id: Any = None) -> bool:
    """A full session may hold seats of requests or offers past their expiry: free those, claim again.

    Freed seats go to the waitlist first, so a newcomer only gets one when nobody waits.
    """
    seats.lock_session(session_pk)
    if not expiry.expire_due_in_sessions([session_pk], now):
        return False
    return seats.claim_seat(session_pk, now, student_id=student_id)


def _why_no_seat(student: Any, session_pk: Any, now: dt.datetime) -> BookingError:
    """Only on the refusal path: say which of closed, already booked, or full it is."""
    session = get_session_model().objects.filter(pk=session_pk).first()
    if session is None or session.status != SessionStatus.SCHEDULED or session.start_at_utc <= now:
        return _session_closed(session)
    if get_booking_model().objects.filter(live_at(now), session_id=session_pk, student=student).exists():
        return AlreadyBooked(params={"session": session_pk})
    if SessionWaitlist.objects.filter(session_id=session_pk, student=student, status=WaitlistStatus.OFFERED,
                                      offer_expires_at__gt=now).exists():
        return BookingError("A seat in this session is offered to you: accept the offer instead.",
                            code="offer_pending", params={"session": session_pk})
    if session.seats_taken < session.capacity:
        return SessionFull("Students on the waitlist get free seats first: join the waitlist.",
                           params={"session": session_pk, "capacity": session.capacity, "waitlist": True})
    return SessionFull(params={"session": session_pk, "capacity": session.capacity})


def check_booking(
    student: Any,
    *,
    session: Any = None,
    teacher: Any = None,
    start: dt.datetime | None = None,
    duration: dt.timedelta | int | None = None,
    now: dt.datetime | None = None,
) -> Decision:
    """Dry run: would this booking be allowed now, and would it need approval? Writes nothing.

    Pass ``session`` for a group seat, or ``teacher`` + ``start`` + ``duration`` for a 1:1 lesson.
    """
    current = resolve_now(now)
    if session is not None:
        refusal = _seat_precheck(student, session, current)
        if refusal is not None:
            return Decision(violations=[Violation(refusal.code, refusal.message, refusal.params)])
        decision = evaluate(_request_for_session(student, session, current))
        decision.violations.extend(_seat_violations(student, session, current))
        return decision
    if teacher is None or start is None or duration is None:
        raise BookingError("check_booking needs a session, or a teacher with start and duration.",
                           code="invalid_arguments")
    start_utc = aware(start, "start")
    end_utc = start_utc + dt.timedelta(minutes=minutes(duration))
    policy = TeacherBookingPolicy.for_teacher(teacher)
    request = BookingRequest(
        student=student, teacher_id=teacher.pk, kind=SessionKind.ONE_ON_ONE, start=start_utc, end=end_utc,
        now=current, policy=policy, _teacher=teacher,
    )
    decision = evaluate(request)
    from .lessons import calendar_refusal

    refusal = calendar_refusal(teacher, policy, start_utc, end_utc, current)
    if refusal is not None:
        decision.violations.append(Violation(refusal.code, refusal.message, refusal.params))
    return decision


def _seat_violations(student: Any, session: Any, now: dt.datetime) -> list[Violation]:
    fresh = get_session_model().objects.filter(pk=session.pk).first()
    if fresh is None or fresh.status != SessionStatus.SCHEDULED or fresh.start_at_utc <= now:
        error = _session_closed(fresh)
        return [Violation(error.code, error.message, error.params)]
    found = []
    bookings = get_booking_model().objects.filter(session_id=session.pk)
    if bookings.filter(live_at(now), student=student).exists():
        error: BookingError = AlreadyBooked()
        found.append(Violation(error.code, error.message, {"session": session.pk}))
    # Seats held by requests past their expiry are free for book_seat, so they are free here.
    line = SessionWaitlist.objects.filter(session_id=session.pk)
    waiting = line.filter(status=WaitlistStatus.WAITING).exists()
    # Requests and offers past their expiry hold seats book_seat would free first.
    stale = bookings.due_to_expire(now).count() + line.filter(
        status=WaitlistStatus.OFFERED, offer_expires_at__lte=now).count()
    if waiting or fresh.seats_taken - stale >= fresh.capacity:
        error = SessionFull()
        found.append(Violation(error.code, error.message, {"session": session.pk}))
    return found


# --- lifecycle -------------------------------------------------------------------------------


def _move(booking: Any, target: str, now: dt.datetime, **fields: Any) -> None:
    """Conditionally move ``booking`` to ``target``; refuse if its stored status does not allow it."""
    Booking = type(booking)
    # A pending request past its expiry is expired already, even before the sweep marks it.
    moved = Booking.objects.filter(live_at(now), pk=booking.pk, status__in=transitions.sources_for(target)).update(
        status=target, status_changed=now, **fields
    )
    if not moved:
        stored, expires_at = Booking.objects.filter(pk=booking.pk).values_list("status", "expires_at").first() or (
            booking.status, None)
        if stored == BookingStatus.PENDING and expires_at is not None and expires_at <= now:
            raise transitions.refuse(BookingStatus.EXPIRED, target, f"This request expired at {expires_at:%Y-%m-%d %H:%M} UTC.")
        raise transitions.refuse(stored, target)
    booking.status, booking.status_changed = target, now
    for name, value in fields.items():
        setattr(booking, name, value)


def _free_place(booking: Any, now: dt.datetime, locked_session: Any) -> Any:
    """After a booking left the active states: give its seat back, or free the 1:1 lesson's slot.

    Returns the 1:1 session it cancelled, if any, so the caller signals it after the booking.
    """
    if booking.kind == SessionKind.GROUP:
        seats.free_seats({booking.session_id: 1}, now)
        return None
    Session = get_session_model()
    cancelled = Session.objects.filter(pk=booking.session_id, status=SessionStatus.SCHEDULED).update(
        status=SessionStatus.CANCELLED, status_changed=now, seats_taken=0
    )
    if not cancelled:
        return None
    locked_session.status, locked_session.status_changed, locked_session.seats_taken = SessionStatus.CANCELLED, now, 0
    return locked_session


def _leave_active(signal: Any, booking: Any, now: dt.datetime, locked_session: Any) -> None:
    """Signal the booking's own transition, then free its place (whose offers signal after it)."""
    send_after_commit(signal, type(booking), booking=booking)
    freed_session = _free_place(booking, now, locked_session)
    if freed_session is not None:
        send_after_commit(signals.session_cancelled, type(freed_session), session=freed_session)


def _actor_id(actor: Any) -> Any:
    return None if is_system(actor) else actor.pk


def confirm_booking(booking: Any, *, actor: Any, now: dt.datetime | None = None) -> Any:
    """Confirm a pending booking. Teacher, manager or ``SYSTEM`` only; sends ``booking_confirmed``."""
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_decide_booking(actor, booking),
            "Only the teacher or a manager may confirm this booking.")
    current = resolve_now(now)
    with transaction.atomic():
        # Locked although no seat changes: every booking transition holds its session's lock,
        # so a sweep or a cancel_session holding it sees a set of bookings nobody else is moving.
        seats.lock_session(booking.session_id)
        _move(booking, BookingStatus.CONFIRMED, current, decided_by_id=_actor_id(actor), decided_at=current,
              expires_at=None)
        send_after_commit(signals.booking_confirmed, type(booking), booking=booking)
    return booking


def decline_booking(booking: Any, *, actor: Any, reason: str = "", now: dt.datetime | None = None) -> Any:
    """Decline a pending booking and free its seat or slot. Teacher, manager or ``SYSTEM`` only."""
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_decide_booking(actor, booking),
            "Only the teacher or a manager may decline this booking.")
    current = resolve_now(now)
    with transaction.atomic():
        session = seats.lock_session(booking.session_id)
        _move(booking, BookingStatus.DECLINED, current, decided_by_id=_actor_id(actor), decided_at=current,
              reason=reason)
        _leave_active(signals.booking_declined, booking, current, session)
    return booking


def cancel_booking(booking: Any, *, actor: Any, reason: str = "", now: dt.datetime | None = None) -> Any:
    """Cancel a pending or confirmed booking and free its seat or slot.

    The student, the teacher, a manager or ``SYSTEM`` may cancel. A student is bound by the
    teacher's cancellation cutoff: later than ``cancellation_cutoff_hours`` before the start the
    cancellation is refused (``cancellation_window``) or accepted and flagged ``late_cancellation``,
    per ``allow_late_cancellation``; after the start it is refused (``session_closed``).
    """
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_cancel_booking(actor, booking),
            "Only the student, the teacher or a manager may cancel this booking.")
    current = resolve_now(now)
    # The cutoff binds the student acting as the student, even one who also holds the manage permission.
    as_student = not is_system(actor) and actor.pk == booking.student_id != booking.teacher_id
    with transaction.atomic():
        session = seats.lock_session(booking.session_id)
        late, refusal = _student_cutoff(booking, current) if as_student else (False, None)
        # The state machine speaks first: cancelling a cancelled booking is invalid_transition, not
        # a cutoff problem. A cutoff refusal then rolls the move back.
        _move(booking, BookingStatus.CANCELLED, current, cancelled_by_id=_actor_id(actor), cancelled_at=current,
              reason=reason, late_cancellation=late)
        if refusal is not None:
            raise refusal
        _leave_active(signals.booking_cancelled, booking, current, session)
    return booking


def _student_cutoff(booking: Any, now: dt.datetime) -> tuple[bool, BookingError | None]:
    """Whether a student's cancellation is late, and the refusal when the policy does not allow it."""
    if now >= booking.start_at_utc:
        return False, BookingError("This session has already started.", code="session_closed",
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


__all__ = [
    "SYSTEM",
    "NotAllowed",
    "book_seat",
    "cancel_booking",
    "check_booking",
    "confirm_booking",
    "decline_booking",
]
