"""1:1 lessons: free slots on a teacher's calendar, and requesting one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from .. import availability, signals
from ..conf import booking_settings
from ..exceptions import BookingError, SlotUnavailable
from ..models import (
    BookingSource,
    BookingStatus,
    SessionKind,
    SessionStatus,
    TeacherAvailability,
    TeacherBookingPolicy,
    TeacherTimeOff,
    get_booking_model,
    get_session_model,
)
from ..policy import BookingRequest, evaluate
from ..policy.rules import LessonDurationRule
from . import expiry
from ._common import aware, lock_teacher, minutes, raise_if_overlap, require, resolve_now, send_after_commit


def _windows(teacher: Any) -> list[availability.Window] | None:
    if not booking_settings.REQUIRE_AVAILABILITY:
        return None
    return [
        availability.Window(w.weekday, w.start_time, w.end_time, w.timezone)
        for w in TeacherAvailability.objects.filter(teacher=teacher)
    ]


def _busy_sessions(teacher: Any, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> Any:
    """The teacher's scheduled sessions meeting [start, end), but not 1:1 requests past their expiry."""
    due_lesson = Q(kind=SessionKind.ONE_ON_ONE, bookings__status=BookingStatus.PENDING, bookings__expires_at__lte=now)
    return (
        get_session_model().objects.filter(teacher=teacher, status=SessionStatus.SCHEDULED)
        .overlapping(start, end).exclude(due_lesson)
    )


def _refuse_duration(request: BookingRequest) -> None:
    violations = LessonDurationRule().check(request)
    if violations:
        from ..exceptions import PolicyViolation

        raise PolicyViolation(violations)


