"""available_slots and request_lesson agree on what is free, on random teacher calendars.

Every slot the finder offers must be requestable, and a time on the same grid that it does not
offer must be refused. Each example builds a whole calendar (policy, weekly windows, time off,
sessions already on it) in the real database and rolls it back afterwards, so examples never
see each other's rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError, PolicyViolation, SlotUnavailable
from django_liveclass_booking.models import TeacherTimeOff, get_session_model

from .conftest import NOW

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TIMEZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
QUARTER = dt.timedelta(minutes=15)  # the default SLOT_STEP_MINUTES; windows are drawn on this grid too
RANGE = dt.timedelta(days=14)
SLOTS_TRIED = 15  # plus the first and the last: each attempt is a whole request_lesson
REFUSALS_TRIED = 12

_names = itertools.count(1)


# --- calendars --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    weekday: int
    start: int  # quarters of an hour after local midnight
    end: int
    timezone: str | None  # None: the teacher's policy timezone, as add_availability defaults it


@dataclass(frozen=True)
class Moment:
    """A time: minutes from NOW, or quarters of an hour from a window's start in its first or second week."""

    offset_minutes: int = 0
    window: int | None = None
    week: int = 0
    quarters: int = 0


@dataclass(frozen=True)
class Existing:
    """A session put on the calendar before the slots are computed."""

    kind: str  # "lesson": request_lesson by another student (a group session if refused); "group"
    start: Moment
    duration: int
    # How long before NOW it was made. A request made 48 h or more before NOW has expired (its
    # time to live is 48 h) but is still stored as pending: it must not block the slot.
    made_hours_before: int
    cancelled: bool


@dataclass(frozen=True)
class Calendar:
    timezone: str
    approval_mode: str
    buffer: int
    min_notice: int
    max_advance: int | None
    durations: list[int]
    windows: list[Window]
    time_off: list[tuple[Moment, int]]  # start, length in minutes
    sessions: list[Existing]
    duration: int

    @property
    def offers_duration(self) -> bool:
        return not self.durations or self.duration in self.durations


def local_weekday_and_quarter(timezone: str) -> tuple[int, int]:
    local_now = NOW.astimezone(zoneinfo.ZoneInfo(timezone))
    return local_now.weekday(), (local_now.hour * 60 + local_now.minute) // 15


@st.composite
def windows(draw: Any, calendar_timezone: str) -> list[Window]:
    drawn: list[Window] = []
    for _ in range(draw(st.integers(1, 4))):
        # Now and then a window in another timezone than the teacher's: windows merge in UTC.
        timezone = draw(st.one_of(st.none(), st.none(), st.none(), st.sampled_from(TIMEZONES)))
        if drawn and draw(st.booleans()):
            # Continuing from (or overlapping) the window before: touching and overlapping windows
            # merge into one interval with one grid.
            weekday, start = drawn[-1].weekday, max(0, drawn[-1].end - draw(st.sampled_from([0, 0, 2, 4])))
        elif draw(st.integers(0, 3)) == 0:
            # Open around NOW, where the minimum notice decides which of the first slots are offered.
            weekday, quarter = local_weekday_and_quarter(timezone or calendar_timezone)
            start = max(0, min(quarter + draw(st.integers(-8, 4)), 90))
        else:
            weekday, start = draw(st.integers(0, 6)), draw(st.integers(0, 90))
        end = min(start + draw(st.integers(1, 24)), 95)  # windows end by 23:45: they never cross midnight
        if end > start:
            drawn.append(Window(weekday, start, end, timezone))
    return drawn or [Window(0, 36, 40, None)]


def moments(window_count: int) -> Any:
    anywhere = st.builds(Moment, offset_minutes=st.integers(-12, 14 * 24 * 4).map(lambda q: q * 15))
    near_window = st.builds(Moment, window=st.integers(0, window_count - 1), week=st.integers(0, 1),
                            quarters=st.one_of(st.integers(0, 4), st.integers(-4, 24)))
    # Mostly near a window: that is where sessions and time off decide which slots survive.
    return st.one_of(near_window, near_window, anywhere)


