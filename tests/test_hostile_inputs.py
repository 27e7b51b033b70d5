"""Every public service, called with wrong types and extreme values, refuses with a registered code or succeeds.

For each call: the outcome is a return value or a ``BookingError`` whose ``code`` is in ``ERROR_CODES`` (never a
``TypeError``, ``OverflowError``, ``IntegrityError``...); a refusal leaves every table and every object passed in
as it was; a refusal the arguments alone decide opens no transaction; and no call spends more than ``BUDGET``
CPU seconds.

Each example runs in a savepoint rolled back afterwards, on copies of one world of users, sessions, bookings,
waitlist entries and series built once per service, so every example meets the same state.
``LIVECLASS_HOSTILE_EXAMPLES`` raises the number of examples per service for a longer search.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import os
import signal
import time
import traceback
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services
from django_liveclass_booking.errors import ERROR_CODES
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import (
    BookingSeries,
    CalendarFeedToken,
    SessionWaitlist,
    TeacherAvailability,
    TeacherBookingPolicy,
    TeacherTimeOff,
    get_booking_model,
    get_session_model,
)

from .conftest import NOW

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytestmark = pytest.mark.django_db

#: CPU seconds one call may take: generous, a refusal costs milliseconds.
BUDGET = 0.5
#: CPU seconds after which a runaway call is interrupted, so that a hang fails instead of stalling the run.
RUNAWAY = 5.0
#: Examples per service: about 600 calls in all, some seconds per database. Raise it to search longer.
EXAMPLES = int(os.environ.get("LIVECLASS_HOSTILE_EXAMPLES", "20"))

#: Refusals that must come before any transaction or lock: the arguments alone decide them, or a plain read does
#: (whether a user still exists, what a permission hook says).
INPUT_CODES = frozenset({
    "naive_datetime", "invalid_datetime", "invalid_duration", "invalid_capacity", "invalid_timezone", "invalid_text",
    "invalid_user", "invalid_session", "invalid_booking", "invalid_entry", "invalid_series", "invalid_window",
    "invalid_time_off", "invalid_rrule", "invalid_on_conflict", "invalid_weekday", "invalid_availability",
    "invalid_policy", "invalid_arguments", "end_before_start", "range_too_long", "invalid_recurrence_key",
    "start_in_past", "too_many_occurrences", "not_allowed", "invalid_outcome",
})

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
LONDON = zoneinfo.ZoneInfo("Europe/London")
TOMORROW = NOW + dt.timedelta(days=1, hours=1)  # a Tuesday, 10:00 UTC: inside the tutor's hours


# --- the values --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """One argument value, made afresh for each call (``make(world)``); printed by its label, never its bulk."""

    label: str
    make: Callable[[dict[str, Any]], Any]

    def __repr__(self) -> str:
        return self.label


def literal(label: str, value: Any) -> Value:
    return Value(label, lambda world: copy.copy(value))


def ref(name: str) -> Value:
    """An object of the world (a user, a session, a deleted or unsaved row...), copied for this call."""
    return Value(f"<{name}>", lambda world: world[name])


class RaisingOffset(dt.tzinfo):
    """A tzinfo whose offset cannot be read."""

    def utcoffset(self, when: Any) -> dt.timedelta:
        raise ValueError("no offset")

    def dst(self, when: Any) -> dt.timedelta:
        raise ValueError("no offset")

    def tzname(self, when: Any) -> str:
        return "raising"


HOSTILE_RRULES = [
    literal("rrule minutely 30 Feb every second", "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30;BYSECOND="
            + ",".join(map(str, range(60)))),
    literal("rrule hourly bysetpos", "FREQ=HOURLY;BYSETPOS=2"),
    literal("rrule minutely bysetpos", "FREQ=MINUTELY;BYSETPOS=2"),
    literal("rrule count 4300 digits", "FREQ=WEEKLY;COUNT=" + "9" * 4300),
    literal("rrule count 480 digits", "FREQ=DAILY;COUNT=" + "9" * 480),
    literal("rrule interval 0", "FREQ=DAILY;INTERVAL=0;COUNT=3"),
    literal("rrule until 9999", "FREQ=DAILY;UNTIL=99991231T000000Z"),
    literal("rrule secondly", "FREQ=SECONDLY;COUNT=3"),
    literal("rrule with RRULE: prefix", "RRULE:FREQ=DAILY;COUNT=2"),
    literal("rrule with DTSTART", "DTSTART:20260505T100000Z\nRRULE:FREQ=DAILY;COUNT=2"),
    literal("rrule 29 Feb yearly", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=3"),
    literal("rrule bytes", b"FREQ=WEEKLY;COUNT=3"),
    literal("rrule garbage", "FREQ=WEEKLY;;;=;COUNT=-1"),
]

HOSTILE_ZONES = [
    literal("zone unknown", "Not/AZone"),
    literal("zone 1000 chars", "Europe/" + "x" * 993),
    literal("zone ../etc", "../etc/passwd"),
    literal("zone absolute path", "/usr/share/zoneinfo/UTC"),
    literal("zone with NUL", "Europe/London\x00"),
    literal("ZoneInfo Tokyo", TOKYO),
    literal("datetime.timezone.utc", dt.UTC),
    literal("fixed offset +05:00", dt.timezone(dt.timedelta(hours=5))),
    literal("zone lower case", "europe/london"),
]
try:
    import pytz
except ImportError:  # pytz is optional: its zones are offered only where it is installed
    pass
else:
    HOSTILE_ZONES.append(literal("pytz New York", pytz.timezone("America/New_York")))

HOSTILE_DATETIMES = [
    literal("naive datetime", dt.datetime(2026, 5, 5, 10)),
    literal("year 1 Tokyo", dt.datetime(1, 1, 1, 0, 30, tzinfo=TOKYO)),
    literal("year 1 UTC", dt.datetime.min.replace(tzinfo=dt.UTC)),
    literal("year 9999 New York", dt.datetime(9999, 12, 31, 23, 0, tzinfo=NEW_YORK)),
    literal("year 9999 UTC max", dt.datetime.max.replace(tzinfo=dt.UTC)),
    literal("year 1899 UTC", dt.datetime(1899, 12, 31, 23, 59, tzinfo=dt.UTC)),
    literal("year 8999 UTC", dt.datetime(8999, 12, 31, 23, 0, tzinfo=dt.UTC)),
    literal("offset cannot be read", dt.datetime(2026, 5, 5, 10, tzinfo=RaisingOffset())),
    literal("fold=1 New York", dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK)),
    literal("nonexistent London", dt.datetime(2026, 3, 29, 1, 30, tzinfo=LONDON)),
    literal("a date", dt.date(2026, 5, 5)),
    literal("a time", dt.time(10)),
    literal("ISO text", "2026-05-05T10:00:00+00:00"),
]

HOSTILE_DURATIONS = [
    literal("timedelta 10**8 min", dt.timedelta(minutes=10**8)),
    literal("timedelta 30 s", dt.timedelta(seconds=30)),
    literal("timedelta 61 min 1 s", dt.timedelta(minutes=61, seconds=1)),
    literal("timedelta 0", dt.timedelta(0)),
    literal("timedelta -60 min", dt.timedelta(minutes=-60)),
    literal("timedelta max", dt.timedelta.max),
    literal("timedelta 1 us", dt.timedelta(microseconds=1)),
]

HOSTILE_SCALARS = [
    literal("None", None),
    literal("''", ""),
    literal("bytes", b"abc"),
    literal("0", 0),
    literal("-1", -1),
    literal("10**8", 10**8),
    literal("10**30", 10**30),
    literal("int of 4300 digits", 10**4299),
    literal("int of 5000 digits", -(10**4999)),
    literal("True", True),
    literal("False", False),
    literal("1.5", 1.5),
    literal("60.0", 60.0),
    literal("NaN", float("nan")),
    literal("inf", float("inf")),
    literal("Decimal NaN", Decimal("NaN")),
    literal("complex", 1j),
    literal("NUL text", "a\x00b"),
    literal("line breaks", "a\nb\r\nc\u2028d"),
    literal("lone surrogate", "\ud800"),
    literal("10,000 chars", "x" * 10_000),
    literal("list", [1, 2]),
    literal("dict", {"a": 1}),
    literal("object()", object()),
]

HOSTILE_ACTORS = [
    Value("AnonymousUser", lambda world: AnonymousUser()),
    literal("SYSTEM", services.SYSTEM),
]

WORLD_OBJECTS = [
    ref(name) for name in (
        "teacher", "tutor", "student", "other", "third", "admin", "inactive", "deleted_user", "deleted_admin",
        "unsaved_user",
        "open_session", "full_session", "offered_session", "cancelled_session", "lesson_session",
        "recurring_session", "deleted_session", "unsaved_session",
        "booking", "pending", "cancelled_booking", "series_booking", "deleted_booking", "unsaved_booking",
        "waiting", "offer", "deleted_entry", "unsaved_entry",
        "group_series", "lesson_series", "deleted_series", "unsaved_series",
        "window", "time_off", "deleted_window", "deleted_time_off", "unsaved_window", "unsaved_time_off",
        "policy", "feed_token",
    )
]

HOSTILE = (HOSTILE_SCALARS + HOSTILE_DATETIMES + HOSTILE_DURATIONS + HOSTILE_ZONES + HOSTILE_RRULES
           + HOSTILE_ACTORS + WORLD_OBJECTS)

TEXT = [literal("''", ""), literal("'Algebra'", "Algebra")]
WHEN = [literal("tomorrow 10:00 UTC", TOMORROW), literal("in 8 days", NOW + dt.timedelta(days=8)),
        literal("tomorrow 19:00 Tokyo", dt.datetime(2026, 5, 5, 19, tzinfo=TOKYO))]

#: Values a careful caller would pass, by parameter name: mixed with HOSTILE so calls get past the first check.
GOOD: dict[str, list[Value]] = {
    "student": [ref("student"), ref("other"), ref("third")],
    "teacher": [ref("teacher"), ref("tutor")],
    "user": [ref("student"), ref("teacher")],
    "actor": [ref("teacher"), ref("tutor"), ref("student"), ref("other"), ref("admin"), literal("SYSTEM",
                                                                                                services.SYSTEM)],
    "session": [ref("open_session"), ref("full_session"), ref("offered_session"), ref("lesson_session"),
                ref("recurring_session"), ref("cancelled_session")],
    "booking": [ref("booking"), ref("pending"), ref("cancelled_booking"), ref("series_booking")],
    "entry": [ref("waiting"), ref("offer")],
    "request": [ref("proposal")],
    "series": [ref("group_series"), ref("lesson_series")],
    "window": [ref("window")],
    "time_off": [ref("time_off")],
    "recurrence_key": [ref("recurrence_key"), literal("'nope'", "nope")],
    "now": [literal("NOW", NOW), literal("NOW + 1 h", NOW + dt.timedelta(hours=1))],
    "start": WHEN,
    "first_start": WHEN,
    "from_start": WHEN,
    "end": [literal("in 2 days", NOW + dt.timedelta(days=2)), literal("in 40 years", NOW.replace(year=2066)),
            literal("in 30 days", NOW + dt.timedelta(days=30))],
    "duration": [literal("60", 60), literal("timedelta 30 min", dt.timedelta(minutes=30)), literal("1440", 1440)],
    "capacity": [literal("1", 1), literal("5", 5), literal("100000", 100_000)],
    "title": TEXT,
    "reason": TEXT,
    "note": TEXT,
    "outcome": [literal("'completed'", "completed"), literal("'teacher_no_show'", "teacher_no_show")],
    "message": TEXT,
    "meeting_provider": TEXT,
    "meeting_url": [literal("url", "https://example.com/room")],
    "meeting_passcode": TEXT,
    "timezone": [literal("'Europe/London'", "Europe/London"), literal("'UTC'", "UTC"),
                 literal("ZoneInfo New York", NEW_YORK)],
    "rrule": [literal("'FREQ=WEEKLY;COUNT=3'", "FREQ=WEEKLY;COUNT=3"),
              literal("'FREQ=DAILY;COUNT=2'", "FREQ=DAILY;COUNT=2")],
    "on_conflict": [literal("'skip'", "skip"), literal("'fail'", "fail")],
    "weekday": [literal("0", 0), literal("6", 6)],
    "start_time": [literal("09:00", dt.time(9)), literal("23:59", dt.time(23, 59))],
    "end_time": [literal("17:00", dt.time(17)), literal("09:00 Tokyo", dt.time(9, tzinfo=TOKYO))],
}

POLICY_GOOD = [
    literal("0", 0), literal("30", 30), literal("10000", 10_000), literal("True", True), literal("False", False),
    literal("None", None), literal("[30, 60]", [30, 60]), literal("[0]", [0]), literal("[10**30]", [10**30]),
    literal("'manual'", "manual"), literal("'auto'", "auto"), literal("'Europe/London'", "Europe/London"),
    literal("[]", []), literal("list of 10,000", list(range(1, 10_001))),
]
POLICY_KEYS = sorted(f.name for f in TeacherBookingPolicy._meta.concrete_fields) + [
    "", "pk", "x" * 10_000, "seats\x00", "objects", "save", "__class__", "teacher_id",
]
MEETING_KEYS = ["meeting_provider", "meeting_url", "meeting_passcode", "teacher", "capacity", "pk", "status",
                "seats_taken", "recurrence_key", "teacher_id", "start_at_utc"]


#: A parameter left out of the call, so that its default applies.
OMIT = Value("(default)", lambda world: None)


def service_names() -> list[str]:
    return sorted(name for name in services.__all__ if inspect.isfunction(getattr(services, name)))


def values(name: str) -> st.SearchStrategy[Value]:
    # The careful values come first: Hypothesis shrinks towards them, so a failure names the hostile argument.
    good = GOOD.get(name, [])
    return st.one_of(*([st.sampled_from(good)] if good else []), st.sampled_from(HOSTILE))


def calls(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments for one call of service ``name``: {parameter: Value, or OMIT; for ``**`` a dict of Values}."""
    parameters = inspect.signature(getattr(services, name)).parameters.values()
    named = {p.name for p in parameters}
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for p in parameters:
        if p.kind is p.VAR_KEYWORD:
            # A key naming a parameter never reaches the service: Python refuses the call itself.
            keys = [key for key in (POLICY_KEYS if name == "set_policy" else MEETING_KEYS) if key not in named]
            fields[p.name] = st.dictionaries(st.sampled_from(keys), st.one_of(
                st.sampled_from(POLICY_GOOD + GOOD["title"]), st.sampled_from(HOSTILE)), max_size=3)
        elif p.default is not p.empty:
            fields[p.name] = st.one_of(values(p.name), st.just(OMIT))
        else:
            fields[p.name] = values(p.name)
    return st.fixed_dictionaries(fields)


