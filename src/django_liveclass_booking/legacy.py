"""Import a legacy booking export (group sessions, seat bookings, 1:1 bookings) into the unified models.

Three steps, so that a dry run and the real import share every decision:

1. **Read** (:func:`read_export`): a JSON document, or a folder of CSV files, into plain row dicts.
2. **Plan** (:func:`parse_rows`, :func:`plan_import`): validate and map every row. Pure: it gets
   the database facts it needs (users, rows imported before, the teachers' calendars and
   policies) in a :class:`Context` loaded in a constant number of queries, and returns a
   :class:`Plan` of model field values plus one :class:`Problem` per row it cannot import.
3. **Apply** (:func:`apply_plan`): bulk inserts, in one transaction with the context.

:func:`import_rows` runs them; ``manage.py liveclass_booking import_legacy`` and data migrations
call it. Every imported row keeps ``external_ref = "<table>:<id>"``, so a second run only finds
rows it imported before ("unchanged") and writes nothing for them. Nothing already imported is
ever updated. The import sends no signals: it records history, nobody is to be notified of it.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import json
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Case, F, IntegerField, Value, When

from .models import (
    ACTIVE_BOOKING_STATUSES,
    BookingSource,
    BookingStatus,
    SessionKind,
    SessionStatus,
    TeacherBookingPolicy,
    get_booking_model,
    get_session_model,
)
from .services._engine.inputs import resolve_now
from .services._engine.expiry import request_expiry

#: The export's tables, in the order they are planned and reported.
TABLES = ("sessions", "bookings", "one_on_one_bookings")

#: Legacy session status -> session status. A completed session is a scheduled one in the past.
SESSION_STATUSES = {
    "scheduled": SessionStatus.SCHEDULED,
    "completed": SessionStatus.SCHEDULED,
    "cancelled": SessionStatus.CANCELLED,
}

#: Legacy booking status -> (booking status, reason stored on the booking).
#: ``attended`` and ``no_show`` are confirmed bookings in the past; a no-show keeps that fact as
#: its reason, since the unified model has no attendance status.
BOOKING_STATUSES = {
    "pending": (BookingStatus.PENDING, ""),
    "confirmed": (BookingStatus.CONFIRMED, ""),
    "booked": (BookingStatus.CONFIRMED, ""),
    "attended": (BookingStatus.CONFIRMED, ""),
    "no_show": (BookingStatus.CONFIRMED, "no_show"),
    "cancelled": (BookingStatus.CANCELLED, ""),
    "declined": (BookingStatus.DECLINED, ""),
}

#: Lookups with ``__in`` are split in chunks of this size (backends cap query parameters).
CHUNK = 500

_MAX_TITLE, _MAX_URL, _MAX_TZ = 200, 500, 64
_MAX_INT = 2**31 - 1  # PositiveIntegerField's range on every backend


class LegacyImportError(Exception):
    """The export as a whole cannot be read (missing file, malformed JSON, wrong shape)."""


@dataclass(frozen=True)
class Problem:
    """A row that is not imported (or not as it was), with the reason."""

    table: str
    position: int  # 1-based row number in its table: orders the report like the export
    ref: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "reason": self.reason}


# --- 1. reading -----------------------------------------------------------------------------

Rows = dict[str, list[Any]]


def read_export(path: str | Path) -> Rows:
    """Read a JSON export file, or a folder of ``<table>.csv`` files, into rows per table.

    A table missing from the document (or a missing CSV file) is empty. Raises
    ``LegacyImportError`` when the path cannot be read or is not an export at all.
    """
    source = Path(path)
    if source.is_dir():
        return _read_csv_folder(source)
    if not source.exists():
        raise LegacyImportError(f"{source}: no such file or folder.")
    return _read_json(source)


def _read_json(source: Path) -> Rows:
    try:
        document = json.loads(source.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise LegacyImportError(f"{source}: cannot read it ({exc.strerror or exc}).") from exc
    except UnicodeDecodeError as exc:
        raise LegacyImportError(f"{source}: not UTF-8 text ({exc.reason}).") from exc
    except json.JSONDecodeError as exc:
        raise LegacyImportError(
            f"{source}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from exc
    if not isinstance(document, dict):
        raise LegacyImportError(f"{source}: expected a JSON object with {', '.join(TABLES)}; "
                                f"got {type(document).__name__}.")
    rows: Rows = {}
    for table in TABLES:
        value = document.get(table) or []
        if not isinstance(value, list):
            raise LegacyImportError(f"{source}: {table!r} must be a list of rows, not {type(value).__name__}.")
        rows[table] = value
    return rows


def _read_csv_folder(folder: Path) -> Rows:
    files = {table: folder / f"{table}.csv" for table in TABLES}
    if not any(file.exists() for file in files.values()):
        raise LegacyImportError(f"{folder}: none of {', '.join(f'{t}.csv' for t in TABLES)} is in this folder.")
    rows: Rows = {}
    for table, file in files.items():
        if not file.exists():
            rows[table] = []
            continue
        try:
            # utf-8-sig: spreadsheets often save a byte order mark.
            with file.open(encoding="utf-8-sig", newline="") as handle:
                rows[table] = [_blank_is_missing(row) for row in csv.DictReader(handle)]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise LegacyImportError(f"{file}: cannot read it ({exc}).") from exc
    return rows


def _blank_is_missing(row: dict[str | None, Any]) -> dict[str, Any]:
    # CSV has no null: an empty cell is a missing value, as an absent key is in JSON.
    return {key: (None if value in ("", None) else value) for key, value in row.items() if key is not None}


# --- 2a. parsing rows (pure) --------------------------------------------------------------------


class _Bad(Exception):
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
        spans = [(r.start, r.end) for r in (*self.sessions, *self.lessons)]
        if not spans:
            return None
        return min(s for s, _ in spans), max(e for _, e in spans)


def parse_rows(rows: Mapping[str, Iterable[Any]]) -> Parsed:
    """Validate every row's fields and types; no database access. Duplicate ids: the first row wins."""
    parsed = Parsed()
    parsers = {"sessions": (_parse_session, parsed.sessions), "bookings": (_parse_booking, parsed.bookings),
               "one_on_one_bookings": (_parse_lesson, parsed.lessons)}
    for table, (parse, into) in parsers.items():
        seen: set[int] = set()
        for position, row in enumerate(rows.get(table) or [], start=1):
            ref = _ref_of(table, row, position)
            if table == "sessions" and ref.partition(":")[2].lstrip("-").isdigit():
                parsed.session_ids.add(int(ref.partition(":")[2]))
            try:
                if not isinstance(row, Mapping):
                    raise _Bad(f"a row must be an object with named fields, not {type(row).__name__}")
                item = parse(row, position)
                if item.id in seen:
                    raise _Bad(f"duplicate id: {ref} appears more than once in the export; the first row is used")
            except _Bad as exc:
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
    except (_Bad, TypeError, AttributeError):
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
        raise _Bad(f"'duration_minutes' {duration} ends past the last representable date") from None


