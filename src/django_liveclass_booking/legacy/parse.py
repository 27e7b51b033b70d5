"""Parsing rows: every export row's fields checked and converted into a typed row, or a problem.

Pure: no database access. A row with an unusable value becomes one :class:`~.report.Problem`
naming the field; the other rows go on. The legacy statuses are checked here against
:data:`SESSION_STATUSES` and :data:`BOOKING_STATUSES`, which the planner maps.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from ..models import BookingStatus, SessionStatus
from ..services._engine.timezones import find_zone
from .report import Problem

#: Legacy session status -> session status. A completed session is a scheduled one in the past.
SESSION_STATUSES = {
    "scheduled": SessionStatus.SCHEDULED,
    "completed": SessionStatus.SCHEDULED,
    "cancelled": SessionStatus.CANCELLED,
}

#: Legacy booking status -> booking status. ``attended`` and ``no_show`` are outcomes: the planner
#: imports them only for a session that has ended, as ``record_outcome`` records them.
BOOKING_STATUSES = {
    "pending": BookingStatus.PENDING,
    "confirmed": BookingStatus.CONFIRMED,
    "booked": BookingStatus.CONFIRMED,
    "attended": BookingStatus.COMPLETED,
    "no_show": BookingStatus.NO_SHOW,
    "cancelled": BookingStatus.CANCELLED,
    "declined": BookingStatus.DECLINED,
}

_MAX_TITLE, _MAX_URL, _MAX_TZ = 200, 500, 64
_MAX_INT = 2**31 - 1  # PositiveIntegerField's range on every backend


#: Parses one export row (a mapping of named fields) at a 1-based position.
_Parser = Callable[[Mapping[str, Any], int], "SessionRow | BookingRow | LessonRow"]


class BadValue(Exception):
    """One row's value is unusable; the message is the problem's reason."""


@dataclass(frozen=True)
class SessionRow:
    id: int
    position: int
    teacher: str
    title: str
    start: dt.datetime
    end: dt.datetime
    duration: int
    timezone: str
    capacity: int
    meeting_url: str
    status: str

    @property
    def ref(self) -> str:
        return f"sessions:{self.id}"


@dataclass(frozen=True)
class BookingRow:
    id: int
    position: int
    student: str
    session: int
    legacy_status: str
    created: dt.datetime | None

    @property
    def ref(self) -> str:
        return f"bookings:{self.id}"


@dataclass(frozen=True)
class LessonRow:
    id: int
    position: int
    student: str
    teacher: str
    start: dt.datetime
    end: dt.datetime
    duration: int
    timezone: str
    meeting_url: str
    legacy_status: str
    created: dt.datetime | None

    @property
    def ref(self) -> str:
        return f"one_on_one_bookings:{self.id}"


@dataclass
class Parsed:
    """The rows that passed validation, and a problem for each that did not."""

    sessions: list[SessionRow] = field(default_factory=list)
    bookings: list[BookingRow] = field(default_factory=list)
    lessons: list[LessonRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Every session id in the export, valid row or not: a booking of an invalid session is
    #: reported as such, not as a booking of an unknown one.
    session_ids: set[int] = field(default_factory=set)

    def usernames(self) -> set[str]:
        return ({r.teacher for r in self.sessions} | {r.student for r in self.bookings}
                | {r.student for r in self.lessons} | {r.teacher for r in self.lessons})

    def session_refs(self) -> list[str]:
        return [r.ref for r in self.sessions] + [r.ref for r in self.lessons]

    def booking_refs(self) -> list[str]:
        return [r.ref for r in self.bookings] + [r.ref for r in self.lessons]

    def time_range(self) -> tuple[dt.datetime, dt.datetime] | None:
        spans = [(r.start, r.end) for r in self.sessions] + [(r.start, r.end) for r in self.lessons]
        if not spans:
            return None
        return min(s for s, _ in spans), max(e for _, e in spans)


def parse_rows(rows: Mapping[str, Iterable[Any]]) -> Parsed:
    """Validate every row's fields and types; no database access. Duplicate ids: the first row wins."""
    parsed = Parsed()
    parsers: dict[str, tuple[_Parser, list[Any]]] = {
        "sessions": (_parse_session, parsed.sessions), "bookings": (_parse_booking, parsed.bookings),
        "one_on_one_bookings": (_parse_lesson, parsed.lessons),
    }
    for table, (parse, into) in parsers.items():
        seen: set[int] = set()
        for position, row in enumerate(rows.get(table) or [], start=1):
            ref = _ref_of(table, row, position)
            if table == "sessions" and ref.partition(":")[2].lstrip("-").isdigit():
                parsed.session_ids.add(int(ref.partition(":")[2]))
            try:
                if not isinstance(row, Mapping):
                    raise BadValue(f"a row must be an object with named fields, not {type(row).__name__}")
                item = parse(row, position)
                if item.id in seen:
                    raise BadValue(f"duplicate id: {ref} appears more than once in the export; the first row is used")
            except BadValue as exc:
                parsed.problems.append(Problem(table, position, ref, str(exc)))
                continue
            seen.add(item.id)
            into.append(item)
    return parsed


