"""What a booking's page shows of its life after booking: its history, a proposed new time,
other dates of the same class to move to, and the outcome buttons once the lesson started.

Each button is offered only when the adapter's hook for it says yes; the service asks again.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.db.models import Case, F, IntegerField, Q, Value, When

from ..adapter import get_adapter
from ..conf import booking_settings
from ..forms import OUTCOME_CHOICES
from ..models import (
    ACTIVE_BOOKING_STATUSES,
    OUTCOME_STATUSES,
    BookingStatus,
    RescheduleRequest,
    RescheduleStatus,
    SessionKind,
    get_booking_model,
    get_session_model,
)
from .history import history

#: At most this many other dates are offered to move a seat to.
MOVE_OPTIONS_LIMIT = 20
#: The answers to a proposed new time, in the order their buttons appear.
ANSWERS = ("accept", "decline", "withdraw")
#: The teacher's account of a lesson.
TEACHER_OUTCOMES = (BookingStatus.COMPLETED, BookingStatus.NO_SHOW)
#: The statuses an outcome may be recorded over.
RECORDABLE = (BookingStatus.CONFIRMED, *OUTCOME_STATUSES)


def outcome_window_open(session: Any, now: dt.datetime) -> bool:
    """Whether outcomes may be recorded for ``session`` now: it started, and its end is at most
    ``OUTCOME_WINDOW_HOURS`` ago."""
    closes = session.end_at_utc + dt.timedelta(hours=booking_settings.OUTCOME_WINDOW_HOURS)
    return session.start_at_utc <= now <= closes


def answers_the_record(user: Any, booking: Any, outcome: str) -> bool:
    """Whether recording ``outcome`` over the booking's current status is a move the service makes.

    On a confirmed booking any outcome is. Over an outcome on record, a party gives their account
    against the other party's (the booking becomes ``disputed``): the student reports that the
    teacher did not come against the teacher's ``completed`` or ``no_show``, the teacher marks the
    student against the student's ``teacher_no_show``. Anyone else the adapter lets record outcomes
    (a manager) may replace any outcome, a disputed one included.
    """
    status = booking.status
    if status == BookingStatus.CONFIRMED:
        return True
    if status not in OUTCOME_STATUSES or status == outcome:
        return False
    if user.pk == booking.teacher_id and outcome in TEACHER_OUTCOMES:
        return status == BookingStatus.TEACHER_NO_SHOW
    if user.pk == booking.student_id and outcome == BookingStatus.TEACHER_NO_SHOW:
        return status in TEACHER_OUTCOMES
    return True


def allowed_outcomes(user: Any, booking: Any, now: dt.datetime) -> list[tuple[str, Any]]:
    """The (outcome, button text) pairs ``user`` may record for ``booking`` now (the adapter decides who)."""
    if booking.status not in RECORDABLE or not outcome_window_open(booking.session, now):
        return []
    adapter = get_adapter()
    return [(value, label) for value, label in OUTCOME_CHOICES
            if answers_the_record(user, booking, value) and adapter.can_record_outcome(user, booking, value)]


def pending_proposal(booking: Any, now: dt.datetime) -> RescheduleRequest | None:
    """The booking's proposal for a new time still waiting for an answer, if any.

    None once the booking is no longer active: its proposal can no longer be accepted (the sweep
    marks it expired at the latest at the lesson's start).
    """
    if booking.status not in ACTIVE_BOOKING_STATUSES:
        return None
    return (RescheduleRequest.objects.filter(booking_id=booking.pk, status=RescheduleStatus.PENDING,
                                             expires_at__gt=now)
            .select_related("proposed_by").first())


def proposal_answers(user: Any, proposal: RescheduleRequest) -> list[str]:
    """Which of accept, decline and withdraw ``user`` may do to ``proposal``."""
    adapter = get_adapter()
    return [action for action in ANSWERS if adapter.can_answer_reschedule(user, proposal, action)]


def can_propose(user: Any, booking: Any, now: dt.datetime, proposal: RescheduleRequest | None) -> bool:
    """Whether the page offers ``user`` to propose a new time for ``booking``."""
    return (booking.kind == SessionKind.ONE_ON_ONE and booking.status in ACTIVE_BOOKING_STATUSES
            and booking.start_at_utc > now and proposal is None
            and get_adapter().can_propose_reschedule(user, booking))


def move_options(user: Any, booking: Any, now: dt.datetime) -> list[Any]:
    """Other upcoming dates of the same group class with a free seat, ``user`` may move ``booking`` to.

    The same class: sessions of the same recurring class first, then those with the same title,
    each in order of start.
    """
    if booking.kind != SessionKind.GROUP or booking.status not in ACTIVE_BOOKING_STATUSES \
            or booking.start_at_utc <= now:
        return []
    session = booking.session
    key, title = session.recurrence_key, session.title
    if not key and not title:
        return []
    same_class = (Q(recurrence_key=key) if key else Q()) | (Q(title=title) if title else Q())
    taken = get_booking_model().objects.filter(student_id=booking.student_id, status__in=ACTIVE_BOOKING_STATUSES)
    candidates = (get_session_model().objects.upcoming(now)
                  .filter(same_class, teacher_id=booking.teacher_id, kind=SessionKind.GROUP,
                          seats_taken__lt=F("capacity"))
                  .exclude(pk=session.pk).exclude(pk__in=taken.values("session_id")))
    adapter = get_adapter()
    visible = adapter.sessions_visible_to(user, candidates)
    rank = Case(When(recurrence_key=key, then=Value(0)), default=Value(1), output_field=IntegerField()) if key \
        else Value(0, output_field=IntegerField())
    ordered = visible.annotate(lcb_rank=rank).order_by("lcb_rank", "start_at_utc", "pk")[:MOVE_OPTIONS_LIMIT]
    return [s for s in ordered if adapter.can_move_booking(user, booking, s)]


def booking_lifecycle(user: Any, booking: Any, tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """The booking page's context for history, a new time, a move and an outcome."""
    now = get_adapter().now()
    proposal = pending_proposal(booking, now) if booking.kind == SessionKind.ONE_ON_ONE else None
    return {
        "events": history(booking, tz),
        "proposal": proposal,
        "proposal_answers": proposal_answers(user, proposal) if proposal is not None else [],
        "can_propose": can_propose(user, booking, now, proposal),
        "move_options": move_options(user, booking, now),
        "outcomes": allowed_outcomes(user, booking, now),
    }


def proposals_to_answer(user: Any, now: dt.datetime, limit: int = 100) -> list[tuple[RescheduleRequest, list[str]]]:
    """Pending proposals on the bookings of ``user``'s teacher pages, each with the answers ``user`` may give."""
    bookings = get_adapter().teacher_rows_managed_by(
        user, get_booking_model().objects.filter(status__in=ACTIVE_BOOKING_STATUSES))
    pending = (RescheduleRequest.objects.filter(status=RescheduleStatus.PENDING, expires_at__gt=now,
                                                booking__in=bookings.values("pk"))
               .select_related("booking", "booking__student", "proposed_by")
               .order_by("expires_at", "pk")[:limit])
    return [(proposal, proposal_answers(user, proposal)) for proposal in pending]