def _required(row: Mapping[str, Any], name: str) -> Any:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Bad(f"missing field {name!r}")
    return value.strip() if isinstance(value, str) else value


def _int(row: Mapping[str, Any], name: str) -> int:
    value = _required(row, name)
    # bool is an int in Python, never a count or an id in an export.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # ASCII digits only and a bounded length: str.isdigit() accepts '²', and int() refuses huge strings.
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise _Bad(f"{name!r} must be a whole number, not {value!r}")


def _positive(row: Mapping[str, Any], name: str) -> int:
    value = _int(row, name)
    if value < 1:
        raise _Bad(f"{name!r} must be at least 1, not {value}")
    if value > _MAX_INT:
        raise _Bad(f"{name!r} is too large ({value})")
    return value


def _text(row: Mapping[str, Any], name: str, *, max_length: int) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Bad(f"{name!r} must be text, not {value!r}")
    if len(value.strip()) > max_length:
        raise _Bad(f"{name!r} is longer than {max_length} characters")
    return value.strip()


def _username(row: Mapping[str, Any], name: str) -> str:
    value = _required(row, name)
    if not isinstance(value, str):
        raise _Bad(f"{name!r} must be a username (text), not {value!r}")
    return value


def _choice(row: Mapping[str, Any], name: str, choices: Mapping[str, Any]) -> str:
    value = _required(row, name)
    key = value.lower() if isinstance(value, str) else None
    if key not in choices:
        raise _Bad(f"unknown {name} {value!r} (expected one of: {', '.join(choices)})")
    return key


