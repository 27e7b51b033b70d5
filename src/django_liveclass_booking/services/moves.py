"""Moving a group seat to another class of the same teacher."""

from __future__ import annotations

import datetime as dt

from ..adapter import get_adapter
from ..models import AbstractLiveClassBooking, AbstractLiveClassSession
from ._engine import inputs, moving
from ._engine.actors import SYSTEM, actor_id, is_system, require
from ._engine.guard import keeps_arguments_on_refusal
from ._engine.types import Actor

__all__ = ["move_seat", "SYSTEM"]


@keeps_arguments_on_refusal
def move_seat(booking: AbstractLiveClassBooking, session: AbstractLiveClassSession, *, actor: Actor,
              now: dt.datetime | None = None) -> AbstractLiveClassBooking:
    """Move a group booking to another upcoming group ``session`` of the same teacher, in one transaction.

    The booking keeps its primary key and its status (pending stays pending, confirmed stays
    confirmed); its session, start and end change, and a pending request's expiry follows the new
    start. The new seat is claimed as ``book_seat`` claims one: nobody may be waiting in ``session``
    and a seat must be free (``SessionFull``), the policy rules judge the new seat without counting
    the booking being moved (``PolicyViolation``), and a student already booked there gets
    ``AlreadyBooked``. The old seat is then offered to the old session's waitlist.

    Whoever the adapter's ``can_move_booking`` allows (the student, the teacher, a manager) or
    ``SYSTEM`` (``NotAllowed`` otherwise). A student is bound by the old session's cancellation
    cutoff: a move later than ``cancellation_cutoff_hours`` before its start is refused
    (``cancellation_window``) unless the policy allows late cancellation (then nothing is flagged).
    Other refusals: ``not_movable`` (not a group booking, the booking's own session, a 1:1 lesson's
    session, another teacher's session), ``session_closed`` (the target is cancelled or has started,
    or the old session has started), ``invalid_transition`` (the booking is not pending or
    confirmed). Hooks: ``on_place_released`` (reason ``moved``), then ``on_place_taken``. Writes one
    ``moved`` booking event. Signals: ``booking_rescheduled``, then ``waitlist_seat_offered`` for the
    old seat's offer.
    """
    inputs.booking(booking)
    inputs.session(session)
    moving.require_actor_of(booking, actor)
    current = inputs.resolve_now(now)
    refusal = moving.refusal_by_input(booking, session, current)
    if refusal is not None and refusal.code == "not_movable":
        raise refusal
    require(is_system(actor) or get_adapter().can_move_booking(actor, booking, session),
            "Only the student, the teacher or a manager may move this booking.")
    if refusal is not None:
        raise refusal
    # The cutoff binds the student acting as the student, even one who also holds the manage permission.
    as_student = not is_system(actor) and actor.pk == booking.student_id != booking.teacher_id
    moving.move(booking, session, current, actor_id=actor_id(actor), as_student=as_student)
    return booking
