"""RRULE expansion in local wall-clock time (pure: no database)."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from typing import Any

import pytest

from django_liveclass_booking.recurrence import Occurrence, RecurrenceError, expand
from django_liveclass_booking.services._engine import rrule

HOUR = dt.timedelta(hours=1)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def run(rule: str, first: dt.datetime, tz: str = "Europe/London", **kwargs: Any) -> list[Occurrence]:
    kwargs.setdefault("duration", HOUR)
    kwargs.setdefault("max_occurrences", 104)
    return expand(rule, first_start_local=first, timezone=tz, **kwargs)


def refusal(rule: str, first: dt.datetime = dt.datetime(2026, 1, 5, 17), **kwargs: Any) -> RecurrenceError:
    with pytest.raises(RecurrenceError) as caught:
        run(rule, first, **kwargs)
    return caught.value


# Each series starts at 17:00 on the Sunday a week before the change; its second lesson falls on the day
# of the change, after it.
@pytest.mark.parametrize(
    ("tz", "first", "utc_hours"),
    [
        ("Europe/London", dt.datetime(2026, 3, 22, 17), (17, 16)),
        ("Europe/London", dt.datetime(2026, 10, 18, 17), (16, 17)),
        ("America/New_York", dt.datetime(2026, 3, 1, 17), (22, 21)),
        ("America/New_York", dt.datetime(2026, 10, 25, 17), (21, 22)),
        ("Australia/Sydney", dt.datetime(2026, 3, 29, 17), (6, 7)),
        ("Australia/Sydney", dt.datetime(2026, 9, 27, 17), (7, 6)),
    ],
)
def test_weekly_series_keeps_its_local_time_across_each_dst_change(
    tz: str, first: dt.datetime, utc_hours: tuple[int, int]
) -> None:
    occurrences = run("FREQ=WEEKLY;COUNT=2", first, tz)

    assert [o.local_start for o in occurrences] == [first, first + dt.timedelta(days=7)]
    assert [o.start.astimezone(zoneinfo.ZoneInfo(tz)).hour for o in occurrences] == [17, 17]
    assert tuple(o.start.hour for o in occurrences) == utc_hours


@pytest.mark.parametrize(
    ("tz", "first", "expected_start", "expected_wall"),
    [
        ("Europe/London", dt.datetime(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), dt.time(2, 30)),
        ("America/New_York", dt.datetime(2026, 3, 7, 2, 30), utc(2026, 3, 8, 7, 30), dt.time(3, 30)),
        ("Australia/Sydney", dt.datetime(2026, 10, 3, 2, 30), utc(2026, 10, 3, 16, 30), dt.time(3, 30)),
    ],
)
def test_start_in_spring_forward_gap_moves_forward_by_the_gap(
    tz: str, first: dt.datetime, expected_start: dt.datetime, expected_wall: dt.time
) -> None:
    gap_day = run("FREQ=DAILY;COUNT=3", first, tz)[1]

    assert gap_day.local_start == first + dt.timedelta(days=1)
    assert gap_day.start == expected_start
    assert gap_day.start.astimezone(zoneinfo.ZoneInfo(tz)).time() == expected_wall


@pytest.mark.parametrize(
    ("tz", "first", "expected_start"),
    [
        ("America/New_York", dt.datetime(2026, 10, 31, 1, 30), utc(2026, 11, 1, 5, 30)),
        ("Europe/London", dt.datetime(2026, 10, 24, 1, 30), utc(2026, 10, 25, 0, 30)),
    ],
)
def test_ambiguous_start_takes_the_first_occurrence(tz: str, first: dt.datetime, expected_start: dt.datetime) -> None:
    assert run("FREQ=DAILY;COUNT=2", first, tz)[1].start == expected_start


def test_end_is_the_duration_in_real_time_across_a_change() -> None:
    # 01:30 EDT plus 90 minutes is 02:00 EST: the wall clock shows only 30 minutes more.
    occurrence = run("FREQ=DAILY;COUNT=2", dt.datetime(2026, 10, 31, 1, 30), "America/New_York",
                     duration=dt.timedelta(minutes=90))[1]

    assert occurrence.end - occurrence.start == dt.timedelta(minutes=90)
    assert occurrence.end == utc(2026, 11, 1, 7, 0)


def test_sub_daily_rule_across_a_gap_yields_each_instant_once() -> None:
    occurrences = run("FREQ=MINUTELY;INTERVAL=30;COUNT=8", dt.datetime(2026, 3, 29, 0, 0))
    starts = [o.start for o in occurrences]

    assert starts == sorted(set(starts))
    assert starts == [utc(2026, 3, 29, 0, 0) + k * dt.timedelta(minutes=30) for k in range(6)]


def test_starts_are_utc_and_local_starts_naive() -> None:
    occurrence = run("FREQ=WEEKLY;COUNT=1", dt.datetime(2026, 6, 1, 17))[0]

    assert occurrence.local_start.tzinfo is None
    assert occurrence.start.tzinfo is dt.UTC and occurrence.end.tzinfo is dt.UTC


@pytest.mark.parametrize(
    ("first", "tz", "expected_local"),
    [
        (utc(2026, 1, 5, 17), "Europe/London", dt.datetime(2026, 1, 5, 17)),
        (utc(2026, 1, 5, 17), "America/New_York", dt.datetime(2026, 1, 5, 12)),
        (dt.datetime(2026, 1, 5, 18, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")), "Europe/London",
         dt.datetime(2026, 1, 5, 17)),
    ],
)
def test_aware_first_start_is_read_as_the_wall_clock_of_the_timezone(
    first: dt.datetime, tz: str, expected_local: dt.datetime
) -> None:
    assert run("FREQ=DAILY;COUNT=1", first, tz)[0].local_start == expected_local


def test_count_above_the_cap_is_refused_before_any_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_walk(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the rule was expanded")

    monkeypatch.setattr(rrule, "walk", no_walk)

    error = refusal("FREQ=SECONDLY;COUNT=1000000")

    assert error.code == "too_many_occurrences"
    assert error.params == {"count": 1000000, "max": 104}


def test_endless_minutely_rule_is_refused_quickly() -> None:
    began = time.perf_counter()

    error = refusal("FREQ=MINUTELY")

    assert error.code == "too_many_occurrences"
    assert time.perf_counter() - began < 1


def test_until_far_away_beyond_the_cap_is_refused() -> None:
    assert refusal("FREQ=DAILY;UNTIL=20991231T235959Z").code == "too_many_occurrences"


def test_count_equal_to_the_cap_is_accepted() -> None:
    assert len(run("FREQ=WEEKLY;COUNT=104", dt.datetime(2026, 1, 5, 17))) == 104


def test_until_producing_exactly_the_cap_is_accepted() -> None:
    occurrences = run("FREQ=DAILY;UNTIL=20260110T170000Z", dt.datetime(2026, 1, 1, 17), max_occurrences=10)

    assert len(occurrences) == 10


@pytest.mark.parametrize(
    "rule",
    ["FREQ=SOMETIMES", "garbage", "", "   ", "RRULE:", "COUNT=3", "FREQ=DAILY;", "FREQ=DAILY;FREQ=WEEKLY",
     "FREQ=DAILY;COUNT=0", "FREQ=DAILY;COUNT=1_0", "FREQ=DAILY;INTERVAL=0", "FREQ=DAILY;BYHOUR=25",
     "FREQ=DAILY;UNTIL=20261399", "FREQ=DAILY;UNTIL=2026", "FREQ=DAILY;COUNT=3;UNTIL=20261231T000000Z"],
)
def test_invalid_rule_text_is_refused(rule: str) -> None:
    error = refusal(rule)

    assert error.code == "invalid_rrule"
    assert error.params["rrule"] == rule


@pytest.mark.parametrize(
    "rule",
    ["DTSTART:20260105T170000Z\nRRULE:FREQ=DAILY;COUNT=3", "FREQ=DAILY;DTSTART=20260105T170000",
     "FREQ=DAILY;COUNT=3\nEXDATE:20260106T170000", "RRULE:FREQ=DAILY;COUNT=2 RRULE:FREQ=WEEKLY;COUNT=2"],
)
def test_anything_but_a_single_rule_is_refused(rule: str) -> None:
    assert refusal(rule).code == "invalid_rrule"


def test_recurrence_error_is_a_value_error_with_a_message() -> None:
    error = refusal("FREQ=SOMETIMES")

    assert isinstance(error, ValueError)
    assert "FREQ=SOMETIMES" in str(error)


def test_rule_producing_nothing_is_refused() -> None:
    error = refusal("FREQ=DAILY;UNTIL=20251231T000000Z")

    assert error.code == "invalid_rrule"
    assert "no occurrences" in str(error)


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "../etc/passwd", "America"])
def test_unknown_timezone_is_refused(tz: str) -> None:
    error = refusal("FREQ=DAILY;COUNT=3", tz=tz)

    assert error.code == "invalid_timezone"
    assert error.params == {"timezone": tz}


@pytest.mark.parametrize("duration", [dt.timedelta(0), -HOUR])
def test_duration_must_be_positive(duration: dt.timedelta) -> None:
    assert refusal("FREQ=DAILY;COUNT=3", duration=duration).code == "invalid_duration"


def test_max_occurrences_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError) as caught:
        run("FREQ=DAILY;COUNT=1", dt.datetime(2026, 1, 5, 17), max_occurrences=0)

    assert not isinstance(caught.value, RecurrenceError)


def test_utc_until_is_inclusive() -> None:
    occurrences = run("FREQ=WEEKLY;UNTIL=20260126T170000Z", dt.datetime(2026, 1, 5, 17))

    assert occurrences[-1].start == utc(2026, 1, 26, 17)
    assert len(occurrences) == 4


def test_utc_until_is_judged_in_utc_during_the_repeated_hour() -> None:
    # 06:15 UTC is 01:15 EST, in the repeated hour: the first 01:30 (EDT, 05:30 UTC) is before it.
    occurrences = run("FREQ=HOURLY;UNTIL=20261101T061500Z", dt.datetime(2026, 11, 1, 0, 30), "America/New_York")

    assert [o.start for o in occurrences] == [utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 5, 30)]


def test_local_until_is_a_wall_clock_time() -> None:
    occurrences = run("FREQ=DAILY;UNTIL=20260103T170000", dt.datetime(2026, 1, 1, 17), "America/New_York")

    assert [o.local_start.day for o in occurrences] == [1, 2, 3]


def test_date_only_until_includes_that_whole_day() -> None:
    occurrences = run("FREQ=DAILY;UNTIL=20260105", dt.datetime(2026, 1, 1, 17))

    assert occurrences[-1].local_start == dt.datetime(2026, 1, 5, 17)


@pytest.mark.parametrize("rule", ["RRULE:FREQ=WEEKLY;COUNT=3", "rrule:freq=weekly;count=3", " FREQ=WEEKLY;COUNT=3\n"])
def test_prefix_case_and_surrounding_space_are_accepted(rule: str) -> None:
    assert len(run(rule, dt.datetime(2026, 1, 5, 17))) == 3


def test_weekly_by_day_gives_each_listed_weekday() -> None:
    occurrences = run("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4", dt.datetime(2026, 1, 5, 17))

    assert [o.local_start.date() for o in occurrences] == [
        dt.date(2026, 1, 5), dt.date(2026, 1, 7), dt.date(2026, 1, 12), dt.date(2026, 1, 14)
    ]


def test_indexes_count_from_zero() -> None:
    assert [o.index for o in run("FREQ=DAILY;COUNT=5", dt.datetime(2026, 1, 5, 17))] == [0, 1, 2, 3, 4]


# The fall-back night in New York: 01:30 happens at 05:30 UTC, then again at 06:30 UTC.
FIRST_ONE_THIRTY = dt.datetime(2026, 11, 1, 1, 30, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
SECOND_ONE_THIRTY = FIRST_ONE_THIRTY.replace(fold=1)


@pytest.mark.parametrize(
    "first",
    [SECOND_ONE_THIRTY, utc(2026, 11, 1, 6, 30), SECOND_ONE_THIRTY.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))],
)
def test_first_occurrence_keeps_the_instant_of_an_aware_first_start(first: dt.datetime) -> None:
    occurrences = run("FREQ=DAILY;COUNT=2", first, "America/New_York")

    assert [o.start for o in occurrences] == [utc(2026, 11, 1, 6, 30), utc(2026, 11, 2, 6, 30)]
    assert occurrences[0].local_start == dt.datetime(2026, 11, 1, 1, 30)


def test_first_occurrence_at_the_first_of_two_equal_times_keeps_it() -> None:
    assert run("FREQ=DAILY;COUNT=1", FIRST_ONE_THIRTY, "America/New_York")[0].start == utc(2026, 11, 1, 5, 30)


def test_naive_first_start_with_fold_one_is_the_second_of_two_equal_times() -> None:
    first = dt.datetime(2026, 11, 1, 1, 30, fold=1)

    assert run("FREQ=DAILY;COUNT=1", first, "America/New_York")[0].start == utc(2026, 11, 1, 6, 30)


def test_naive_first_start_with_fold_one_in_a_gap_still_moves_forward() -> None:
    first = dt.datetime(2026, 3, 8, 2, 30, fold=1)

    assert run("FREQ=DAILY;COUNT=1", first, "America/New_York")[0].start == utc(2026, 3, 8, 7, 30)


def test_sub_daily_rule_from_the_second_of_two_equal_times_keeps_its_step() -> None:
    occurrences = run("FREQ=MINUTELY;INTERVAL=15;COUNT=4", SECOND_ONE_THIRTY, "America/New_York")

    assert [o.start for o in occurrences] == [utc(2026, 11, 1, 6, 30) + k * dt.timedelta(minutes=15) for k in range(4)]


def test_first_start_not_matching_the_rule_is_not_an_occurrence_even_with_fold_one() -> None:
    occurrences = run("FREQ=WEEKLY;BYDAY=MO;COUNT=1", SECOND_ONE_THIRTY, "America/New_York")

    assert [o.start for o in occurrences] == [utc(2026, 11, 2, 6, 30)]


@pytest.mark.parametrize("duration", [dt.timedelta(hours=24, seconds=1), dt.timedelta(minutes=10**8)])
def test_duration_over_a_day_is_refused(duration: dt.timedelta) -> None:
    error = refusal("FREQ=DAILY;COUNT=3", duration=duration)

    assert error.code == "invalid_duration"
    assert error.params == {"duration": duration, "max": dt.timedelta(hours=24)}


def test_duration_of_a_whole_day_is_accepted() -> None:
    assert len(run("FREQ=WEEKLY;COUNT=2", dt.datetime(2026, 1, 5, 17), duration=dt.timedelta(hours=24))) == 2


@pytest.mark.parametrize(
    "first",
    [dt.datetime(1, 1, 1, 0, 30), dt.datetime(9999, 12, 31, 23), dt.datetime(9989, 1, 1),
     dt.datetime(1, 1, 1, 0, 30, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, 23, 30, tzinfo=dt.UTC)],
)
def test_first_start_at_the_ends_of_the_calendar_is_refused(first: dt.datetime) -> None:
    error = refusal("FREQ=DAILY;COUNT=3", first, tz="America/New_York")

    assert error.code == "invalid_rrule"
    assert "years 2 to 9988" in error.params["reason"]
    assert error.params["first_start"] == first


def test_first_start_at_the_last_accepted_year_expands() -> None:
    assert len(run("FREQ=YEARLY;COUNT=11", dt.datetime(9988, 12, 31, 23), "Pacific/Kiritimati")) == 11


def test_first_start_with_a_fraction_of_a_second_keeps_it_in_every_occurrence() -> None:
    first = dt.datetime(2026, 1, 5, 17, 0, 0, 250000, tzinfo=dt.UTC)

    assert [o.start for o in run("FREQ=WEEKLY;COUNT=2", first)] == [first, first + dt.timedelta(days=7)]
