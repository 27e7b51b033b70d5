"""The legacy import's parts on their own: interval overlap, time zone names, and the planned seat counters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from django_liveclass_booking.legacy.context import Context
from django_liveclass_booking.legacy.parse import BadValue, parse_rows, parse_timezone
from django_liveclass_booking.legacy.plan import plan_import
from django_liveclass_booking.services._engine.intervals import IntervalSet, LabelledIntervals

from .conftest import NOW

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(("other", "buffer", "expected"), [
    ((60, 90), 0, False),  # starts as the first ends: half-open intervals only touch
    ((-30, 0), 0, False),  # ends as the first starts
    ((59, 90), 0, True),
    ((10, 20), 0, True),  # inside
    ((-10, 70), 0, True),  # around
    ((60, 90), 1, True),  # touching is too close with a buffer
    ((74, 90), 15, True),
    ((75, 90), 15, False),  # exactly the buffer apart is far enough
    ((-45, -14), 15, True),
    ((-45, -15), 15, False),
])
def test_overlaps(other: tuple[int, int], buffer: int, expected: bool) -> None:
    pad = dt.timedelta(minutes=buffer)
    found = LabelledIntervals([(at(other[0]), at(other[1]), "x")]).first_meeting(at(0), at(60), pad)
    assert (found == "x") is expected
    # Symmetric: which of the two is being checked does not matter.
    assert (LabelledIntervals([(at(0), at(60), "x")]).first_meeting(at(other[0]), at(other[1]), pad) == "x") is expected
    # The merged set answers the same question for the buffer-widened interval.
    assert IntervalSet([(at(other[0]), at(other[1]))]).meets(at(0) - pad, at(60) + pad) is expected


def test_calendar_finds_a_long_interval_that_started_much_earlier() -> None:
    calendar = LabelledIntervals([(at(-600), at(600), "all day"), (at(-60), at(-30), "early")])
    assert calendar.first_meeting(at(100), at(130), dt.timedelta(0)) == "all day"
    calendar = LabelledIntervals([(at(0), at(60), "a")])
    assert calendar.first_meeting(at(60), at(90), dt.timedelta(0)) is None
    calendar.add(at(60), at(90), "b")
    assert calendar.first_meeting(at(80), at(85), dt.timedelta(0)) == "b"
    assert calendar.first_meeting(at(99), at(110), dt.timedelta(minutes=10)) == "b"
    assert calendar.first_meeting(at(100), at(110), dt.timedelta(minutes=10)) is None


def test_parse_timezone() -> None:
    assert parse_timezone("Europe/London").key == "Europe/London"
    for name, reason in [("Mars/Olympus_Mons", "unknown timezone"), ("../../etc/passwd", "unknown timezone"),
                         (42, "must be an IANA name"), ("A" * 65, "must be an IANA name")]:
        with pytest.raises(BadValue, match=reason):
            parse_timezone(name)


def test_the_plan_counts_the_seats_of_new_sessions_apart_from_their_fields() -> None:
    start = "2026-06-01T08:00:00Z"
    rows: dict[str, list[Any]] = {
        "sessions": [dict(id=1, teacher="t", scheduled_start=start, timezone="UTC", duration_minutes=60,
                          total_seats=3, status="scheduled"),
                     dict(id=2, teacher="t", scheduled_start="2026-06-02T08:00:00Z", timezone="UTC",
                          duration_minutes=60, total_seats=3, status="cancelled")],
        "bookings": [dict(id=1, student="a", session=1, status="confirmed"),
                     dict(id=2, student="b", session=1, status="pending"),
                     dict(id=3, student="c", session=1, status="cancelled"),
                     dict(id=4, student="a", session=2, status="confirmed")],
        "one_on_one_bookings": [dict(id=1, student="a", teacher="t", scheduled_start="2026-06-03T08:00:00Z",
                                     timezone="UTC", duration_minutes=30, status="booked"),
                                dict(id=2, student="b", teacher="t", scheduled_start="2026-06-04T08:00:00Z",
                                     timezone="UTC", duration_minutes=30, status="declined")],
    }
    ctx = Context(now=NOW, users={"t": 1, "a": 2, "b": 3, "c": 4}, sessions={}, booking_refs=set(), active_pairs={},
                  busy={}, policies={})
    plan = plan_import(parse_rows(rows), ctx)
    assert plan.problems == []
    assert all("seats_taken" not in fields for fields in plan.sessions)
    assert plan.seat_counts == {"sessions:1": 2, "sessions:2": 0, "one_on_one_bookings:1": 1,
                                "one_on_one_bookings:2": 0}
    assert plan.seat_increments == {}


def test_an_interval_set_merges_and_answers_with_one_bisect() -> None:
    found = IntervalSet([(at(0), at(60)), (at(30), at(90)), (at(200), at(210))])
    assert list(found) == [(at(0), at(90)), (at(200), at(210))]
    assert found.covers(at(10), at(80)) and not found.covers(at(80), at(201))
    found.add(at(90), at(200))
    assert list(found) == [(at(0), at(210))]
    assert found.meets(at(209), at(300)) and not found.meets(at(210), at(300))
