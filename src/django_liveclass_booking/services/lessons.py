"""1:1 lessons: free slots on a teacher's calendar, and requesting one."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError

from ..conf import booking_settings
from ..exceptions import BookingError
from ..models import AbstractLiveClassBooking, SessionKind, TeacherBookingPolicy
from ..policy import BookingRequest
from ._engine import availability, calendar, db, dberrors, inputs, lessons
from ._engine.actors import require_user, require_users
from ._engine.guard import keeps_arguments_on_refusal
from ._engine.types import User

__all__ = ["available_slots", "request_lesson"]


@keeps_arguments_on_refusal
def available_slots(
    teacher: User, *, start: dt.datetime, end: dt.datetime, duration: dt.timedelta | int,
    now: dt.datetime | None = None,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Free (start, end) UTC pairs for a 1:1 lesson of ``duration`` within [start, end).

    Inside the teacher's availability windows, outside time off, clear of other sessions by the
    policy's buffer, within minimum notice and maximum advance, on a grid of
    ``SLOT_STEP_MINUTES`` from each window's start. Four queries whatever the range; a range longer
    than 92 days is refused (``range_too_long``).
    """
    require_user(teacher, "teacher")
    current = inputs.resolve_now(now)
    range_start, range_end = inputs.aware(start, "start"), inputs.aware(end, "end")
    length = dt.timedelta(minutes=inputs.minutes(duration))
    if range_end <= range_start:
        raise BookingError("end must be after start.", code="end_before_start")
    if range_end - range_start > inputs.MAX_SLOT_RANGE:
        raise BookingError(f"Ask for at most {inputs.MAX_SLOT_RANGE.days} days of slots at a time.",
                           code="range_too_long", params={"max_days": inputs.MAX_SLOT_RANGE.days})
    policy = TeacherBookingPolicy.for_teacher(teacher)
    calendar.refuse_duration(BookingRequest(student=None, teacher_id=teacher.pk, kind=SessionKind.ONE_ON_ONE,
                                            start=range_start, end=range_start + length, now=current,
                                            policy=policy))
    buffer = dt.timedelta(minutes=policy.buffer_minutes)
    busy = calendar.busy_sessions(teacher, range_start - buffer, range_end + buffer, current)
    return availability.free_slots(
        range_start=range_start, range_end=range_end, duration=length,
        step=dt.timedelta(minutes=booking_settings.SLOT_STEP_MINUTES), windows=calendar.windows(teacher),
        day_timezone=policy.timezone, time_off=calendar.time_off(teacher, range_start, range_end), busy=busy,
        buffer=buffer, earliest=current + dt.timedelta(minutes=policy.min_notice_minutes),
        latest=None if policy.max_advance_days is None else current + dt.timedelta(days=policy.max_advance_days),
    )


@keeps_arguments_on_refusal
def request_lesson(
    student: User, teacher: User, *, start: dt.datetime, duration: dt.timedelta | int,
    now: dt.datetime | None = None, message: str = "",
) -> AbstractLiveClassBooking:
    """Ask ``teacher`` for a 1:1 lesson: creates a ``one_on_one`` session (capacity 1) and its booking.

    The booking is ``confirmed``, or ``pending`` when the policy asks for approval (it then expires
    after ``request_ttl_hours`` or at its start). Raises ``PolicyViolation`` (every rule's
    violations), ``SlotUnavailable`` (``outside_availability``, ``teacher_unavailable``) and
    ``BookingError`` (``naive_datetime``, ``invalid_duration``, ``own_session``, ``invalid_user``,
    ``invalid_text``).
    """
    require_users(student=student, teacher=teacher)
    current = inputs.resolve_now(now)
    start_utc = inputs.aware(start, "start")
    length = inputs.minutes(duration)
    end_utc = inputs.end_after(start_utc, length)
    message = inputs.text(message, "message")
    if student.pk == teacher.pk:
        raise BookingError("A teacher cannot request a lesson from themselves.", code="own_session")
    try:
        with db.atomic():
            return lessons.request(student, teacher, start_utc, end_utc, length, message, current)
    except IntegrityError as exc:
        dberrors.raise_if_overlap(exc)
        raise