@st.composite
def calendars(draw: Any) -> Calendar:
    timezone = draw(st.sampled_from(TIMEZONES))
    drawn_windows = draw(windows(timezone))
    duration = draw(st.sampled_from([30, 45, 60]))
    offer = draw(st.sampled_from(["any", "any", "listed", "listed", "listed", "listed", "listed", "not_listed"]))
    others = draw(st.lists(st.sampled_from([20, 30, 45, 60, 90]), max_size=3, unique=True))
    if offer == "any":
        durations: list[int] = []
    elif offer == "listed":
        durations = sorted({*others, duration})
    else:
        durations = sorted({d for d in others if d != duration} or {90})
    existing = st.builds(
        Existing,
        kind=st.sampled_from(["lesson", "lesson", "group"]),
        start=moments(len(drawn_windows)),
        duration=st.sampled_from([30, 45, 60, 90]),
        made_hours_before=st.sampled_from([0, 0, 48, 72]),
        cancelled=st.sampled_from([False, False, False, True]),
    )
    time_off_length = st.one_of(st.integers(1, 24), st.integers(1, 3 * 96)).map(lambda q: q * 15)
    return Calendar(
        timezone=timezone,
        approval_mode=draw(st.sampled_from(["auto", "manual", "manual_for_new_students"])),
        buffer=draw(st.sampled_from([0, 10, 15])),
        min_notice=draw(st.integers(0, 180)),
        max_advance=draw(st.sampled_from([None, 3, 10])),
        durations=durations,
        windows=drawn_windows,
        time_off=draw(st.lists(st.tuples(moments(len(drawn_windows)), time_off_length), max_size=2)),
        sessions=draw(st.integers(0, 4).flatmap(lambda n: st.lists(existing, min_size=n, max_size=n))),
        duration=duration,
    )


# --- building a calendar in the database --------------------------------------------------------


def zone(calendar: Calendar, window: Window) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(window.timezone or calendar.timezone)


def window_date(calendar: Calendar, window: Window, week: int) -> dt.date:
    """The window's local date in the ``week``-th week from today (week 0's window may be over already)."""
    today = NOW.astimezone(zone(calendar, window)).date()
    return today + dt.timedelta(days=(window.weekday - today.weekday()) % 7 + 7 * week)


def wall_clock(calendar: Calendar, window: Window, day: dt.date, quarters: int) -> dt.datetime:
    """``quarters`` of an hour after the window's local midnight of ``day``, in UTC.

    Plain arithmetic on the local time is right here: no DST change falls in these weeks.
    """
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone(calendar, window))
    return (midnight + quarters * QUARTER).astimezone(dt.UTC)


def resolve(calendar: Calendar, moment: Moment) -> dt.datetime:
    if moment.window is None:
        return NOW + dt.timedelta(minutes=moment.offset_minutes)
    window = calendar.windows[moment.window]
    return wall_clock(calendar, window, window_date(calendar, window, moment.week), window.start + moment.quarters)


def make_user(prefix: str) -> Any:
    return get_user_model().objects.create_user(username=f"{prefix}{next(_names)}", password="pw")


def place(calendar: Calendar, teacher: Any, existing: Existing) -> None:
    """Put one session on the calendar, as a 1:1 request if the calendar takes it, else a group session."""
    made = NOW - dt.timedelta(hours=existing.made_hours_before)
    start = resolve(calendar, existing.start)
    session = None
    if existing.kind == "lesson":
        try:
            booking = services.request_lesson(make_user("earlier-student"), teacher, start=start,
                                              duration=existing.duration, now=made)
            session = booking.session
        except BookingError:
            pass
    if session is None:
        try:
            session = services.schedule_session(teacher, start=start, duration=existing.duration, capacity=4,
                                                now=made)
        except BookingError:
            return
    if existing.cancelled:
        services.cancel_session(session, actor=teacher, now=made)


def build(calendar: Calendar) -> Any:
    teacher = make_user("slots-teacher")
    # Sessions go on under a permissive policy, so that most of them land; the limits that shape
    # the slots are set afterwards, as a teacher tightening their policy would.
    services.set_policy(teacher, timezone=calendar.timezone, approval_mode=calendar.approval_mode)
    for window in calendar.windows:
        services.add_availability(teacher, weekday=window.weekday, start_time=dt.time(*divmod(window.start * 15, 60)),
                                  end_time=dt.time(*divmod(window.end * 15, 60)), timezone=window.timezone)
    for existing in calendar.sessions:
        place(calendar, teacher, existing)
    for moment, length in calendar.time_off:
        start = resolve(calendar, moment)
        services.add_time_off(teacher, start=start, end=start + dt.timedelta(minutes=length))
    services.set_policy(teacher, buffer_minutes=calendar.buffer, min_notice_minutes=calendar.min_notice,
                        max_advance_days=calendar.max_advance, lesson_durations=calendar.durations)
    return teacher


