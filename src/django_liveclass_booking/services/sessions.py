"""Scheduling and cancelling sessions on a teacher's calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .. import signals
from ..adapter import get_adapter
from ..exceptions import BookingError, InvalidTransition, SlotUnavailable
from .lessons import expire_due_lessons_near
from ..models import (
    ACTIVE_BOOKING_STATUSES,
    OPEN_WAITLIST_STATUSES,
    BookingStatus,
    SessionKind,
    SessionStatus,
    SessionWaitlist,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from ._common import (
    SYSTEM,
    aware,
    is_system,
    lock_teacher,
    minutes,
    raise_if_overlap,
    require,
    require_actor,
    resolve_now,
    send_after_commit,
    timezone_name,
)


def _validate_capacity(capacity: Any) -> int:
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
        raise BookingError(
            f"capacity must be a whole number of seats, at least 1 (got {capacity!r}).",
            code="invalid_capacity", params={"value": capacity},
        )
    return capacity


def ensure_teacher_free(teacher: Any, start: dt.datetime, end: dt.datetime) -> None:
    """Refuse when the teacher has a scheduled session overlapping [start, end). Call under lock_teacher."""
    Session = get_session_model()
    clash = (
        Session.objects.filter(teacher=teacher, status=SessionStatus.SCHEDULED)
        .overlapping(start, end)
        .values_list("pk", flat=True)
        .first()
    )
    if clash is not None:
        raise SlotUnavailable(
            "The teacher already has a session at that time.",
            code="teacher_unavailable", params={"conflicting_session": clash},
        )


def _clean(session: Any) -> None:
    try:
        session.full_clean(exclude=["teacher"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        fields = sorted(exc.message_dict)
        raise BookingError(
            "Invalid session: " + "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items()),
            code="invalid_session", params={"fields": fields},
        ) from exc


def schedule_session(
    teacher: Any,
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
) -> Any:
    """Put a group session on the teacher's calendar.

    Raises ``BookingError`` (``naive_datetime``, ``invalid_duration``, ``invalid_capacity``,
    ``invalid_timezone``, ``start_in_past``, ``invalid_session``) for bad input and
    ``SlotUnavailable`` (``teacher_unavailable``) when it overlaps another scheduled session.
    """
    start_utc = aware(start, "start")
    length = minutes(duration)
    seats = _validate_capacity(capacity)
    tz_name = timezone_name(timezone) if timezone is not None else None
    current = resolve_now(now)
    if start_utc <= current:
        raise BookingError("A session cannot start in the past.", code="start_in_past",
                           params={"start": start_utc.isoformat()})
    end_utc = start_utc + dt.timedelta(minutes=length)
    Session = get_session_model()
    session = Session(
        teacher=teacher, kind=SessionKind.GROUP, title=title, start_at_utc=start_utc, end_at_utc=end_utc,
        duration_minutes=length, capacity=seats, meeting_provider=meeting_provider, meeting_url=meeting_url,
        meeting_passcode=meeting_passcode, timezone_snapshot=tz_name or "UTC",
    )
    _clean(session)
    try:
        with transaction.atomic():
            policy = lock_teacher(teacher)
            # A lesson request past its expiry does not hold the time, even before the sweep.
            expire_due_lessons_near(teacher, start_utc, end_utc, current)
            ensure_teacher_free(teacher, start_utc, end_utc)
            if tz_name is None:
                session.timezone_snapshot = get_adapter().get_user_timezone(teacher) or policy.timezone
            session.save(force_insert=True)
    except IntegrityError as exc:
        session.pk = None
        raise_if_overlap(exc)
        raise
    return session


def cancel_session(session: Any, *, actor: Any, reason: str = "", now: dt.datetime | None = None) -> Any:
    """Cancel a session: its active bookings become ``cancelled``, its open waitlist entries ``left``.

    The teacher, a manager, or ``SYSTEM`` may do it (``NotAllowed`` otherwise); an already
    cancelled session raises ``InvalidTransition``. Signals: ``booking_cancelled`` per booking,
    then ``session_cancelled``.
    """
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_manage_session(actor, session),
            "Only the teacher or a manager may cancel this session.")
    current = resolve_now(now)
    Session = get_session_model()
    Booking = get_booking_model()
    actor_id = None if is_system(actor) else actor.pk
    with transaction.atomic():
        locked = Session.objects.select_for_update().filter(pk=session.pk).first()
        if locked is None or locked.status != SessionStatus.SCHEDULED:
            raise InvalidTransition("This session is already cancelled.", code="invalid_transition",
                                    params={"from": getattr(locked, "status", None), "to": SessionStatus.CANCELLED})
        # The session row lock serialises every change to this session's seats and bookings, so
        # the set read here is exactly the set the UPDATE below cancels.
        bookings = list(Booking.objects.filter(session_id=locked.pk, status__in=ACTIVE_BOOKING_STATUSES))
        if bookings:
            Booking.objects.filter(pk__in=[b.pk for b in bookings], status__in=ACTIVE_BOOKING_STATUSES).update(
                status=BookingStatus.CANCELLED, status_changed=current, cancelled_at=current,
                cancelled_by_id=actor_id, reason=reason,
            )
        SessionWaitlist.objects.filter(session_id=locked.pk, status__in=OPEN_WAITLIST_STATUSES).update(
            status=WaitlistStatus.LEFT, status_changed=current
        )
        Session.objects.filter(pk=locked.pk).update(
            status=SessionStatus.CANCELLED, status_changed=current, seats_taken=0, cancellation_reason=reason
        )
        for booking in bookings:
            booking.status, booking.status_changed = BookingStatus.CANCELLED, current
            booking.cancelled_at, booking.cancelled_by_id, booking.reason = current, actor_id, reason
            send_after_commit(signals.booking_cancelled, type(booking), booking=booking)
        session.status, session.status_changed = SessionStatus.CANCELLED, current
        session.seats_taken, session.cancellation_reason = 0, reason
        send_after_commit(signals.session_cancelled, type(session), session=session)
    return session


__all__ = ["SYSTEM", "cancel_session", "ensure_teacher_free", "schedule_session"]
