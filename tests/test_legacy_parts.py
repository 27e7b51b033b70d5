"""The legacy import's parts on their own: interval overlap, time zone names, the planned seat counters and statuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from django_liveclass_booking.legacy.context import Context, Existing
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
    ctx = Context(now=NOW, users={"t": 1, "a": 2, "b": 3, "c": 4}, sessions={}, booking_refs=set(), seat_holders={},
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


def outcome_rows(start: dt.datetime, minutes: int = 60) -> dict[str, list[Any]]:
    """A group session at ``start`` with ``attended``, ``no_show`` and ``confirmed`` bookings; two lessons after it."""
    when = start.isoformat()
    return {
        "sessions": [dict(id=1, teacher="t", scheduled_start=when, timezone="UTC", duration_minutes=minutes,
                          total_seats=3, status="completed")],
        "bookings": [dict(id=1, student="a", session=1, status="attended"),
                     dict(id=2, student="b", session=1, status="NO_SHOW"),
                     dict(id=3, student="c", session=1, status="confirmed")],
        "one_on_one_bookings": [dict(id=1, student="a", teacher="t",
                                     scheduled_start=(start + dt.timedelta(hours=2)).isoformat(), timezone="UTC",
                                     duration_minutes=minutes, status="attended"),
                                dict(id=2, student="b", teacher="t",
                                     scheduled_start=(start + dt.timedelta(hours=5)).isoformat(), timezone="UTC",
                                     duration_minutes=minutes, status="no_show")],
    }


def context(**facts: Any) -> Context:
    values: dict[str, Any] = dict(now=NOW, users={"t": 1, "a": 2, "b": 3, "c": 4}, sessions={}, booking_refs=set(),
                                  seat_holders={}, busy={}, policies={})
    return Context(**{**values, **facts})


def test_outcomes_of_sessions_that_have_ended_hold_their_seats() -> None:
    plan = plan_import(parse_rows(outcome_rows(NOW - dt.timedelta(days=2))), context())
    assert plan.problems == [] and plan.adjusted == []
    statuses = {b["external_ref"]: (b["status"], b["reason"]) for b in plan.bookings}
    assert statuses == {"bookings:1": ("completed", ""), "bookings:2": ("no_show", ""), "bookings:3": ("confirmed", ""),
                        "one_on_one_bookings:1": ("completed", ""), "one_on_one_bookings:2": ("no_show", "")}
    # Each holds its seat, as the confirmed booking does; the lessons stay scheduled.
    assert plan.seat_counts == {"sessions:1": 3, "one_on_one_bookings:1": 1, "one_on_one_bookings:2": 1}
    assert {s["external_ref"]: s["status"] for s in plan.sessions} == {
        "sessions:1": "scheduled", "one_on_one_bookings:1": "scheduled", "one_on_one_bookings:2": "scheduled"}
    assert plan.legacy_statuses == {"bookings:1": "attended", "bookings:2": "no_show", "bookings:3": "confirmed",
                                    "one_on_one_bookings:1": "attended", "one_on_one_bookings:2": "no_show"}


@pytest.mark.parametrize(("start", "minutes"), [
    (NOW + dt.timedelta(days=1), 60),  # still to come
    (NOW - dt.timedelta(minutes=30), 60),  # under way
    (NOW - dt.timedelta(minutes=59), 60),
])
def test_outcomes_of_sessions_not_yet_over_are_reported(start: dt.datetime, minutes: int) -> None:
    plan = plan_import(parse_rows(outcome_rows(start, minutes)), context())
    reasons = {p.ref: p.reason for p in plan.problems}
    assert set(reasons) == {"bookings:1", "bookings:2", "one_on_one_bookings:1", "one_on_one_bookings:2"}
    assert "legacy status 'attended' for a session that has not ended yet" in reasons["bookings:1"]
    assert "legacy status 'no_show' for a session that has not ended yet" in reasons["one_on_one_bookings:2"]
    assert [b["external_ref"] for b in plan.bookings] == ["bookings:3"]
    # The reported rows take no seat and no time of the teacher.
    assert plan.seat_counts == {"sessions:1": 1}
    assert [s["external_ref"] for s in plan.sessions] == ["sessions:1"]


def test_a_session_ending_exactly_now_has_ended() -> None:
    rows = outcome_rows(NOW - dt.timedelta(minutes=60))
    rows["one_on_one_bookings"] = []
    plan = plan_import(parse_rows(rows), context())
    assert plan.problems == []
    assert plan.seat_counts == {"sessions:1": 3}


def test_an_outcome_takes_a_seat_of_a_session_imported_before() -> None:
    start = NOW - dt.timedelta(days=2)
    existing = Existing(pk=7, teacher_id=1, kind="group", status="scheduled", start=start,
                        end=start + dt.timedelta(minutes=60), seats_taken=2, capacity=3)
    rows = outcome_rows(start)
    rows["one_on_one_bookings"] = []
    # "a" already holds a seat there (a confirmed booking imported before); "b" takes the last one.
    plan = plan_import(parse_rows(rows), context(sessions={"sessions:1": existing},
                                                 seat_holders={(7, 2): "bookings:0"}))
    reasons = {p.ref: p.reason for p in plan.problems}
    assert reasons["bookings:1"] == "duplicate seat-holding booking of 'a' in sessions:1 (bookings:0 is kept)"
    assert "sessions:1 is full (3 seats): the earliest seat-holding bookings keep them" in reasons["bookings:3"]
    assert [(b["external_ref"], b["status"], b["session_id"]) for b in plan.bookings] == [("bookings:2", "no_show", 7)]
    assert plan.seat_increments == {7: 1}


def test_an_outcome_in_a_cancelled_session_is_imported_as_cancelled() -> None:
    rows = outcome_rows(NOW - dt.timedelta(days=2))
    rows["sessions"][0]["status"] = "cancelled"
    plan = plan_import(parse_rows(rows), context())
    assert {b["external_ref"]: (b["status"], b["reason"]) for b in plan.bookings if b["external_ref"][0] == "b"} == {
        "bookings:1": ("cancelled", "session cancelled"), "bookings:2": ("cancelled", "session cancelled"),
        "bookings:3": ("cancelled", "session cancelled")}
    assert [p.reason for p in plan.adjusted][:2] == [
        "imported as cancelled: legacy status 'attended', but its session is cancelled",
        "imported as cancelled: legacy status 'no_show', but its session is cancelled"]
    assert plan.seat_counts["sessions:1"] == 0