def grid_times_in_windows(calendar: Calendar) -> set[dt.datetime]:
    """Every quarter hour inside a window whose lesson would still end within the searched range."""
    latest = NOW + RANGE - dt.timedelta(minutes=calendar.duration)
    found = set()
    for window in calendar.windows:
        for week in range(-1, 3):
            day = window_date(calendar, window, week)
            for quarter in range(window.start, window.end):
                moment = wall_clock(calendar, window, day, quarter)
                if NOW <= moment <= latest:
                    found.add(moment)
    return found


def rolled_back(call: Any) -> Any:
    """Run ``call`` in a transaction that is rolled back, whatever happens: nothing it writes stays."""
    with transaction.atomic():
        try:
            return call()
        finally:
            transaction.set_rollback(True)


def attempt(student: Any, teacher: Any, start: dt.datetime, duration: int) -> Any:
    """request_lesson's answer (the booking or the error); the calendar stays as it was for the next try."""

    def request() -> Any:
        try:
            return services.request_lesson(student, teacher, start=start, duration=duration, now=NOW)
        except BookingError as exc:
            return exc

    return rolled_back(request)


def describe(calendar: Calendar, teacher: Any) -> str:
    """The calendar as stored, for a failure message."""
    sessions = get_session_model().objects.filter(teacher=teacher).values_list(
        "kind", "status", "start_at_utc", "end_at_utc", "bookings__status", "bookings__expires_at")
    off = TeacherTimeOff.objects.filter(teacher=teacher).values_list("start_at_utc", "end_at_utc")
    return f"{calendar}\nsessions: {list(sessions)}\ntime off: {list(off)}"


def slots_for_two_weeks(teacher: Any, duration: int) -> list[tuple[dt.datetime, dt.datetime]]:
    return services.available_slots(teacher, start=NOW, end=NOW + RANGE, duration=duration, now=NOW)


# --- the properties -----------------------------------------------------------------------------

# Each example builds its own teacher and calendar inside a transaction it rolls back, so the next
# one starts from an empty calendar. derandomize: CI runs the same examples every time.
on_random_calendars = settings(max_examples=40, deadline=None, derandomize=True,
                               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.django_db
@on_random_calendars
@given(calendar=calendars(), rnd=st.randoms(use_true_random=False))
def test_every_offered_slot_can_be_requested(calendar: Calendar, rnd: Any) -> None:
    rolled_back(lambda: check_offered_slots_are_accepted(calendar, rnd))


@pytest.mark.django_db
@on_random_calendars
@given(calendar=calendars(), rnd=st.randoms(use_true_random=False))
def test_every_grid_time_in_a_window_that_is_not_offered_is_refused(calendar: Calendar, rnd: Any) -> None:
    rolled_back(lambda: check_other_grid_times_are_refused(calendar, rnd))


def check_offered_slots_are_accepted(calendar: Calendar, rnd: Any) -> None:
    teacher, student = build(calendar), make_user("slots-student")
    if not calendar.offers_duration:
        # A length the teacher does not offer is refused outright, not answered with no slots.
        with pytest.raises(PolicyViolation) as refused:
            slots_for_two_weeks(teacher, calendar.duration)
        assert refused.value.code == "duration_not_allowed"
        return

    slots = slots_for_two_weeks(teacher, calendar.duration)
    event("offers slots" if slots else "offers no slot")  # shown by --hypothesis-show-statistics
    tried = rnd.sample(slots, min(SLOTS_TRIED, len(slots))) + slots[:1] + slots[-1:]
    for start, end in tried:
        answer = attempt(student, teacher, start, calendar.duration)
        assert not isinstance(answer, BookingError), (
            f"offered slot {start:%a %Y-%m-%d %H:%M} UTC refused: {answer!r} {answer.params}\n"
            + describe(calendar, teacher)
        )
        assert (answer.start_at_utc, answer.end_at_utc) == (start, end)


def check_other_grid_times_are_refused(calendar: Calendar, rnd: Any) -> None:
    teacher, student = build(calendar), make_user("slots-student")
    offered = set() if not calendar.offers_duration else {
        start for start, _ in slots_for_two_weeks(teacher, calendar.duration)}
    not_offered = sorted(grid_times_in_windows(calendar) - offered)
    for start in rnd.sample(not_offered, min(REFUSALS_TRIED, len(not_offered))):
        answer = attempt(student, teacher, start, calendar.duration)
        assert isinstance(answer, (SlotUnavailable, PolicyViolation)), (
            f"{start:%a %Y-%m-%d %H:%M} UTC was not offered but request_lesson gave {answer!r}\n"
            + describe(calendar, teacher)
        )
        if not calendar.offers_duration:
            assert "duration_not_allowed" in answer.codes, answer
        event(f"refused: {answer.code}")
