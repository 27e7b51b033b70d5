"""Recurring series: DST-proof wall-clock times, written in bulk, one decision for all."""

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError, PolicyViolation, SlotUnavailable
from django_liveclass_booking.models import (
    BookingSeries,
    SessionWaitlist,
    get_booking_model,
    get_session_model,
)

from .invariants import assert_all

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
SYDNEY = zoneinfo.ZoneInfo("Australia/Sydney")
NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def mondays(teacher):
    """Lessons on Mondays 16:00-19:00 London time."""
    services.set_policy(teacher, timezone="Europe/London")
    services.add_availability(teacher, weekday=0, start_time=dt.time(16), end_time=dt.time(19))
    return teacher


def weekly(student, teacher, count=6, start=None, **kwargs):
    return services.create_series(student, teacher, first_start=start or dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON),
                                  duration=60, rrule=f"FREQ=WEEKLY;COUNT={count}", timezone="Europe/London",
                                  now=NOW, **kwargs)


def test_a_weekly_series_keeps_its_local_time_across_dst(mondays, student):
    series = weekly(student, mondays)
    items = list(series.items.order_by("index"))
    assert [i.status for i in items] == ["booked"] * 6
    assert {i.start_at_utc.astimezone(LONDON).hour for i in items} == {17}
    # 2026-03-29 London moves to summer time: 17:00 UTC before, 16:00 UTC after.
    assert [i.start_at_utc.hour for i in items] == [17, 17, 16, 16, 16, 16]
    bookings = get_booking_model().objects.filter(series_item__series=series)
    assert {(b.status, b.source, b.kind) for b in bookings} == {("confirmed", "series", "one_on_one")}
    assert (series.status, series.timezone, series.first_start_time) == ("active", "Europe/London", dt.time(17))
    assert_all()


def session_at(teacher, start):
    return services.schedule_session(teacher, start=start, duration=60, capacity=3, now=NOW)


def test_a_conflicting_occurrence_is_skipped_with_its_code(mondays, student):
    session_at(mondays, dt.datetime(2026, 3, 30, 17, 0, tzinfo=LONDON))
    series = weekly(student, mondays)
    items = list(series.items.order_by("index"))
    assert [(i.status, i.skip_reason) for i in items][2] == ("skipped", "teacher_unavailable")
    assert sum(i.status == "booked" for i in items) == 5
    assert items[2].booking_id is None


def test_on_conflict_fail_reports_every_conflict_and_writes_nothing(mondays, student):
    session_at(mondays, dt.datetime(2026, 3, 30, 17, 0, tzinfo=LONDON))
    services.add_time_off(mondays, start=dt.datetime(2026, 4, 13, tzinfo=LONDON),
                          end=dt.datetime(2026, 4, 14, tzinfo=LONDON))
    sessions_before = get_session_model().objects.count()
    with pytest.raises(PolicyViolation) as exc:
        weekly(student, mondays, on_conflict="fail")
    assert exc.value.codes == ["teacher_unavailable", "outside_availability"]
    assert [v.params["index"] for v in exc.value.violations] == [2, 4]
    assert not BookingSeries.objects.exists()
    assert get_session_model().objects.count() == sessions_before


def test_the_series_own_occurrences_count_against_limits(mondays, student):
    services.set_policy(mondays, max_bookings_per_day=1)
    series = services.create_series(student, mondays, first_start=dt.datetime(2026, 3, 16, 16, 0, tzinfo=LONDON),
                                    duration=60, rrule="FREQ=HOURLY;COUNT=3", timezone="Europe/London", now=NOW)
    assert [(i.status, i.skip_reason) for i in series.items.order_by("index")] == [
        ("booked", ""), ("skipped", "daily_limit"), ("skipped", "daily_limit")]


def test_approval_applies_to_the_series_as_a_whole(mondays, student, signal_log, django_capture_on_commit_callbacks):
    services.set_policy(mondays, approval_mode="manual", request_ttl_hours=72)
    with django_capture_on_commit_callbacks(execute=True):
        series = weekly(student, mondays, count=4)
    assert series.status == "pending"
    assert signal_log.names == ["series_created"] + ["booking_requested"] * 4
    bookings = get_booking_model().objects.filter(series_item__series=series)
    assert {b.status for b in bookings} == {"pending"}
    services.confirm_series(series, actor=mondays, now=NOW)
    assert {b.status for b in bookings.all()} == {"confirmed"}
    assert BookingSeries.objects.get(pk=series.pk).status == "active"