_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


def _ref_of(table: str, row: Any, position: int) -> str:
    """``<table>:<id>``; ``<table>:#<row number>`` when the row has no usable id."""
    try:
        return f"{table}:{_int(row, 'id')}"
    except (BadValue, TypeError, AttributeError):
        return f"{table}:#{position}"


def _parse_session(row: Mapping[str, Any], position: int) -> SessionRow:
    tz = _timezone(row)
    status = _choice(row, "status", SESSION_STATUSES)
    start, duration = _start(row, tz), _positive(row, "duration_minutes")
    return SessionRow(
        id=_int(row, "id"), position=position, teacher=_username(row, "teacher"),
        title=_text(row, "title", max_length=_MAX_TITLE), start=start, end=_end(start, duration), duration=duration,
        timezone=tz.key, capacity=_positive(row, "total_seats"), meeting_url=_url(row), status=status,
    )


def _parse_booking(row: Mapping[str, Any], position: int) -> BookingRow:
    return BookingRow(
        id=_int(row, "id"), position=position, student=_username(row, "student"), session=_int(row, "session"),
        legacy_status=_choice(row, "status", BOOKING_STATUSES), created=_created(row),
    )


def _parse_lesson(row: Mapping[str, Any], position: int) -> LessonRow:
    tz = _timezone(row)
    start, duration = _start(row, tz), _positive(row, "duration_minutes")
    return LessonRow(
        id=_int(row, "id"), position=position, student=_username(row, "student"), teacher=_username(row, "teacher"),
        start=start, end=_end(start, duration), duration=duration, timezone=tz.key, meeting_url=_url(row),
        legacy_status=_choice(row, "status", BOOKING_STATUSES), created=_created(row),
    )


def _end(start: dt.datetime, duration: int) -> dt.datetime:
    try:
        return start + dt.timedelta(minutes=duration)
    except OverflowError:
        raise BadValue(f"'duration_minutes' {duration} ends past the last representable date") from None


def _required(row: Mapping[str, Any], name: str) -> Any:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BadValue(f"missing field {name!r}")
    return value.strip() if isinstance(value, str) else value


def _int(row: Mapping[str, Any], name: str) -> int:
    value = _required(row, name)
    # bool is an int in Python, never a count or an id in an export.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # ASCII digits only and a bounded length: str.isdigit() accepts '²', and int() refuses huge strings.
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise BadValue(f"{name!r} must be a whole number, not {value!r}")


def _positive(row: Mapping[str, Any], name: str) -> int:
    value = _int(row, name)
    if value < 1:
        raise BadValue(f"{name!r} must be at least 1, not {value}")
    if value > _MAX_INT:
        raise BadValue(f"{name!r} is too large ({value})")
    return value


