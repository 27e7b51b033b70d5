"""Scheduling and cancelling sessions on a teacher's calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError

from .. import signals
from ..adapter import get_adapter
from ..exceptions import BookingError, InvalidTransition
from ..models import (
    ACTIVE_BOOKING_STATUSES,
    OPEN_WAITLIST_STATUSES,
    AbstractLiveClassSession,
    SessionKind,
    SessionStatus,
    SessionWaitlist,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from ._engine import (
    calendar,
    classchange,
    db,
    dberrors,
    inputs,
    lifecycle,
    locks,
    seats,
    transitions,
)
from ._engine.actors import (
    SYSTEM,
    actor_id,
    is_system,
    require,
    require_actor,
    require_user,
)
from ._engine.events import send_after_commit
from ._engine.guard import keeps_arguments_on_refusal
from ._engine.timezones import zone_name
from ._engine.types import Actor, User

__all__ = ["schedule_session", "cancel_session", "reschedule_session", "update_session", "SYSTEM"]


@keeps_arguments_on_refusal
def schedule_session(
    teacher: User,
    *,
    start: dt.datetime,
    duration: dt.timedelta | int,
    capacity: int,
    title: str = "",
    timezone: Any = None,
    meeting_provider: str = "",
    meeting_url: str = "",
    meeting_passcode: str = "",
    now: dt.datetime | None = None,
) -> AbstractLiveClassSession:
    """Put a group session on the teacher's calendar.

    Raises ``BookingError`` (``naive_datetime``, ``invalid_duration``, ``invalid_capacity``,
    ``invalid_timezone``, ``start_in_past``, ``invalid_session``, ``invalid_text``, ``invalid_user``) for
    bad input and ``SlotUnavailable`` (``teacher_unavailable``) when it overlaps another scheduled session.
    """
    require_user(teacher, "teacher")
    start_utc = inputs.aware(start, "start")
    length = inputs.minutes(duration)
    seats_n = inputs.capacity(capacity)
    for name, value in (("title", title), ("meeting_provider", meeting_provider), ("meeting_url", meeting_url),
                        ("meeting_passcode", meeting_passcode)):
        inputs.text(value, name)
    tz_name = zone_name(timezone) if timezone is not None else None
    current = inputs.resolve_now(now)
    if start_utc <= current:
        raise BookingError(code="start_in_past",
                           params={"start": start_utc.isoformat()})
    end_utc = inputs.end_after(start_utc, length)
    Session = get_session_model()
    session = Session(
        teacher=teacher, kind=SessionKind.GROUP, title=title, start_at_utc=start_utc, end_at_utc=end_utc,
        duration_minutes=length, capacity=seats_n, meeting_provider=meeting_provider, meeting_url=meeting_url,
        meeting_passcode=meeting_passcode, timezone_snapshot=tz_name or "UTC",
    )
    transitions.begin(session, SessionStatus.SCHEDULED, current)
    calendar.clean_session(session)
    try:
        with db.atomic():
            policy = locks.lock_teacher(teacher)
            # A lesson request past its expiry does not hold the time, even before the sweep.
            calendar.expire_due_lessons_near(teacher, start_utc, end_utc, current)
            calendar.ensure_teacher_free(teacher, start_utc, end_utc)
            if tz_name is None:
                session.timezone_snapshot = get_adapter().get_user_timezone(teacher) or policy.timezone
            session.save(force_insert=True, using=db.alias())
    except IntegrityError as exc:
        session.pk = None
        dberrors.raise_if_overlap(exc)
        raise
    return session


@keeps_arguments_on_refusal
def cancel_session(session: AbstractLiveClassSession, *, actor: Actor, reason: str = "",
                   now: dt.datetime | None = None) -> AbstractLiveClassSession:
    """Cancel a session: its active bookings become ``cancelled``, its open waitlist entries ``left``.

    Whoever the adapter's ``can_manage_session`` allows (the teacher, a manager) or ``SYSTEM``
    (``NotAllowed`` otherwise); an already cancelled session raises ``InvalidTransition``, one that
    has started ``session_closed`` (what happened in it is recorded with ``record_outcome()``).
    Signals: ``booking_cancelled`` per booking, then ``session_cancelled``.
    """
    inputs.session(session)
    reason = inputs.text(reason, "reason")
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_manage_session(actor, session),
            "Only the teacher or a manager may cancel this session.")
    current = inputs.resolve_now(now)
    Booking = get_booking_model()
    using = db.alias()
    with db.atomic():
        locked = locks.lock_session(session.pk)
        if locked is None or locked.status != SessionStatus.SCHEDULED:
            raise InvalidTransition(code="invalid_transition",
                                    params={"from": getattr(locked, "status", None), "to": SessionStatus.CANCELLED})
        if locked.start_at_utc <= current:
            raise BookingError(code="session_closed", params={"session": locked.pk})
        # The session row lock serialises every change to this session's seats and bookings, so
        # the set read here is exactly the set the UPDATE below cancels.
        bookings = lifecycle.cancel_in_session(
            Booking.objects.using(using).filter(session_id=locked.pk, status__in=ACTIVE_BOOKING_STATUSES),
            current, cancelled_at=current, cancelled_by_id=actor_id(actor), reason=reason)
        transitions.move_rows(SessionWaitlist.objects.using(using).filter(session_id=locked.pk,
                                                                          status__in=OPEN_WAITLIST_STATUSES),
                              WaitlistStatus.LEFT, current)
        fields: dict[str, Any] = {"cancellation_reason": reason, **seats.emptied()}
        transitions.move(session, SessionStatus.CANCELLED, current, **fields)
        for booking in bookings:
            send_after_commit(signals.booking_cancelled, type(booking), booking=booking)
        send_after_commit(signals.session_cancelled, type(session), session=session)
    return session


@keeps_arguments_on_refusal
def reschedule_session(session: AbstractLiveClassSession, *, start: dt.datetime, actor: Actor,
                       duration: dt.timedelta | int | None = None,
                       now: dt.datetime | None = None) -> AbstractLiveClassSession:
    """Move a whole group class to a new ``start`` (and ``duration``; None keeps it), with its bookings.

    Whoever the adapter's ``can_manage_session`` allows (the teacher, a manager) or ``SYSTEM``
    (``NotAllowed`` otherwise). Every pending and confirmed booking moves with the class and gets a
    ``rescheduled`` booking event; a pending request's expiry follows the new start; open waitlist
    entries stay, and an offer never outlives the new start. The new time is checked as
    ``schedule_session`` checks one: in the future (``start_in_past``), at most a day long
    (``invalid_duration``), clear of the teacher's other sessions (``SlotUnavailable``,
    ``teacher_unavailable``). Refuses ``not_a_lesson`` for a 1:1 lesson's session (use
    ``request_reschedule``) and ``session_closed`` for a cancelled or started session. The same
    time again changes nothing and sends nothing. Signals: ``booking_rescheduled`` per booking,
    then ``session_rescheduled``.
    """
    inputs.session(session)
    start_utc = inputs.aware(start, "start")
    length = session.duration_minutes if duration is None else inputs.minutes(duration)
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_manage_session(actor, session),
            "Only the teacher or a manager may reschedule this session.")
    current = inputs.resolve_now(now)
    if session.kind != SessionKind.GROUP:
        raise BookingError(code="not_a_lesson", params={"session": session.pk})
    if session.status != SessionStatus.SCHEDULED or session.start_at_utc <= current:
        raise BookingError(code="session_closed", params={"session": session.pk})
    if start_utc <= current:
        raise BookingError(code="start_in_past", params={"start": start_utc.isoformat()})
    end_utc = inputs.end_after(start_utc, length)
    if (start_utc, end_utc) == (session.start_at_utc, session.end_at_utc):
        return session
    classchange.reschedule(session, start_utc, end_utc, length, current, actor_id(actor))
    return session


@keeps_arguments_on_refusal
def update_session(session: AbstractLiveClassSession, *, actor: Actor, title: str | None = None,
                   capacity: int | None = None, meeting_provider: str | None = None,
                   meeting_url: str | None = None, meeting_passcode: str | None = None,
                   now: dt.datetime | None = None) -> AbstractLiveClassSession:
    """Change a session's title, capacity or meeting details; None leaves a field as it is.

    Whoever the adapter's ``can_manage_session`` allows (the teacher, a manager) or ``SYSTEM``
    (``NotAllowed`` otherwise). A 1:1 lesson's session takes a title and meeting details too (a
    confirmed lesson gets its link this way), but no capacity (``not_a_group_session``). A capacity
    below the seats already taken is refused (``capacity_below_taken``, ``params["taken"]``), judged
    under the session's lock; seats a larger capacity adds are offered to the waitlist in the same
    transaction. Text as ``schedule_session`` takes it (``invalid_text`` past a column's length,
    ``invalid_session`` for a meeting URL that is not one). A cancelled session raises
    ``session_closed``. Writes no booking event. Signals: ``session_updated``, then
    ``waitlist_seat_offered`` per offer.
    """
    inputs.session(session)
    given = {"title": title, "meeting_provider": meeting_provider, "meeting_url": meeting_url,
             "meeting_passcode": meeting_passcode}
    changes = {name: inputs.text(value, name, max_length=classchange.column_length(name))
               for name, value in given.items() if value is not None}
    seats_n = None if capacity is None else inputs.capacity(capacity)
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_manage_session(actor, session),
            "Only the teacher or a manager may change this session.")
    current = inputs.resolve_now(now)
    if session.status != SessionStatus.SCHEDULED:
        raise BookingError(code="session_closed", params={"session": session.pk})
    if seats_n is not None and session.kind != SessionKind.GROUP:
        raise BookingError(code="not_a_group_session", params={"session": session.pk})
    if changes:
        calendar.clean_session(classchange.with_values(session, changes))
    if not changes and seats_n is None:
        return session
    classchange.update(session, changes, seats_n, current)
    return session