def test_declining_a_series_frees_every_slot(mondays, student, other_student):
    services.set_policy(mondays, approval_mode="manual", request_ttl_hours=72)
    series = weekly(student, mondays, count=3)
    services.decline_series(series, actor=mondays, reason="Full term", now=NOW)
    bookings = get_booking_model().objects.filter(series_item__series=series)
    assert {b.status for b in bookings} == {"declined"}
    assert {b.session.status for b in bookings} == {"cancelled"}
    assert weekly(other_student, mondays, count=3).items.filter(status="booked").count() == 3
    assert_all()


def test_a_student_cannot_confirm_their_own_series(mondays, student):
    services.set_policy(mondays, approval_mode="manual", request_ttl_hours=72)
    series = weekly(student, mondays, count=2)
    with pytest.raises(Exception) as exc:
        services.confirm_series(series, actor=student, now=NOW)
    assert exc.value.code == "not_allowed"


def test_cancel_all_or_this_and_following(mondays, student):
    series = weekly(student, mondays)
    third = dt.datetime(2026, 3, 30, 16, 0, tzinfo=dt.UTC)
    assert services.cancel_series(series, actor=student, from_start=third, now=NOW) == 4
    statuses = [i.booking.status for i in series.items.order_by("index")]
    assert statuses == ["confirmed", "confirmed", "cancelled", "cancelled", "cancelled", "cancelled"]
    assert BookingSeries.objects.get(pk=series.pk).status == "active"
    assert services.cancel_series(series, actor=student, now=NOW) == 2
    assert BookingSeries.objects.get(pk=series.pk).status == "cancelled"
    assert {i.status for i in series.items.all()} == {"cancelled"}
    assert_all()


def test_cancelling_a_series_respects_the_students_cutoff(mondays, student):
    services.set_policy(mondays, cancellation_cutoff_hours=48, allow_late_cancellation=False)
    series = weekly(student, mondays, count=2)
    just_before = dt.datetime(2026, 3, 15, 17, 0, tzinfo=dt.UTC)  # 24 h before the first
    assert services.cancel_series(series, actor=student, now=just_before) == 1
    assert [i.booking.status for i in series.items.order_by("index")] == ["confirmed", "cancelled"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, "invalid_rrule"),
        ({"rrule": "FREQ=MINUTELY"}, "too_many_occurrences"),
        ({"rrule": "FREQ=WEEKLY;COUNT=105"}, "too_many_occurrences"),
        ({"first_start": dt.datetime(2026, 3, 16, 17, 0)}, "naive_datetime"),
        ({"timezone": "Mars/Base"}, "invalid_timezone"),
        ({"duration": 0}, "invalid_duration"),
        ({"on_conflict": "maybe"}, "invalid_on_conflict"),
    ],
)
def test_bad_series_input_gets_a_code_and_writes_nothing(mondays, student, kwargs, code):
    args = {"first_start": dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON), "duration": 60,
            "rrule": "FREQ=WEEKLY;COUNT=4", "timezone": "Europe/London", **kwargs}
    with pytest.raises(BookingError) as exc:
        services.create_series(student, mondays, now=NOW, **args)
    assert exc.value.code == code
    assert not BookingSeries.objects.exists() and not get_booking_model().objects.exists()


@pytest.mark.parametrize(("policy", "code"), [
    ({"allow_recurring": False}, "recurring_not_allowed"),
    ({"max_series_occurrences": 3}, "too_many_occurrences"),
])
def test_the_teachers_policy_can_refuse_series(mondays, student, policy, code):
    services.set_policy(mondays, **policy)
    with pytest.raises(PolicyViolation) as exc:
        weekly(student, mondays, count=4)
    assert exc.value.codes == [code]
    assert not BookingSeries.objects.exists()


# --- recurring group classes ------------------------------------------------------------------


def test_recurring_group_sessions_keep_local_time_in_the_southern_hemisphere(teacher):
    # Sydney leaves summer time on 2026-04-05: 17:00 local is 06:00 UTC before, 07:00 UTC after.
    sessions = services.schedule_recurring_sessions(
        teacher, first_start=dt.datetime(2026, 3, 25, 17, 0, tzinfo=SYDNEY), duration=45, capacity=8,
        rrule="FREQ=WEEKLY;COUNT=4", timezone="Australia/Sydney", title="Chemistry", now=NOW)
    assert [s.start_at_utc.hour for s in sessions] == [6, 6, 7, 7]
    assert {s.start_at_utc.astimezone(SYDNEY).hour for s in sessions} == {17}
    assert len({s.recurrence_key for s in sessions}) == 1 and sessions[0].recurrence_key
    assert {(s.capacity, s.title, s.kind) for s in sessions} == {(8, "Chemistry", "group")}