def case(name: str, **overrides: Any) -> dict[str, Any]:
    """A call of ``name`` with the first careful value of every parameter but ``overrides``, given by label."""
    labels = {v.label: v for v in [*POLICY_GOOD, *(v for vs in GOOD.values() for v in vs), *HOSTILE]}
    drawn: dict[str, Any] = {}
    for p in inspect.signature(getattr(services, name)).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            drawn[p.name] = {key: labels[label] for key, label in overrides.get(p.name, {}).items()}
        elif p.name in overrides:
            drawn[p.name] = labels[overrides[p.name]]
        else:
            drawn[p.name] = GOOD[p.name][0]
    return drawn


#: Calls that once failed, tried on every run whatever Hypothesis draws: each stands for a class of failure.
REGRESSIONS: dict[str, list[dict[str, Any]]] = {
    # str() of an int over 4300 digits raises ValueError, and so does str() of a datetime whose offset cannot be
    # read: the messages of a refusal must name such values without calling it.
    "add_availability": [case("add_availability", weekday="int of 5000 digits"),
                         case("add_availability", weekday="offset cannot be read")],
    "schedule_session": [case("schedule_session", capacity="int of 5000 digits"),
                         case("schedule_session", timezone="offset cannot be read"),
                         case("schedule_session", teacher="<deleted_user>")],
    "create_series": [case("create_series", rrule="int of 5000 digits"),
                      case("create_series", timezone="int of 5000 digits"),
                      case("create_series", on_conflict="int of 5000 digits"),
                      case("create_series", teacher="<deleted_user>")],
    "set_policy": [case("set_policy", fields={"timezone": "offset cannot be read"}),
                   # Out of bounds: refused before the teacher's row is locked.
                   case("set_policy", fields={"buffer_minutes": "10**8"}),
                   case("set_policy", fields={"lesson_durations": "[0]"}),
                   case("set_policy", teacher="<deleted_user>")],
    # The database cannot store a lone surrogate; the key is refused first.
    "subscribe_to_recurring_sessions": [case("subscribe_to_recurring_sessions", recurrence_key="lone surrogate"),
                                        case("subscribe_to_recurring_sessions", recurrence_key="None"),
                                        case("subscribe_to_recurring_sessions", student="<deleted_user>")],
    # No check of the argument at all: AttributeError, TypeError or ValueError from the query.
    "issue_feed_token": [case("issue_feed_token", user=label) for label in
                         ("None", "''", "AnonymousUser", "SYSTEM", "<unsaved_user>", "<open_session>",
                          "<deleted_user>")],
    "revoke_feed_token": [case("revoke_feed_token", user=label) for label in ("None", "''", "<open_session>")],
    "remove_availability": [case("remove_availability", window="None"),
                            case("remove_availability", window="<time_off>")],
    "remove_time_off": [case("remove_time_off", time_off="None"), case("remove_time_off", time_off="<window>")],
    # A user deleted after being loaded: its rows would break a foreign key at commit.
    "add_time_off": [case("add_time_off", teacher="<deleted_user>")],
    "request_lesson": [case("request_lesson", teacher="<deleted_user>")],
    "schedule_recurring_sessions": [case("schedule_recurring_sessions", teacher="<deleted_user>")],
    "cancel_booking": [case("cancel_booking", actor="<deleted_admin>"), case("cancel_booking", reason="None")],
    "cancel_session": [case("cancel_session", actor="<deleted_admin>")],
    "cancel_series": [case("cancel_series", actor="<deleted_admin>"), case("cancel_series", series="None")],
    # Codes given but once missing from the registry.
    "book_seat": [case("book_seat", student="None")],
    "confirm_booking": [case("confirm_booking", booking="None")],
    "accept_offer": [case("accept_offer", entry="None")],
    "available_slots": [case("available_slots", end="in 40 years")],
}