def _url(row: Mapping[str, Any]) -> str:
    value = _text(row, "meeting_url", max_length=_MAX_URL)
    if value:
        try:
            URLValidator()(value)
        except ValidationError:
            raise _Bad(f"'meeting_url' is not a valid URL: {value!r}") from None
    return value


def _timezone(row: Mapping[str, Any]) -> zoneinfo.ZoneInfo:
    name = _required(row, "timezone")
    if not isinstance(name, str) or len(name) > _MAX_TZ:
        raise _Bad(f"'timezone' must be an IANA name such as 'Europe/London', not {name!r}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise _Bad(f"unknown timezone {name!r} (expected an IANA name such as 'Europe/London')") from None


def _datetime(row: Mapping[str, Any], name: str) -> dt.datetime:
    value = _required(row, name)
    parsed = None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    if parsed is None:
        raise _Bad(f"{name!r} must be an ISO 8601 date and time, not {value!r}")
    # Years 1 and 9999 parse, but the overlap checks step past them and would overflow.
    if not dt.MINYEAR + 1 < parsed.year < dt.MAXYEAR - 1:
        raise _Bad(f"{name!r} {value!r} is out of range")
    return parsed


def _start(row: Mapping[str, Any], tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """``scheduled_start`` in UTC: a naive value is wall-clock time in ``tz``, an offset is kept."""
    value = _datetime(row, "scheduled_start")
    try:
        if value.tzinfo is not None and value.utcoffset() is not None:
            return value.astimezone(dt.UTC)
        return localize(value, tz).astimezone(dt.UTC)
    except OverflowError:
        raise _Bad(f"'scheduled_start' {value.isoformat()} is out of range") from None


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
        raise _Bad(f"'scheduled_start' {when} does not exist (the clocks skip it at the DST change); "
                   "give it a UTC offset or correct it")
    raise _Bad(f"'scheduled_start' {when} is ambiguous (it happens twice when the clocks go back); "
               "give it a UTC offset to say which")


def _created(row: Mapping[str, Any]) -> dt.datetime | None:
    """When the legacy booking was made; optional (the id then orders it). Naive means UTC."""
    if row.get("created") in (None, ""):
        return None
    value = _datetime(row, "created")
    try:
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except OverflowError:
        raise _Bad(f"'created' {value.isoformat()} is out of range") from None


# --- 2b. the database facts the plan needs --------------------------------------------------------


@dataclass(frozen=True)
class Existing:
    """A session already in the database under one of the export's refs."""

    pk: Any
    teacher_id: Any
    kind: str
    status: str
    start: dt.datetime
    end: dt.datetime
    seats_taken: int
    capacity: int


@dataclass
class Context:
    """What the planner needs from the database, loaded in a constant number of queries."""

    now: dt.datetime
    users: dict[str, Any]  # username -> pk
    sessions: dict[str, Existing]  # external_ref -> session imported before
    booking_refs: set[str]  # bookings imported before
    active_pairs: dict[tuple[Any, Any], str]  # (session pk, student pk) -> active booking in ``sessions``
    busy: dict[Any, list[tuple[dt.datetime, dt.datetime, str]]]  # teacher pk -> scheduled sessions
    policies: dict[Any, tuple[int | None, int]]  # teacher pk -> (request_ttl_hours, buffer_minutes)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(set(values), key=str)
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def load_context(parsed: Parsed, now: dt.datetime, *, using: str, lock: bool) -> Context:
    """Read the facts the plan depends on. With ``lock``, in this order: teachers, then sessions.

    The teacher rows (policy rows, created with the defaults as the services do) serialise the
    import with every service that checks those teachers' calendars, so the overlap check below
    cannot be raced; the locked sessions keep their seat counters still until commit.
    """
    User = get_user_model()
    users: dict[str, Any] = {}
    for chunk in _chunks(parsed.usernames()):
        users.update(User._default_manager.using(using).filter(**{f"{User.USERNAME_FIELD}__in": chunk})
                     .values_list(User.USERNAME_FIELD, "pk"))
    teacher_ids = {users[name] for name in {r.teacher for r in (*parsed.sessions, *parsed.lessons)} if name in users}
    policies = _policies(teacher_ids, using=using, lock=lock)
    sessions = _existing_sessions(parsed.session_refs(), using=using, lock=lock)
    Booking = get_booking_model()
    booking_refs: set[str] = set()
    for chunk in _chunks(parsed.booking_refs()):
        booking_refs.update(Booking.objects.using(using).filter(external_ref__in=chunk)
                            .values_list("external_ref", flat=True))
    active_pairs: dict[tuple[Any, Any], str] = {}
    for chunk in _chunks(s.pk for s in sessions.values() if s.kind == SessionKind.GROUP):
        for session_id, student_id, pk, ref in (
                Booking.objects.using(using).filter(session_id__in=chunk, status__in=ACTIVE_BOOKING_STATUSES)
                .values_list("session_id", "student_id", "pk", "external_ref")):
            active_pairs[(session_id, student_id)] = ref or f"booking #{pk}"
    max_buffer = max((buffer for _, buffer in policies.values()), default=0)
    busy = _busy(teacher_ids, parsed.time_range(), dt.timedelta(minutes=max_buffer), using=using)
    return Context(now=now, users=users, sessions=sessions, booking_refs=booking_refs, active_pairs=active_pairs,
                   busy=busy, policies=policies)


def _policies(teacher_ids: set[Any], *, using: str, lock: bool) -> dict[Any, tuple[int | None, int]]:
    qs = TeacherBookingPolicy.objects.using(using)
    if lock and teacher_ids:
        # One upsert for all teachers, then one locking read (what lock_teacher does for one).
        features = connections[using].features
        qs.bulk_create(
            [TeacherBookingPolicy(teacher_id=pk, **TeacherBookingPolicy.defaults()) for pk in sorted(teacher_ids)],
            update_conflicts=True,
            unique_fields=["teacher"] if features.supports_update_conflicts_with_target else None,
            update_fields=["teacher"],
        )
        qs = qs.select_for_update().order_by("teacher_id")
    found: dict[Any, tuple[int | None, int]] = {}
    for chunk in _chunks(teacher_ids):
        found.update((t, (ttl, buffer)) for t, ttl, buffer in
                     qs.filter(teacher_id__in=chunk).values_list("teacher_id", "request_ttl_hours", "buffer_minutes"))
    defaults = TeacherBookingPolicy.defaults()
    fallback = (defaults.get("request_ttl_hours"), defaults.get("buffer_minutes") or 0)
    return {pk: found.get(pk, fallback) for pk in teacher_ids}


def _existing_sessions(refs: list[str], *, using: str, lock: bool) -> dict[str, Existing]:
    qs = get_session_model().objects.using(using)
    if lock:
        qs = qs.select_for_update().order_by("pk")
    found: dict[str, Existing] = {}
    for chunk in _chunks(refs):
        for row in qs.filter(external_ref__in=chunk).values(
                "external_ref", "pk", "teacher_id", "kind", "status", "start_at_utc", "end_at_utc", "seats_taken",
                "capacity"):
            found[row["external_ref"]] = Existing(
                pk=row["pk"], teacher_id=row["teacher_id"], kind=row["kind"], status=row["status"],
                start=row["start_at_utc"], end=row["end_at_utc"], seats_taken=row["seats_taken"],
                capacity=row["capacity"])
    return found


def _busy(teacher_ids: set[Any], span: tuple[dt.datetime, dt.datetime] | None, margin: dt.timedelta, *,
          using: str) -> dict[Any, list[tuple[dt.datetime, dt.datetime, str]]]:
    """The teachers' scheduled sessions in the export's time range (widened by the largest buffer)."""
    busy: dict[Any, list[tuple[dt.datetime, dt.datetime, str]]] = defaultdict(list)
    if span is None:
        return busy
    qs = get_session_model().objects.using(using).filter(
        status=SessionStatus.SCHEDULED, start_at_utc__lt=span[1] + margin, end_at_utc__gt=span[0] - margin)
    for chunk in _chunks(teacher_ids):
        for teacher_id, start, end, pk, ref in qs.filter(teacher_id__in=chunk).values_list(
                "teacher_id", "start_at_utc", "end_at_utc", "pk", "external_ref"):
            busy[teacher_id].append((start, end, ref or f"session #{pk}"))
    return busy


# --- 2c. planning (pure) ----------------------------------------------------------------------


class _Calendar:
    """One teacher's scheduled sessions, for overlap checks in O(log n) plus the matches."""

    def __init__(self, entries: Iterable[tuple[dt.datetime, dt.datetime, str]] = ()) -> None:
        self._entries = sorted(entries)
        self._longest = max((end - start for start, end, _ in self._entries), default=dt.timedelta(0))

    def clash(self, start: dt.datetime, end: dt.datetime, buffer: dt.timedelta) -> str | None:
        """The label of the first session within ``buffer`` of [start, end), or None."""
        low, high = start - buffer, end + buffer
        # Entries that may reach ``low`` start after low - longest; those past ``high`` cannot meet it.
        i = bisect.bisect_right(self._entries, (low - self._longest,))
        j = bisect.bisect_left(self._entries, (high,))
        for other_start, other_end, label in self._entries[i:j]:
            if other_start < high and other_end > low:
                return label
        return None

    def add(self, start: dt.datetime, end: dt.datetime, label: str) -> None:
        bisect.insort(self._entries, (start, end, label))
        self._longest = max(self._longest, end - start)


@dataclass
class Target:
    """A session bookings can go into: planned here (``ref``) or in the database (``existing``)."""

    ref: str
    teacher_id: Any
    kind: str
    status: str
    start: dt.datetime
    end: dt.datetime
    capacity: int
    seats: int
    existing: Existing | None = None
    planned: dict[str, Any] | None = None  # the planned session's fields, for a new one


@dataclass
class Plan:
    """Field values of the rows to create, the counter changes, and the report."""

    now: dt.datetime
    sessions: list[dict[str, Any]] = field(default_factory=list)  # model fields, incl. external_ref
    bookings: list[dict[str, Any]] = field(default_factory=list)  # plus "session_ref" or "session_id"
    seat_increments: dict[Any, int] = field(default_factory=dict)  # existing session pk -> new active bookings
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    adjusted: list[Problem] = field(default_factory=list)  # imported, with a status the rules imposed
    targets: dict[str, Target] = field(default_factory=dict)

    def problem(self, table: str, row: Any, reason: str) -> None:
        self.problems.append(Problem(table, row.position, row.ref, reason))

    def adjust(self, table: str, row: Any, reason: str) -> None:
        self.adjusted.append(Problem(table, row.position, row.ref, reason))


def plan_import(parsed: Parsed, ctx: Context) -> Plan:
    """Decide every row: create, unchanged (imported before) or a problem. No database access.

    Order matters and is fixed, so that a rerun decides the same: the database's sessions first,
    then group sessions by start (the later of two overlapping ones is refused), their bookings
    by (created, id) (the earliest keep the seats), then 1:1 bookings by (created, id).
    """
    plan = Plan(now=ctx.now, problems=list(parsed.problems))
    calendars = {teacher: _Calendar(entries) for teacher, entries in ctx.busy.items()}

    def calendar(teacher_id: Any) -> _Calendar:
        return calendars.setdefault(teacher_id, _Calendar())

    _plan_sessions(parsed, ctx, plan, calendar)
    _plan_bookings(parsed, ctx, plan)
    _plan_lessons(parsed, ctx, plan, calendar)
    plan.problems.sort(key=_report_order)
    plan.adjusted.sort(key=_report_order)
    return plan


def _report_order(problem: Problem) -> tuple[int, int]:
    return TABLES.index(problem.table), problem.position


def _by_created(row: BookingRow | LessonRow) -> tuple[bool, dt.datetime, int]:
    # Rows without ``created`` come after those with one, then by id.
    return row.created is None, row.created or dt.datetime.min.replace(tzinfo=dt.UTC), row.id


def _when(start: dt.datetime, end: dt.datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"


def _plan_sessions(parsed: Parsed, ctx: Context, plan: Plan, calendar: Callable[[Any], _Calendar]) -> None:
    for row in sorted(parsed.sessions, key=lambda r: (r.start, r.id)):
        existing = ctx.sessions.get(row.ref)
        if existing is not None:
            plan.unchanged += 1
            plan.targets[row.ref] = Target(row.ref, existing.teacher_id, existing.kind, existing.status, existing.start,
                                           existing.end, existing.capacity, existing.seats_taken, existing)
            continue
        teacher_id = ctx.users.get(row.teacher)
        if teacher_id is None:
            plan.problem("sessions", row, f"unknown teacher {row.teacher!r} (no user with that username)")
            continue
        status = SESSION_STATUSES[row.status]
        if status == SessionStatus.SCHEDULED:
            # The invariant (and PostgreSQL's exclusion constraint) allows no two scheduled sessions
            # of one teacher to overlap: the earlier one is kept, as schedule_session would have.
            clash = calendar(teacher_id).clash(row.start, row.end, dt.timedelta(0))
            if clash is not None:
                plan.problem("sessions", row, f"overlaps {clash} of teacher {row.teacher!r} "
                             f"({_when(row.start, row.end)}); the earlier session is kept")
                continue
            calendar(teacher_id).add(row.start, row.end, row.ref)
        planned = dict(
            external_ref=row.ref, teacher_id=teacher_id, kind=SessionKind.GROUP, title=row.title,
            start_at_utc=row.start, end_at_utc=row.end, duration_minutes=row.duration, timezone_snapshot=row.timezone,
            meeting_url=row.meeting_url, capacity=row.capacity, seats_taken=0, status=status, status_changed=ctx.now,
        )
        plan.sessions.append(planned)
        plan.targets[row.ref] = Target(row.ref, teacher_id, SessionKind.GROUP, status, row.start, row.end,
                                       row.capacity, 0, planned=planned)


def _plan_bookings(parsed: Parsed, ctx: Context, plan: Plan) -> None:
    holders = dict(ctx.active_pairs)
    for row in sorted(parsed.bookings, key=_by_created):
        if row.ref in ctx.booking_refs:
            plan.unchanged += 1
            continue
        target = plan.targets.get(f"sessions:{row.session}")
        if target is None:
            reason = (f"its session sessions:{row.session} is not imported (see that row)"
                      if row.session in parsed.session_ids
                      else f"unknown session {row.session} (not in the export's sessions)")
            plan.problem("bookings", row, reason)
            continue
        student_id = _student(ctx, plan, "bookings", row, target)
        if student_id is None:
            continue
        status, reason = _booking_status(plan, "bookings", row, target, ctx.now)
        if status in ACTIVE_BOOKING_STATUSES and not _take_seat(plan, row, target, student_id, holders):
            continue
        plan.bookings.append(_booking_fields(row, target, student_id, status, reason, ctx))


def _student(ctx: Context, plan: Plan, table: str, row: BookingRow | LessonRow, target: Target) -> Any:
    student_id = ctx.users.get(row.student)
    if student_id is None:
        plan.problem(table, row, f"unknown student {row.student!r} (no user with that username)")
    elif student_id == target.teacher_id:
        plan.problem(table, row, f"the student {row.student!r} is the session's teacher")
        return None
    return student_id


def _booking_status(plan: Plan, table: str, row: BookingRow | LessonRow, target: Target,
                    now: dt.datetime) -> tuple[str, str]:
    """The imported status: the legacy one mapped, then what the session's state implies."""
    status, reason = BOOKING_STATUSES[row.legacy_status]
    if status in ACTIVE_BOOKING_STATUSES and target.status == SessionStatus.CANCELLED:
        # cancel_session cancels every active booking: a cancelled session holds none.
        plan.adjust(table, row, f"imported as cancelled: legacy status {row.legacy_status!r}, "
                    "but its session is cancelled")
        return BookingStatus.CANCELLED, "session cancelled"
    if status == BookingStatus.PENDING and target.start <= now:
        # A request expires at the session start at the latest; one past it is expired.
        plan.adjust(table, row, "imported as expired: a pending request for a session that has started")
        return BookingStatus.EXPIRED, ""
    return status, reason


def _take_seat(plan: Plan, row: BookingRow, target: Target, student_id: Any,
               holders: dict[tuple[Any, Any], str]) -> bool:
    """Claim a seat for an active booking, or report why it gets none."""
    pair = (target.existing.pk if target.existing else target.ref, student_id)
    if pair in holders:
        plan.problem("bookings", row,
                     f"duplicate active booking of {row.student!r} in {target.ref} ({holders[pair]} is kept)")
        return False
    if target.seats >= target.capacity:
        seats = f"{target.capacity} seat" + ("s" if target.capacity != 1 else "")
        plan.problem("bookings", row, f"{target.ref} is full ({seats}): the earliest active bookings keep them")
        return False
    holders[pair] = row.ref
    target.seats += 1
    if target.existing is not None:
        plan.seat_increments[target.existing.pk] = plan.seat_increments.get(target.existing.pk, 0) + 1
    elif target.planned is not None:
        # Set from the planned count: the new session starts with exactly its active bookings.
        target.planned["seats_taken"] = target.seats
    return True


def _booking_fields(row: BookingRow | LessonRow, target: Target, student_id: Any, status: str, reason: str,
                    ctx: Context) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        external_ref=row.ref, student_id=student_id, teacher_id=target.teacher_id, kind=target.kind,
        start_at_utc=target.start, end_at_utc=target.end, status=status, status_changed=ctx.now, reason=reason,
        source=BookingSource.IMPORT, created=row.created or ctx.now, expires_at=None,
    )
    if status == BookingStatus.PENDING:
        # As the services do: the time to live counts from when this system received the request
        # (the import; the legacy platform had no expiry), and never past the session start.
        ttl, _ = ctx.policies.get(target.teacher_id, (None, 0))
        fields["expires_at"] = request_expiry(ttl, ctx.now, target.start)
    if target.existing is not None:
        fields["session_id"] = target.existing.pk
    else:
        fields["session_ref"] = target.ref
    return fields


def _plan_lessons(parsed: Parsed, ctx: Context, plan: Plan, calendar: Callable[[Any], _Calendar]) -> None:
    for row in sorted(parsed.lessons, key=_by_created):
        if row.ref in ctx.sessions or row.ref in ctx.booking_refs:
            plan.unchanged += 1
            continue
        teacher_id = ctx.users.get(row.teacher)
        if teacher_id is None:
            plan.problem("one_on_one_bookings", row, f"unknown teacher {row.teacher!r} (no user with that username)")
            continue
        target = Target(row.ref, teacher_id, SessionKind.ONE_ON_ONE, SessionStatus.SCHEDULED, row.start, row.end, 1, 0)
        student_id = _student(ctx, plan, "one_on_one_bookings", row, target)
        if student_id is None:
            continue
        status, reason = _booking_status(plan, "one_on_one_bookings", row, target, ctx.now)
        active = status in ACTIVE_BOOKING_STATUSES
        if active and not _lesson_time_free(plan, ctx, row, teacher_id, calendar(teacher_id)):
            continue
        # A 1:1 lesson is its booking: once that is no longer active, its session is cancelled.
        target.status = SessionStatus.SCHEDULED if active else SessionStatus.CANCELLED
        target.seats = 1 if active else 0
        plan.sessions.append(dict(
            external_ref=row.ref, teacher_id=teacher_id, kind=SessionKind.ONE_ON_ONE, title="",
            start_at_utc=row.start, end_at_utc=row.end, duration_minutes=row.duration, timezone_snapshot=row.timezone,
            meeting_url=row.meeting_url, capacity=1, seats_taken=target.seats, status=target.status,
            status_changed=ctx.now,
        ))
        plan.bookings.append(_booking_fields(row, target, student_id, status, reason, ctx))


def _lesson_time_free(plan: Plan, ctx: Context, row: LessonRow, teacher_id: Any, cal: _Calendar) -> bool:
    """An active 1:1 lesson needs the teacher free, with the policy's buffer, as request_lesson does."""
    _, buffer_minutes = ctx.policies.get(teacher_id, (None, 0))
    clash = cal.clash(row.start, row.end, dt.timedelta(minutes=buffer_minutes))
    if clash is not None:
        margin = f" (with the teacher's {buffer_minutes}-minute buffer)" if buffer_minutes else ""
        kept = "the group session is kept" if clash.startswith("sessions:") else "the first booking is kept"
        plan.problem("one_on_one_bookings", row, f"overlaps {clash} of teacher {row.teacher!r}{margin} "
                     f"({_when(row.start, row.end)}); {kept}")
        return False
    cal.add(row.start, row.end, row.ref)
    return True


# --- 3. applying --------------------------------------------------------------------------------


def apply_plan(plan: Plan, *, using: str) -> None:
    """Write the plan: bulk inserts and one counter update, a constant number of statements.

    ``bulk_create`` sends no ``pre_save``/``post_save`` signals and the services' signals are not
    sent either: an import records history, nobody is to be notified of it. The caller holds the
    transaction and the locks taken by :func:`load_context`.
    """
    Session, Booking = get_session_model(), get_booking_model()
    created = Session.objects.using(using).bulk_create([Session(**fields) for fields in plan.sessions])
    session_pks = {obj.external_ref: obj.pk for obj in created}
    if any(pk is None for pk in session_pks.values()):
        # Backends that cannot return the new keys from a bulk insert: look them up by ref.
        session_pks = {}
        for chunk in _chunks(s["external_ref"] for s in plan.sessions):
            session_pks.update(Session.objects.using(using).filter(external_ref__in=chunk)
                               .values_list("external_ref", "pk"))
    bookings = []
    for fields in plan.bookings:
        values = dict(fields)
        ref = values.pop("session_ref", None)
        if ref is not None:
            values["session_id"] = session_pks[ref]
        bookings.append(Booking(**values))
    Booking.objects.using(using).bulk_create(bookings)
    if plan.seat_increments:
        # Sessions imported before that gain bookings: one relative UPDATE for all, never a Python
        # read-modify-write of the counter. Their rows are locked since load_context, and the
        # planner counted from their locked seats_taken, so the CHECK constraint holds.
        Session.objects.using(using).filter(pk__in=plan.seat_increments).update(seats_taken=F("seats_taken") + Case(
            *(When(pk=pk, then=Value(n)) for pk, n in plan.seat_increments.items()),
            default=Value(0), output_field=IntegerField()))


# --- the whole import ---------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    applied: bool
    sessions_created: int
    bookings_created: int
    unchanged: int
    problems: list[Problem]
    adjusted: list[Problem]

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "sessions_created": self.sessions_created,
            "bookings_created": self.bookings_created,
            "unchanged": self.unchanged,
            "problems": [p.as_dict() for p in self.problems],
            "adjusted": [p.as_dict() for p in self.adjusted],
        }


def import_rows(rows: Mapping[str, Iterable[Any]], *, apply: bool = False, now: dt.datetime | None = None,
                using: str | None = None) -> ImportReport:
    """Import legacy rows (dicts per table, as in the export); a dry run unless ``apply``.

    With ``apply`` everything is written in one transaction on ``using``, or nothing is. ``now``
    (aware) decides what is in the past; default: the adapter's clock. Rows that cannot be imported
    are reported, never raised; only database errors raise (and roll the whole import back).
    """
    current = resolve_now(now)
    alias = using or DEFAULT_DB_ALIAS
    parsed = parse_rows(rows)
    if not apply:
        plan = plan_import(parsed, load_context(parsed, current, using=alias, lock=False))
    else:
        with transaction.atomic(using=alias):
            plan = plan_import(parsed, load_context(parsed, current, using=alias, lock=True))
            apply_plan(plan, using=alias)
    return ImportReport(applied=apply, sessions_created=len(plan.sessions), bookings_created=len(plan.bookings),
                        unchanged=plan.unchanged, problems=plan.problems, adjusted=plan.adjusted)


def import_path(path: str | Path, **options: Any) -> ImportReport:
    """Read an export (JSON file or CSV folder) and import it; options as :func:`import_rows`."""
    return import_rows(read_export(path), **options)


__all__ = [
    "ImportReport",
    "LegacyImportError",
    "Problem",
    "apply_plan",
    "import_path",
    "import_rows",
    "load_context",
    "parse_rows",
    "plan_import",
    "read_export",
]
