"""What happened in a lesson: completed, the student did not come, the teacher did not come."""

from __future__ import annotations

import datetime as dt

from ..adapter import get_adapter
from ..models import AbstractLiveClassBooking
from ._engine import inputs, outcomes
from ._engine.actors import is_system, require, require_actor
from ._engine.guard import keeps_arguments_on_refusal
from ._engine.types import Actor

__all__ = ["record_outcome"]


@keeps_arguments_on_refusal
def record_outcome(booking: AbstractLiveClassBooking, *, outcome: str, actor: Actor, note: str = "",
                   now: dt.datetime | None = None) -> AbstractLiveClassBooking:
    """Record what happened in a booking's lesson: ``completed``, ``no_show`` or ``teacher_no_show``.

    From the session's start until ``OUTCOME_WINDOW_HOURS`` after its end (``session_not_started``,
    ``outcome_window_closed``), for a confirmed booking or one with an outcome already. Whoever the
    adapter's ``can_record_outcome`` allows, or ``SYSTEM``: the teacher records ``completed`` or
    ``no_show`` (and may correct their own), the student ``teacher_no_show``. One party's account
    against the other's recorded outcome makes the booking ``disputed``; only a manager or
    ``SYSTEM`` moves a disputed booking, or changes an outcome a manager recorded (for the parties
    ``invalid_transition``, as is the same outcome twice). The booking keeps its seat; ``note`` is kept in its history.
    Raises ``BookingError`` (``invalid_outcome`` and the codes above), ``InvalidTransition`` and
    ``NotAllowed``.
    """
    inputs.booking(booking)
    outcome = inputs.choice(outcome, "outcome", outcomes.OUTCOMES, "invalid_outcome")
    note = inputs.text(note, "note")
    current = inputs.resolve_now(now)
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_record_outcome(actor, booking, outcome),
            "Only the teacher, the student or a manager may record this outcome.")
    outcomes.record(booking, outcome, actor, note, current)
    return booking