def test_recurring_sessions_are_all_or_nothing(teacher):
    session_at(teacher, dt.datetime(2026, 3, 23, 17, 0, tzinfo=LONDON))
    before = get_session_model().objects.count()
    with pytest.raises(SlotUnavailable) as exc:
        services.schedule_recurring_sessions(teacher, first_start=dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON),
                                             duration=60, capacity=5, rrule="FREQ=WEEKLY;COUNT=3",
                                             timezone="Europe/London", now=NOW)
    assert exc.value.params["starts"] == ["2026-03-23T17:00:00+00:00"]
    assert get_session_model().objects.count() == before


def test_subscribing_takes_a_seat_in_every_session_and_waitlists_the_full_one(teacher, student, make_user):
    sessions = services.schedule_recurring_sessions(
        teacher, first_start=dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON), duration=60, capacity=1,
        rrule="FREQ=WEEKLY;COUNT=3", timezone="Europe/London", now=NOW)
    services.book_seat(make_user(), sessions[1], now=NOW)
    series = services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key, now=NOW)
    items = list(series.items.order_by("index"))
    assert [(i.status, i.skip_reason) for i in items] == [
        ("booked", ""), ("waitlisted", "session_full"), ("booked", ""),
    ]
    assert items[0].booking.source == "series"
    assert SessionWaitlist.objects.get(session=sessions[1]).student_id == student.pk
    assert_all()


def test_subscribing_with_fail_writes_nothing_when_one_is_full(teacher, student, make_user):
    sessions = services.schedule_recurring_sessions(
        teacher, first_start=dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON), duration=60, capacity=1,
        rrule="FREQ=WEEKLY;COUNT=3", timezone="Europe/London", now=NOW)
    services.book_seat(make_user(), sessions[2], now=NOW)
    with pytest.raises(BookingError) as exc:
        services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key, on_conflict="fail", now=NOW)
    assert exc.value.code == "session_full"
    assert not get_booking_model().objects.filter(student=student).exists()
    assert not BookingSeries.objects.exists()


def test_cancelling_a_subscription_hands_seats_to_the_waitlists(teacher, student, make_user):
    sessions = services.schedule_recurring_sessions(
        teacher, first_start=dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON), duration=60, capacity=1,
        rrule="FREQ=WEEKLY;COUNT=2", timezone="Europe/London", now=NOW)
    series = services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key, now=NOW)
    waiting = services.join_waitlist(make_user(), sessions[0], now=NOW)
    assert services.cancel_series(series, actor=student, now=NOW) == 2
    assert SessionWaitlist.objects.get(pk=waiting.pk).status == "offered"
    assert_all()


def test_an_unknown_recurrence_key_is_refused(student):
    with pytest.raises(BookingError) as exc:
        services.subscribe_to_recurring_sessions(student, "nope", now=NOW)
    assert exc.value.code == "no_sessions"


# --- cost ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_create_series_cost_does_not_grow_with_occurrences(teacher, make_user):
    services.set_policy(teacher, timezone="Europe/London", max_bookings_per_week=3,
                        approval_mode="manual_for_new_students")
    for day in range(7):
        services.add_availability(teacher, weekday=day, start_time=dt.time(8), end_time=dt.time(20))

    def cost(count, hour):
        with CaptureQueriesContext(connection) as ctx:
            series = services.create_series(make_user(), teacher, duration=60, timezone="Europe/London", now=NOW,
                                            first_start=dt.datetime(2026, 3, 16, hour, 0, tzinfo=LONDON),
                                            rrule=f"FREQ=WEEKLY;COUNT={count}")
        assert series.items.filter(status="booked").count() == count
        return len(ctx)

    small, large = cost(4, 9), cost(26, 11)
    assert large - small <= 2, (small, large)


def test_cancelling_a_subscription_also_leaves_its_waitlists(teacher, student, make_user):
    sessions = services.schedule_recurring_sessions(
        teacher, first_start=dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON), duration=60, capacity=1,
        rrule="FREQ=WEEKLY;COUNT=2", timezone="Europe/London", now=NOW)
    holder = services.book_seat(make_user(), sessions[1], now=NOW)
    series = services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key, now=NOW)
    assert (series.first_start_time, series.timezone) == (dt.time(17), "Europe/London")
    behind = services.join_waitlist(make_user(), sessions[1], now=NOW)
    services.cancel_booking(holder, actor=holder.student, now=NOW)  # our student is offered the seat
    assert services.cancel_series(series, actor=student, now=NOW) == 1
    entries = {e.student_id: e.status for e in SessionWaitlist.objects.filter(session=sessions[1])}
    assert entries[student.pk] == "left" and entries[behind.student_id] == "offered"
    assert {i.status for i in series.items.all()} == {"cancelled"}
    assert_all()