# --- the world ---------------------------------------------------------------------------------------------


def fresh(obj: Model) -> Model:
    return type(obj)._base_manager.get(pk=obj.pk)


def deleted(obj: Model) -> Model:
    """The instance of a row deleted behind its back: it keeps its pk, its row is gone."""
    obj = fresh(obj)
    type(obj)._base_manager.filter(pk=obj.pk).delete()
    return obj


def build_world(teacher: Any, student: Any, other: Any, make_user: Callable[..., Any]) -> dict[str, Any]:
    User = get_user_model()
    Session, Booking = get_session_model(), get_booking_model()
    third, tutor, ghost = make_user("third"), make_user("tutor"), make_user("ghost")
    admin = make_user("admin", is_staff=True, is_superuser=True)
    ghost_admin = make_user("ghost_admin", is_staff=True, is_superuser=True)
    inactive = make_user("inactive", is_active=False)
    day = dt.timedelta(days=1)

    services.set_policy(tutor, timezone="Europe/London", approval_mode="manual")
    windows = [services.add_availability(tutor, weekday=d, start_time=dt.time(8), end_time=dt.time(20))
               for d in range(7)]
    time_off = services.add_time_off(tutor, start=NOW + 20 * day, end=NOW + 21 * day, reason="away")
    spare_window = services.add_availability(tutor, weekday=0, start_time=dt.time(6), end_time=dt.time(7))
    spare_time_off = services.add_time_off(tutor, start=NOW + 30 * day, end=NOW + 31 * day)

    def group(hours: int, capacity: int) -> Any:
        return services.schedule_session(teacher, start=NOW + day + dt.timedelta(hours=hours), duration=60,
                                         capacity=capacity, title="Class", now=NOW)

    open_session, full_session, offered_session = group(0, 3), group(2, 1), group(4, 1)
    cancelled_session, scratch, gone_session = group(6, 3), group(8, 1), group(10, 1)
    services.cancel_session(cancelled_session, actor=teacher, now=NOW)
    booking = services.book_seat(student, open_session, now=NOW)
    services.book_seat(student, full_session, now=NOW)
    waiting = services.join_waitlist(other, full_session, now=NOW)
    gone_entry = services.join_waitlist(third, full_session, now=NOW)
    services.leave_waitlist(gone_entry, actor=third, now=NOW)
    cancelled_booking = services.book_seat(student, offered_session, now=NOW)
    offer = services.join_waitlist(other, offered_session, now=NOW)
    services.cancel_booking(cancelled_booking, actor=student, now=NOW)
    gone_booking = services.book_seat(third, scratch, now=NOW)
    services.cancel_booking(gone_booking, actor=third, now=NOW)

    recurring = services.schedule_recurring_sessions(teacher, first_start=NOW + 2 * day, duration=60, capacity=2,
                                                     rrule="FREQ=WEEKLY;COUNT=3", timezone="Europe/London", now=NOW)
    group_series = services.subscribe_to_recurring_sessions(other, recurring[0].recurrence_key, now=NOW)
    pending = services.request_lesson(student, tutor, start=TOMORROW, duration=60, now=NOW)
    proposal = services.request_reschedule(pending, start=TOMORROW + dt.timedelta(hours=3), actor=tutor, now=NOW)
    lesson_series = services.create_series(other, tutor, first_start=NOW + 3 * day + dt.timedelta(hours=1),
                                           duration=60, rrule="FREQ=WEEKLY;COUNT=3", timezone="Europe/London",
                                           now=NOW)
    gone_series = services.create_series(third, tutor, first_start=NOW + 4 * day + dt.timedelta(hours=1),
                                         duration=60, rrule="FREQ=WEEKLY;COUNT=1", timezone="Europe/London",
                                         now=NOW)
    services.decline_series(gone_series, actor=tutor, now=NOW)
    services.issue_feed_token(student, now=NOW)

    world: dict[str, Any] = {
        "teacher": fresh(teacher), "tutor": fresh(tutor), "student": fresh(student), "other": fresh(other),
        "third": fresh(third), "admin": fresh(admin), "inactive": fresh(inactive),
        "open_session": fresh(open_session), "full_session": fresh(full_session),
        "offered_session": fresh(offered_session), "cancelled_session": fresh(cancelled_session),
        "lesson_session": fresh(pending.session), "recurring_session": fresh(recurring[1]),
        "booking": fresh(booking), "pending": fresh(pending), "cancelled_booking": fresh(cancelled_booking),
        "series_booking": Booking.objects.filter(series_item__series=lesson_series).order_by("pk").first(),
        "waiting": fresh(waiting), "offer": fresh(offer),
        "proposal": fresh(proposal),
        "group_series": fresh(group_series), "lesson_series": fresh(lesson_series),
        "window": fresh(windows[2]), "time_off": fresh(time_off),
        "policy": TeacherBookingPolicy.objects.get(teacher=tutor),
        "feed_token": CalendarFeedToken.objects.get(user=student),
        "recurrence_key": recurring[0].recurrence_key,
        "unsaved_user": User(username="unsaved"),
        "unsaved_session": Session(teacher=teacher, title="unsaved", start_at_utc=NOW + day, end_at_utc=NOW + 2 * day,
                                   duration_minutes=60, capacity=2),
        "unsaved_booking": Booking(session=fresh(open_session), student=fresh(third)),
        "unsaved_entry": SessionWaitlist(session=fresh(full_session), student=fresh(third)),
        "unsaved_series": BookingSeries(student=fresh(student), teacher=fresh(tutor)),
        "unsaved_window": TeacherAvailability(teacher=fresh(tutor), weekday=0, start_time=dt.time(1),
                                              end_time=dt.time(2)),
        "unsaved_time_off": TeacherTimeOff(teacher=fresh(tutor), start_at_utc=NOW, end_at_utc=NOW + day),
    }
    assert world["offer"].status == "offered" and world["pending"].status == "pending"
    assert world["lesson_series"].status == "pending"
    # Deleted last: their rows go, the instances keep their pks.
    world.update({
        "deleted_entry": deleted(gone_entry), "deleted_booking": deleted(gone_booking),
        "deleted_series": deleted(gone_series), "deleted_window": deleted(spare_window),
        "deleted_time_off": deleted(spare_time_off), "deleted_session": deleted(gone_session),
        "deleted_user": deleted(ghost), "deleted_admin": deleted(ghost_admin),
    })
    return world


