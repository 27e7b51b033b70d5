"""Moving a 1:1 lesson to another time: one party proposes, the other accepts or declines."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError

from .. import signals
from ..adapter import get_adapter
from ..exceptions import BookingError
from ..models import AbstractLiveClassBooking, RescheduleRequest, RescheduleStatus, SessionKind
from ._engine import db, dberrors, inputs
from ._engine import reschedule as engine
from ._engine.actors import is_system, require, require_actor
from ._engine.guard import keeps_arguments_on_refusal
from ._engine.types import Actor

__all__ = ["request_reschedule", "accept_reschedule", "decline_reschedule", "withdraw_reschedule"]


@keeps_arguments_on_refusal
def request_reschedule(booking: AbstractLiveClassBooking, *, start: dt.datetime, actor: Actor,
                       duration: dt.timedelta | int | None = None, message: str = "",
                       now: dt.datetime | None = None) -> RescheduleRequest:
    """Propose a new start for a 1:1 lesson; the other party answers.

    The student, the teacher or a manager (the adapter's ``can_propose_reschedule``) or ``SYSTEM``
    proposes; ``duration`` None keeps the lesson's length. The booking must be pending or confirmed
    (``invalid_transition``) and its lesson not started (``session_closed``); a student is bound by
    the cancellation cutoff of the current time (``cancellation_window``, unless the policy allows
    late cancellation). The new time is checked at once as a new request of the student would be
    (``PolicyViolation``, ``SlotUnavailable``), the lesson itself left out. One pending proposal per
    booking (``reschedule_pending``).

    A student's proposal to a teacher whose policy confirms this booking without approval is
    applied at once: the returned proposal is ``accepted`` and the lesson has moved. Otherwise it is
    ``pending`` for the other party until the teacher's ``request_ttl_hours`` have passed or the
    earlier of the two starts, whichever comes first.
    """
    inputs.booking(booking)
    if booking.kind != SessionKind.ONE_ON_ONE:
        raise BookingError(code="not_a_lesson", params={"booking": booking.pk})
    current = inputs.resolve_now(now)
    start_utc = inputs.aware(start, "start")
    length = None if duration is None else inputs.minutes(duration)
    message = inputs.text(message, "message")
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_propose_reschedule(actor, booking),
            "Only the student, the teacher or a manager may propose a new time for this lesson.")
    try:
        with db.atomic():
            proposal, stored = engine.propose(booking, start_utc, length, actor, message, current)
    except IntegrityError as exc:
        if engine.is_pending_conflict(exc):
            raise BookingError(code="reschedule_pending", params={"booking": booking.pk}) from exc
        dberrors.raise_if_overlap(exc)
        raise
    if proposal.status == RescheduleStatus.ACCEPTED:
        engine.show_booking(booking, stored)
    return proposal


@keeps_arguments_on_refusal
def accept_reschedule(request: RescheduleRequest, *, actor: Actor,
                      now: dt.datetime | None = None) -> AbstractLiveClassBooking:
    """Accept a pending proposal: the lesson moves to the proposed time. Returns its booking.

    The other party of the lesson, a manager (the adapter's ``can_answer_reschedule``) or ``SYSTEM``.
    The session and booking keep their primary keys (a series item keeps pointing at the booking);
    a pending booking stays pending, a confirmed one confirmed. The proposed time is checked again
    under the teacher lock: ``teacher_unavailable`` if it was taken meanwhile, any rule's
    violation. Refuses a proposal past its expiry (``reschedule_expired``), one no longer pending
    or whose booking is no longer active (``invalid_transition``). Writes a ``rescheduled``
    ``BookingEvent``; sends ``booking_rescheduled`` after commit.
    """
    engine.require_proposal(request)
    current = inputs.resolve_now(now)
    booking_read = engine.authorize(request, actor, "accept")
    try:
        with db.atomic():
            stored = engine.accept(request, actor, booking_read, current)
    except IntegrityError as exc:
        dberrors.raise_if_overlap(exc)
        raise
    engine.show_proposal(request, stored)
    booking = request._state.fields_cache.get("booking")
    return booking if booking is not None else stored.booking


@keeps_arguments_on_refusal
def decline_reschedule(request: RescheduleRequest, *, actor: Actor, reason: str = "",
                       now: dt.datetime | None = None) -> RescheduleRequest:
    """Decline a pending proposal: the lesson keeps its time. As ``accept_reschedule`` for who may.

    Refuses a proposal past its expiry (``reschedule_expired``) or no longer pending
    (``invalid_transition``). Sends ``reschedule_declined`` after commit.
    """
    engine.require_proposal(request)
    reason = inputs.text(reason, "reason")
    current = inputs.resolve_now(now)
    engine.authorize(request, actor, "decline")
    with db.atomic():
        stored = engine.answer(request, actor, current, RescheduleStatus.DECLINED, signals.reschedule_declined,
                               reason=reason)
    engine.show_proposal(request, stored)
    return request


@keeps_arguments_on_refusal
def withdraw_reschedule(request: RescheduleRequest, *, actor: Actor,
                        now: dt.datetime | None = None) -> RescheduleRequest:
    """Withdraw a pending proposal: whoever proposed it, a manager or ``SYSTEM``.

    Refuses a proposal past its expiry (``reschedule_expired``) or no longer pending
    (``invalid_transition``). Sends ``reschedule_withdrawn`` after commit.
    """
    engine.require_proposal(request)
    current = inputs.resolve_now(now)
    engine.authorize(request, actor, "withdraw")
    with db.atomic():
        stored = engine.answer(request, actor, current, RescheduleStatus.WITHDRAWN, signals.reschedule_withdrawn)
    engine.show_proposal(request, stored)
    return request