def _text(row: Mapping[str, Any], name: str, *, max_length: int) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadValue(f"{name!r} must be text, not {value!r}")
    if len(value.strip()) > max_length:
        raise BadValue(f"{name!r} is longer than {max_length} characters")
    return value.strip()


def _username(row: Mapping[str, Any], name: str) -> str:
    value = _required(row, name)
    if not isinstance(value, str):
        raise BadValue(f"{name!r} must be a username (text), not {value!r}")
    return value


def _choice(row: Mapping[str, Any], name: str, choices: Mapping[str, Any]) -> str:
    value = _required(row, name)
    if not isinstance(value, str) or value.lower() not in choices:
        raise BadValue(f"unknown {name} {value!r} (expected one of: {', '.join(choices)})")
    return value.lower()


def _url(row: Mapping[str, Any]) -> str:
    value = _text(row, "meeting_url", max_length=_MAX_URL)
    if value:
        try:
            URLValidator()(value)
        except ValidationError:
            raise BadValue(f"'meeting_url' is not a valid URL: {value!r}") from None
    return value


def _timezone(row: Mapping[str, Any]) -> zoneinfo.ZoneInfo:
    return parse_timezone(_required(row, "timezone"))


def parse_timezone(name: Any) -> zoneinfo.ZoneInfo:
    """The zone of an IANA name; ``BadValue`` for anything else (the ``timezone`` field's problem)."""
    if not isinstance(name, str) or len(name) > _MAX_TZ:
        raise BadValue(f"'timezone' must be an IANA name such as 'Europe/London', not {name!r}")
    found = find_zone(name)
    if found is None:
        raise BadValue(f"unknown timezone {name!r} (expected an IANA name such as 'Europe/London')")
    return found


def _datetime(row: Mapping[str, Any], name: str) -> dt.datetime:
    value = _required(row, name)
    parsed = None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            parsed = dt.datetime.fromisoformat(value)
    if parsed is None:
        raise BadValue(f"{name!r} must be an ISO 8601 date and time, not {value!r}")
    # Years 1 and 9999 parse, but the overlap checks step past them and would overflow.
    if not dt.MINYEAR + 1 < parsed.year < dt.MAXYEAR - 1:
        raise BadValue(f"{name!r} {value!r} is out of range")
    return parsed


def _start(row: Mapping[str, Any], tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """``scheduled_start`` in UTC: a naive value is wall-clock time in ``tz``, an offset is kept."""
    value = _datetime(row, "scheduled_start")
    try:
        if value.tzinfo is not None and value.utcoffset() is not None:
            return value.astimezone(dt.UTC)
        return localize(value, tz).astimezone(dt.UTC)
    except OverflowError:
        raise BadValue(f"'scheduled_start' {value.isoformat()} is out of range") from None


def localize(naive: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """Attach ``tz`` to a wall-clock time; refuse a time the clocks skip or show twice.

    Guessing either way would move a class by an hour without anyone noticing, so a DST gap or
    fold is a problem for a person to resolve in the export.
    """
    first, second = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    when = f"{naive:%Y-%m-%d %H:%M} in {tz.key}"
    # A skipped time does not survive the round trip through UTC; a repeated one does.
    if first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise BadValue(f"'scheduled_start' {when} does not exist (the clocks skip it at the DST change); "
                   "give it a UTC offset or correct it")
    raise BadValue(f"'scheduled_start' {when} is ambiguous (it happens twice when the clocks go back); "
               "give it a UTC offset to say which")


def _created(row: Mapping[str, Any]) -> dt.datetime | None:
    """When the legacy booking was made; optional (the id then orders it). Naive means UTC."""
    if row.get("created") in (None, ""):
        return None
    value = _datetime(row, "created")
    try:
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except OverflowError:
        raise BadValue(f"'created' {value.isoformat()} is out of range") from None