def test_subscriptions_follow_the_teachers_recurring_policy(teacher, student):
    sessions = services.schedule_recurring_sessions(
        teacher, first_start=dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON), duration=60, capacity=3,
        rrule="FREQ=WEEKLY;COUNT=2", timezone="Europe/London", now=NOW)
    services.set_policy(teacher, allow_recurring=False)
    with pytest.raises(PolicyViolation) as exc:
        services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key, now=NOW)
    assert exc.value.codes == ["recurring_not_allowed"]


def test_a_subscription_that_gets_nothing_is_refused(teacher, student):
    sessions = services.schedule_recurring_sessions(
        teacher, first_start=dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON), duration=60, capacity=3,
        rrule="FREQ=WEEKLY;COUNT=2", timezone="Europe/London", now=NOW)
    services.set_policy(teacher, min_notice_minutes=60 * 24 * 90)
    with pytest.raises(BookingError) as exc:
        services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key, now=NOW)
    assert exc.value.code == "min_notice"
    assert not BookingSeries.objects.exists()


def test_recurring_sessions_that_would_overlap_each_other_are_refused(teacher):
    with pytest.raises(SlotUnavailable) as exc:
        services.schedule_recurring_sessions(teacher, first_start=dt.datetime(2026, 3, 16, 10, 0, tzinfo=LONDON),
                                             duration=90, capacity=5, rrule="FREQ=HOURLY;COUNT=3",
                                             timezone="Europe/London", now=NOW)
    assert exc.value.code == "teacher_unavailable"
    assert len(exc.value.params["starts"]) == 2
    assert not get_session_model().objects.exists()


def test_cancelling_a_series_frees_each_seat_once_when_one_was_cancelled_meanwhile(teacher, student, monkeypatch):
    from django_liveclass_booking.services._engine import locks

    sessions = services.schedule_recurring_sessions(
        teacher, first_start=dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON), duration=60, capacity=2,
        rrule="FREQ=WEEKLY;COUNT=2", timezone="Europe/London", now=NOW)
    series = services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key, now=NOW)
    first = series.items.get(index=0).booking
    lock = locks.lock_sessions
    calls = []

    def cancel_in_between(pks, **kwargs):
        # Another request cancels one of these bookings after cancel_series first read them.
        if not calls:
            calls.append(1)
            services.cancel_booking(first, actor=student, now=NOW)
        return lock(pks, **kwargs)

    monkeypatch.setattr(locks, "lock_sessions", cancel_in_between)
    assert services.cancel_series(series, actor=student, now=NOW) == 1
    assert_all()


def test_cancelling_a_series_cancels_each_lessons_session_and_says_so(mondays, student, signal_log,
                                                                     django_capture_on_commit_callbacks):
    series = weekly(student, mondays, count=3)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.cancel_series(series, actor=mondays, now=NOW) == 3
    assert signal_log.names.count("booking_cancelled") == 3
    assert signal_log.names.count("session_cancelled") == 3
    assert set(get_session_model().objects.values_list("status", flat=True)) == {"cancelled"}
    assert_all()


def test_a_subscription_with_nothing_to_book_gives_the_first_sessions_own_refusal(teacher, student):
    sessions = services.schedule_recurring_sessions(
        teacher, first_start=dt.datetime(2026, 3, 16, 17, 0, tzinfo=LONDON), duration=60, capacity=2,
        rrule="FREQ=WEEKLY;COUNT=2", timezone="Europe/London", now=NOW)
    services.set_policy(teacher, min_notice_minutes=60 * 24 * 365)
    with pytest.raises(PolicyViolation) as caught:
        services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key, now=NOW)
    assert caught.value.code == "min_notice"
    assert "min_notice_minutes" in caught.value.params
    assert not BookingSeries.objects.exists()


def test_a_new_booking_records_the_services_now_as_its_status_time(make_session, student, now):
    booking = services.book_seat(student, make_session(capacity=2), now=now)
    booking.refresh_from_db()
    assert booking.status_changed == now
