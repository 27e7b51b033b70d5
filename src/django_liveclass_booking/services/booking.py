"""Group seats and the lifecycle every booking shares: book, check, confirm, decline, cancel."""

from __future__ import annotations

import datetime as dt

from .. import signals
from ..adapter import get_adapter
from ..exceptions import BookingError
from ..models import (
    AbstractLiveClassBooking,
    AbstractLiveClassSession,
    BookingSource,
    BookingStatus,
    SessionKind,
    TeacherBookingPolicy,
)
from ..policy import BookingRequest, Decision, Violation, evaluate
from ._engine import calendar, db, inputs, lifecycle, locks, seating
from ._engine.actors import (
    SYSTEM,
    actor_id,
    is_system,
    require,
    require_actor,
    require_user,
    require_users,
)
from ._engine.events import send_after_commit
from ._engine.guard import keeps_arguments_on_refusal
from ._engine.types import Actor, User

__all__ = ["book_seat", "check_booking", "confirm_booking", "decline_booking", "cancel_booking", "SYSTEM"]


@keeps_arguments_on_refusal
def book_seat(student: User, session: AbstractLiveClassSession, *, actor: Actor | None = None,
              now: dt.datetime | None = None) -> AbstractLiveClassBooking:
    """Take a seat in a group session for ``student``.

    The booking is ``confirmed``, or ``pending`` when the teacher's policy asks for approval (a
    pending booking holds its seat). ``actor`` defaults to the student; someone else booking for a
    student needs the adapter's ``can_book_for``. Raises ``SessionFull``, ``AlreadyBooked``,
    ``PolicyViolation``, ``BookingError`` (``session_closed``, ``not_a_group_session``,
    ``own_session``, ``invalid_user``) and ``NotAllowed``.
    """
    # Whether the student still exists is checked by the seat claim itself: no query of its own.
    require_users(student=student, stored=False)
    inputs.session(session)
    current = inputs.resolve_now(now)
    actor = student if actor is None else actor
    if actor is not student:
        # The student has just passed the stricter check; one more query would only repeat it.
        require_actor(actor)
    require(is_system(actor) or get_adapter().can_book_for(actor, student),
            "You may only book seats for yourself.")
    return seating.book(student, session, now=current, source=BookingSource.DIRECT)


@keeps_arguments_on_refusal
def check_booking(
    student: User,
    *,
    session: AbstractLiveClassSession | None = None,
    teacher: User | None = None,
    start: dt.datetime | None = None,
    duration: dt.timedelta | int | None = None,
    now: dt.datetime | None = None,
) -> Decision:
    """Dry run: would this booking be allowed now, and would it need approval? Writes nothing.

    Pass ``session`` for a group seat, or ``teacher`` + ``start`` + ``duration`` for a 1:1 lesson.
    """
    require_user(student, "student")
    current = inputs.resolve_now(now)
    if session is not None:
        inputs.session(session)
        refusal = seating.precheck(student, session, current)
        if refusal is not None:
            return Decision(violations=[Violation(refusal.code, refusal.message, refusal.params)])
        decision = evaluate(seating.request_for_session(student, session, current))
        decision.violations.extend(seating.seat_violations(student, session, current))
        return decision
    if teacher is None or start is None or duration is None:
        raise BookingError("check_booking needs a session, or a teacher with start and duration.",
                           code="invalid_arguments")
    require_user(teacher, "teacher")
    start_utc = inputs.aware(start, "start")
    end_utc = inputs.end_after(start_utc, inputs.minutes(duration))
    policy = TeacherBookingPolicy.for_teacher(teacher)
    request = BookingRequest(
        student=student, teacher_id=teacher.pk, kind=SessionKind.ONE_ON_ONE, start=start_utc, end=end_utc,
        now=current, policy=policy, loaded_teacher=teacher,
    )
    decision = evaluate(request)
    refusal = calendar.calendar_refusal(teacher, policy, start_utc, end_utc, current)
    if refusal is not None:
        decision.violations.append(Violation(refusal.code, refusal.message, refusal.params))
    return decision


@keeps_arguments_on_refusal
def confirm_booking(booking: AbstractLiveClassBooking, *, actor: Actor,
                    now: dt.datetime | None = None) -> AbstractLiveClassBooking:
    """Confirm a pending booking. Whoever the adapter's ``can_decide_booking`` allows, or ``SYSTEM``."""
    inputs.booking(booking)
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_decide_booking(actor, booking),
            "Only the teacher or a manager may confirm this booking.")
    current = inputs.resolve_now(now)
    with db.atomic():
        # Locked although no seat changes: every booking transition holds its session's lock,
        # so a sweep or a cancel_session holding it sees a set of bookings nobody else is moving.
        locks.lock_session_of_booking(booking)
        lifecycle.move_booking(booking, BookingStatus.CONFIRMED, current, decided_by_id=actor_id(actor),
                               decided_at=current, expires_at=None)
        send_after_commit(signals.booking_confirmed, type(booking), booking=booking)
    return booking


@keeps_arguments_on_refusal
def decline_booking(booking: AbstractLiveClassBooking, *, actor: Actor, reason: str = "",
                    now: dt.datetime | None = None) -> AbstractLiveClassBooking:
    """Decline a pending booking and free its seat or slot. As ``confirm_booking`` for who may."""
    inputs.booking(booking)
    reason = inputs.text(reason, "reason")
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_decide_booking(actor, booking),
            "Only the teacher or a manager may decline this booking.")
    current = inputs.resolve_now(now)
    with db.atomic():
        session = locks.lock_session_of_booking(booking)
        lifecycle.move_booking(booking, BookingStatus.DECLINED, current, decided_by_id=actor_id(actor),
                               decided_at=current, reason=reason)
        lifecycle.leave_active(signals.booking_declined, booking, current, session)
    return booking


@keeps_arguments_on_refusal
def cancel_booking(booking: AbstractLiveClassBooking, *, actor: Actor, reason: str = "",
                   now: dt.datetime | None = None) -> AbstractLiveClassBooking:
    """Cancel a pending or confirmed booking and free its seat or slot.

    Whoever the adapter's ``can_cancel_booking`` allows (the student, the teacher, a manager) or
    ``SYSTEM``. A student is bound by the teacher's cancellation cutoff: later than
    ``cancellation_cutoff_hours`` before the start the cancellation is refused
    (``cancellation_window``) or accepted and flagged ``late_cancellation``, per
    ``allow_late_cancellation``; after the start it is refused (``session_closed``).
    """
    inputs.booking(booking)
    reason = inputs.text(reason, "reason")
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_cancel_booking(actor, booking),
            "Only the student, the teacher or a manager may cancel this booking.")
    current = inputs.resolve_now(now)
    # The cutoff binds the student acting as the student, even one who also holds the manage permission.
    as_student = not is_system(actor) and actor.pk == booking.student_id != booking.teacher_id
    with db.atomic():
        session = locks.lock_session_of_booking(booking)
        late, refusal = lifecycle.student_cutoff(booking, current) if as_student else (False, None)
        # The state machine speaks first: cancelling a cancelled booking is invalid_transition, not
        # a cutoff problem. A cutoff refusal then rolls the move back (and the guard the instance).
        lifecycle.move_booking(booking, BookingStatus.CANCELLED, current, cancelled_by_id=actor_id(actor),
                               cancelled_at=current, reason=reason, late_cancellation=late)
        if refusal is not None:
            raise refusal
        lifecycle.leave_active(signals.booking_cancelled, booking, current, session)
    return booking