def available_slots(
    teacher: Any, *, start: dt.datetime, end: dt.datetime, duration: dt.timedelta | int,
    now: dt.datetime | None = None,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Free (start, end) UTC pairs for a 1:1 lesson of ``duration`` within [start, end).

    Inside the teacher's availability windows, outside time off, clear of other sessions by the
    policy's buffer, within minimum notice and maximum advance, on a grid of
    ``SLOT_STEP_MINUTES`` from each window's start. Four queries whatever the range.
    """
    current = resolve_now(now)
    range_start, range_end = aware(start, "start"), aware(end, "end")
    length = dt.timedelta(minutes=minutes(duration))
    if range_end <= range_start:
        raise BookingError("end must be after start.", code="end_before_start")
    policy = TeacherBookingPolicy.for_teacher(teacher)
    _refuse_duration(BookingRequest(student=None, teacher_id=teacher.pk, kind=SessionKind.ONE_ON_ONE,
                                    start=range_start, end=range_start + length, now=current, policy=policy))
    buffer = dt.timedelta(minutes=policy.buffer_minutes)
    time_off = list(TeacherTimeOff.objects.filter(teacher=teacher, start_at_utc__lt=range_end, end_at_utc__gt=range_start)
                    .values_list("start_at_utc", "end_at_utc"))
    busy = list(_busy_sessions(teacher, range_start - buffer, range_end + buffer, current)
                .values_list("start_at_utc", "end_at_utc"))
    return availability.free_slots(
        range_start=range_start, range_end=range_end, duration=length,
        step=dt.timedelta(minutes=booking_settings.SLOT_STEP_MINUTES), windows=_windows(teacher),
        day_timezone=policy.timezone, time_off=time_off, busy=busy, buffer=buffer,
        earliest=current + dt.timedelta(minutes=policy.min_notice_minutes),
        latest=None if policy.max_advance_days is None else current + dt.timedelta(days=policy.max_advance_days),
    )


def calendar_refusal(teacher: Any, policy: Any, start: dt.datetime, end: dt.datetime,
                     now: dt.datetime) -> SlotUnavailable | None:
    """Why [start, end) is not free on the teacher's calendar, or None. Reads only.

    Inside availability, not in time off, clear of scheduled sessions by the buffer (a 1:1 request
    past its expiry does not count).
    """
    if not availability.is_within_availability(start, end, _windows(teacher)):
        return SlotUnavailable("That time is outside the teacher's availability.", code="outside_availability",
                               params={"start": start.isoformat(), "end": end.isoformat()})
    if TeacherTimeOff.objects.filter(teacher=teacher, start_at_utc__lt=end, end_at_utc__gt=start).exists():
        return SlotUnavailable("The teacher is away at that time.", code="outside_availability",
                               params={"start": start.isoformat(), "end": end.isoformat()})
    buffer = dt.timedelta(minutes=policy.buffer_minutes)
    clash = _busy_sessions(teacher, start - buffer, end + buffer, now).values_list("pk", flat=True).first()
    if clash is not None:
        return SlotUnavailable("The teacher already has a session at that time.", code="teacher_unavailable",
                               params={"conflicting_session": clash, "buffer_minutes": policy.buffer_minutes})
    return None


def expire_due_lessons_near(teacher: Any, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> None:
    """Under the teacher lock: expire 1:1 requests past their expiry that meet [start, end).

    They no longer block the time, but their sessions are still scheduled rows: expired first, so
    a new session never meets them (nor PostgreSQL's exclusion constraint). Lock order: teacher
    row, then their sessions by ascending pk.
    """
    due = list(get_booking_model().objects.due_to_expire(now)
               .filter(teacher=teacher, kind=SessionKind.ONE_ON_ONE)
               .filter(start_at_utc__lt=end, end_at_utc__gt=start)
               .values_list("session_id", flat=True))
    if due:
        list(get_session_model().objects.select_for_update().filter(pk__in=due).order_by("pk")
             .values_list("pk", flat=True))
        expiry.expire_due_in_sessions(due, now)


def request_lesson(
    student: Any, teacher: Any, *, start: dt.datetime, duration: dt.timedelta | int,
    now: dt.datetime | None = None, message: str = "",
) -> Any:
    """Ask ``teacher`` for a 1:1 lesson: creates a ``one_on_one`` session (capacity 1) and its booking.

    The booking is ``confirmed``, or ``pending`` when the policy asks for approval (it then expires
    after ``request_ttl_hours`` or at its start). Raises ``PolicyViolation`` (every rule's
    violations), ``SlotUnavailable`` (``outside_availability``, ``teacher_unavailable``) and
    ``BookingError`` (``naive_datetime``, ``invalid_duration``, ``own_session``).
    """
    current = resolve_now(now)
    start_utc = aware(start, "start")
    length = minutes(duration)
    end_utc = start_utc + dt.timedelta(minutes=length)
    require(student is not None and getattr(student, "is_authenticated", False), "Only a signed-in student may request a lesson.")
    if student.pk == teacher.pk:
        raise BookingError("A teacher cannot request a lesson from themselves.", code="own_session")
    Session, Booking = get_session_model(), get_booking_model()
    try:
        with transaction.atomic():
            policy = lock_teacher(teacher)
            request = BookingRequest(student=student, teacher_id=teacher.pk, kind=SessionKind.ONE_ON_ONE,
                                     start=start_utc, end=end_utc, now=current, policy=policy, _teacher=teacher)
            decision = evaluate(request)
            decision.raise_if_refused()
            refusal = calendar_refusal(teacher, policy, start_utc, end_utc, current)
            if refusal is not None:
                raise refusal
            buffer = dt.timedelta(minutes=policy.buffer_minutes)
            expire_due_lessons_near(teacher, start_utc - buffer, end_utc + buffer, current)
            pending = decision.requires_approval
            session = Session.objects.create(
                teacher=teacher, kind=SessionKind.ONE_ON_ONE, start_at_utc=start_utc, end_at_utc=end_utc,
                duration_minutes=length, capacity=1, seats_taken=1, timezone_snapshot=policy.timezone,
            )
            booking = Booking.objects.create(
                session=session, student=student, teacher=teacher, kind=SessionKind.ONE_ON_ONE,
                start_at_utc=start_utc, end_at_utc=end_utc, message=message, status_changed=current,
                status=BookingStatus.PENDING if pending else BookingStatus.CONFIRMED, source=BookingSource.DIRECT,
                decided_at=None if pending else current,
                expires_at=expiry.request_expiry(policy.request_ttl_hours, current, start_utc) if pending else None,
            )
            send_after_commit(signals.booking_requested if pending else signals.booking_confirmed, Booking,
                              booking=booking)
    except IntegrityError as exc:
        raise_if_overlap(exc)
        raise
    return booking


__all__ = ["available_slots", "calendar_refusal", "request_lesson"]
