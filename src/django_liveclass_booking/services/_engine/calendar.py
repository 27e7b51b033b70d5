"""A teacher's calendar: what blocks a time, checked under the teacher lock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError

from ...conf import booking_settings
from ...exceptions import BookingError, PolicyViolation, SlotUnavailable
from ...policy import BookingRequest
from ...policy.rules import LessonDurationRule
from . import availability, expiry, locks, reads


def _pk(teacher: Any) -> Any:
    return getattr(teacher, "pk", teacher)


def windows(teacher: Any) -> list[availability.Window] | None:
    """The teacher's weekly windows, or None when availability is not required."""
    if not booking_settings.REQUIRE_AVAILABILITY:
        return None
    return [availability.Window(*row) for row in reads.windows(_pk(teacher))]


def time_off(teacher: Any, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    return reads.time_off(_pk(teacher), start, end)


def busy_sessions(teacher: Any, start: dt.datetime, end: dt.datetime,
                  now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """(start, end) of the teacher's scheduled sessions meeting [start, end), but not of 1:1 requests
    past their expiry."""
    return [(a, b) for _session, a, b in reads.busy(_pk(teacher), start, end, now=now)]


def refuse_duration(request: BookingRequest) -> None:
    violations = LessonDurationRule().check(request)
    if violations:
        raise PolicyViolation(violations)


def calendar_refusal(teacher: Any, policy: Any, start: dt.datetime, end: dt.datetime,
                     now: dt.datetime, *, excluding: Any = None) -> SlotUnavailable | None:
    """Why [start, end) is not free on the teacher's calendar, or None. Reads only.

    Inside availability, not in time off, clear of scheduled sessions by the buffer (a 1:1 request
    past its expiry does not count). ``excluding``: the primary key of a session being moved, which
    does not stand in its own way.
    """
    if not availability.is_within_availability(start, end, windows(teacher)):
        return SlotUnavailable(code="outside_availability",
                               params={"start": start.isoformat(), "end": end.isoformat()})
    if time_off(teacher, start, end):
        return SlotUnavailable(code="outside_availability",
                               params={"start": start.isoformat(), "end": end.isoformat()})
    buffer = dt.timedelta(minutes=policy.buffer_minutes)
    clash = reads.busy(_pk(teacher), start - buffer, end + buffer, now=now, excluding=excluding, first=True)
    if clash:
        return SlotUnavailable(code="teacher_unavailable",
                               params={"conflicting_session": clash[0][0], "buffer_minutes": policy.buffer_minutes})
    return None


def ensure_teacher_free(teacher: Any, start: dt.datetime, end: dt.datetime, *, excluding: Any = None) -> None:
    """Refuse when the teacher has a scheduled session overlapping [start, end). Call under the teacher lock.

    ``excluding``: the primary key of a session being moved.
    """
    clash = reads.busy(_pk(teacher), start, end, now=None, excluding=excluding, first=True)
    if clash:
        raise SlotUnavailable(code="teacher_unavailable", params={"conflicting_session": clash[0][0]})


def expire_due_lessons_near(teacher: Any, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> None:
    """Under the teacher lock: expire 1:1 requests past their expiry that meet [start, end).

    They no longer block the time, but their sessions are still scheduled rows: expired first, so
    a new session never meets them (nor PostgreSQL's exclusion constraint). Lock order: teacher
    row, then their sessions by ascending pk.
    """
    due = reads.due_lesson_sessions(_pk(teacher), start, end, now)
    if due:
        locks.lock_sessions(due)
        expiry.expire_due_in_sessions(due, now)


def clean_session(session: Any) -> None:
    """Run the model's field validation on a new session; ``invalid_session`` names the bad fields."""
    try:
        session.full_clean(exclude=["teacher"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        fields = sorted(exc.message_dict)
        raise BookingError(
            "Invalid session: " + "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items()),
            code="invalid_session", params={"fields": fields},
        ) from exc