# --- one call ----------------------------------------------------------------------------------------------


class Runaway(BaseException):
    """A call that kept the CPU busy past ``RUNAWAY`` seconds (a BaseException: no service may catch it)."""


@contextmanager
def runaway_guard() -> Iterator[None]:
    if not hasattr(signal, "setitimer"):
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise Runaway(f"still running after {RUNAWAY} CPU seconds")

    previous = signal.signal(signal.SIGPROF, interrupt)
    signal.setitimer(signal.ITIMER_PROF, RUNAWAY)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def app_models() -> list[type[Model]]:
    found = {*apps.get_app_config(TeacherBookingPolicy._meta.app_label).get_models(), get_session_model(),
             get_booking_model(), get_user_model()}
    return sorted(found, key=lambda m: m._meta.label)


def tables() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every model the services write, field by field."""
    return {m._meta.label: list(m._base_manager.order_by("pk").values_list()) for m in app_models()}


def fields_of(obj: Model) -> dict[str, Any]:
    return {f.attname: obj.__dict__.get(f.attname, "<unset>") for f in obj._meta.concrete_fields}


def instances(args: list[Any], kwargs: dict[str, Any]) -> list[Model]:
    found: dict[int, Model] = {}
    for value in [*args, *kwargs.values()]:
        if isinstance(value, Model):
            found.setdefault(id(value), value)
    return list(found.values())


def resolve(name: str, drawn: dict[str, Any], world: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in inspect.signature(getattr(services, name)).parameters.values():
        value = drawn[p.name]
        if p.kind is p.VAR_KEYWORD:
            kwargs.update({key: v.make(world) for key, v in value.items()})
        elif value is OMIT:
            continue
        elif p.kind is p.POSITIONAL_OR_KEYWORD:
            args.append(value.make(world))
        else:
            kwargs[p.name] = value.make(world)
    return args, kwargs


def transaction_statements(queries: list[dict[str, str]]) -> list[str]:
    # Inside the test's transaction a service's atomic block is a savepoint; a lock is FOR UPDATE.
    return [q["sql"] for q in queries
            if q["sql"].lstrip().upper().startswith(("SAVEPOINT", "BEGIN", "START TRANSACTION"))
            or "FOR UPDATE" in q["sql"].upper()]


def check_call(name: str, drawn: dict[str, Any], prototypes: dict[str, Any]) -> None:
    world = {key: copy.deepcopy(value) for key, value in prototypes.items()}
    func = getattr(services, name)
    with transaction.atomic():
        args, kwargs = resolve(name, drawn, world)
        passed = instances(args, kwargs)
        before_fields = [fields_of(obj) for obj in passed]
        stored = [obj.pk is not None and type(obj)._base_manager.filter(pk=obj.pk).exists() for obj in passed]
        before = tables()
        error: BaseException | None = None
        with CaptureQueriesContext(connection) as queries, runaway_guard():
            began = time.process_time()
            try:
                func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 (what it raised is the finding)
                error = exc
            spent = time.process_time() - began
        where = f"{name}({drawn!r})"
        if error is not None:
            assert isinstance(error, BookingError), (
                f"{where} raised {type(error).__name__}: "
                f"{''.join(traceback.format_exception(error, limit=-6))[-3000:]}")
            assert error.code in ERROR_CODES, f"{where} refused with unregistered code {error.code!r}"
            str(error)  # the message renders
            assert tables() == before, f"{where} refused with {error.code!r} but wrote rows"
            for obj, was, was_stored in zip(passed, before_fields, stored, strict=True):
                assert fields_of(obj) == was, f"{where} refused with {error.code!r} but changed {obj!r}"
                if was_stored:
                    assert fields_of(fresh(obj)) == was, f"{where}: {obj!r} differs from its row"
            if error.code in INPUT_CODES and type(error) is BookingError or error.code == "not_allowed":
                opened = transaction_statements(queries.captured_queries)
                assert not opened, f"{where} refused with {error.code!r} after opening a transaction: {opened[:3]}"
        else:
            try:
                # PostgreSQL and SQLite check foreign keys at commit, which the test's transaction never reaches.
                connection.check_constraints()
            except IntegrityError as exc:
                raise AssertionError(f"{where} returned, but its rows break a constraint checked at commit: "
                                     f"{str(exc)[:300]}") from exc
        assert spent < BUDGET, f"{where} took {spent:.2f} CPU seconds"
        transaction.set_rollback(True)


# --- the test ----------------------------------------------------------------------------------------------


def test_every_parameter_of_every_public_function_has_careful_values() -> None:
    # Driven with hostile values alone, a call would stop at its first check and leave the later ones untried.
    assert len(service_names()) >= 29
    missing = [(name, p.name) for name in service_names()
               for p in inspect.signature(getattr(services, name)).parameters.values()
               if p.kind is not p.VAR_KEYWORD and p.name not in GOOD]
    assert not missing


@pytest.mark.parametrize("name", service_names())
def test_hostile_arguments_are_refused_with_a_code_and_change_nothing(name: str, teacher: Any, student: Any,
                                                                      other_student: Any, make_user: Any) -> None:
    prototypes = build_world(teacher, student, other_student, make_user)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
              suppress_health_check=[HealthCheck.too_slow])
    @given(drawn=calls(name))
    def run(drawn: dict[str, Any]) -> None:
        check_call(name, drawn, prototypes)

    for drawn in REGRESSIONS.get(name, []):
        run = example(drawn=drawn)(run)
    run()
