"""A series' first lesson starts at the very instant it was given, even in the repeated hour of a fall-back."""

import datetime as dt
import zoneinfo

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import BookingSeries, get_session_model

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 10, 25, 12, 0, tzinfo=dt.UTC)
# 2026-11-01 is the fall-back night in New York: 01:30 happens twice, at 05:30 and at 06:30 UTC.
SECOND_ONE_THIRTY = dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def sundays(teacher):
    """1:1 lessons on Sundays 00:00-03:00 New York time."""
    services.set_policy(teacher, timezone="America/New_York")
    services.add_availability(teacher, weekday=6, start_time=dt.time(0), end_time=dt.time(3))
    return teacher


def group_starts(teacher, first_start: dt.datetime) -> list[dt.datetime]:
    sessions = services.schedule_recurring_sessions(
        teacher, first_start=first_start, duration=30, capacity=4, rrule="FREQ=WEEKLY;COUNT=2",
        timezone="America/New_York", now=NOW)
    return [s.start_at_utc for s in sessions]


def test_recurring_sessions_start_at_the_second_one_thirty_of_a_fall_back(teacher):
    assert group_starts(teacher, SECOND_ONE_THIRTY) == [utc(2026, 11, 1, 6, 30), utc(2026, 11, 8, 6, 30)]


def test_recurring_sessions_keep_the_instant_of_a_first_start_given_in_another_zone(teacher):
    assert group_starts(teacher, utc(2026, 11, 1, 6, 30)) == [utc(2026, 11, 1, 6, 30), utc(2026, 11, 8, 6, 30)]


def test_recurring_sessions_at_the_first_one_thirty_still_start_at_it(teacher):
    first = SECOND_ONE_THIRTY.replace(fold=0)

    assert group_starts(teacher, first) == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 8, 6, 30)]


def test_the_first_recurring_session_matches_a_single_session_at_the_same_instant(teacher, make_user):
    single = services.schedule_session(make_user(), start=SECOND_ONE_THIRTY, duration=30, capacity=4, now=NOW)

    assert group_starts(teacher, SECOND_ONE_THIRTY)[0] == single.start_at_utc


def test_a_series_of_lessons_starts_at_the_second_one_thirty_of_a_fall_back(sundays, student):
    series = services.create_series(student, sundays, first_start=SECOND_ONE_THIRTY, duration=30,
                                    rrule="FREQ=WEEKLY;COUNT=2", timezone="America/New_York", now=NOW)

    items = list(series.items.order_by("index"))
    assert [i.start_at_utc for i in items] == [utc(2026, 11, 1, 6, 30), utc(2026, 11, 8, 6, 30)]
    assert [i.status for i in items] == ["booked", "booked"]


@pytest.mark.parametrize("minutes", [24 * 60 + 1, 10**8, 10**13])
def test_a_huge_duration_is_refused_with_a_code_and_writes_nothing(teacher, minutes):
    with pytest.raises(BookingError) as caught:
        services.schedule_recurring_sessions(
            teacher, first_start=utc(2026, 11, 2, 17), duration=minutes, capacity=4, rrule="FREQ=WEEKLY;COUNT=2",
            timezone="America/New_York", now=NOW)

    assert caught.value.code == "invalid_duration"
    assert not get_session_model().objects.exists()


@pytest.mark.parametrize(
    ("first_start", "code"),
    [
        (dt.datetime(1, 1, 1, 0, 30, tzinfo=dt.UTC), "invalid_datetime"),
        (dt.datetime(1, 1, 1, 0, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")), "invalid_datetime"),
        (dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC), "invalid_datetime"),
    ],
)
def test_a_first_start_at_the_ends_of_the_calendar_is_refused_with_a_code(student, sundays, first_start, code):
    with pytest.raises(BookingError) as caught:
        services.create_series(student, sundays, first_start=first_start, duration=30, rrule="FREQ=WEEKLY;COUNT=2",
                               timezone="America/New_York", now=NOW)

    assert caught.value.code == code
    assert not BookingSeries.objects.exists()
