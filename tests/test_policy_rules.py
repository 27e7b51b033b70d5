"""Each built-in rule: allowed and refused, with its stable code."""

import datetime as dt
import zoneinfo

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import PolicyViolation
from django_liveclass_booking.models import BookingStatus, get_booking_model

pytestmark = pytest.mark.django_db

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")  # UTC+9: local days and weeks differ from UTC ones


def at(y, mo, d, h, m=0, tz=TOKYO):
    return dt.datetime(y, mo, d, h, m, tzinfo=tz)


@pytest.fixture
def lesson(student, teacher, now):
    def request(start, duration=30, who=None):
        return services.request_lesson(who or student, teacher, start=start, duration=duration, now=now)

    return request


@pytest.fixture(autouse=True)
def anytime(settings):
    # These tests are about policy rules, not availability windows.
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}


def codes(call):
    with pytest.raises(PolicyViolation) as exc:
        call()
    return exc.value.codes


# --- notice and advance ---------------------------------------------------------------------


def test_min_notice_refuses_a_lesson_too_soon(lesson, set_policy, now):
    set_policy(min_notice_minutes=120)
    assert codes(lambda: lesson(now + dt.timedelta(minutes=119))) == ["min_notice"]
    assert lesson(now + dt.timedelta(minutes=120)).status == BookingStatus.CONFIRMED


def test_min_notice_applies_to_group_seats_too(make_session, student, set_policy, now):
    session = make_session(start=now + dt.timedelta(hours=1))
    set_policy(min_notice_minutes=120)
    assert codes(lambda: services.book_seat(student, session, now=now)) == ["min_notice"]


def test_max_advance_refuses_a_lesson_too_far_ahead(lesson, set_policy, now):
    set_policy(max_advance_days=14)
    assert codes(lambda: lesson(now + dt.timedelta(days=14, minutes=1))) == ["max_advance"]
    assert lesson(now + dt.timedelta(days=14)).status == BookingStatus.CONFIRMED


# --- limits counted in the teacher's timezone ------------------------------------------------


def test_daily_limit_counts_the_teachers_local_day(lesson, set_policy):
    set_policy(timezone="Asia/Tokyo", max_bookings_per_day=2)
    lesson(at(2026, 5, 6, 0, 30))   # Wed 00:30 Tokyo = Tue 15:30 UTC
    lesson(at(2026, 5, 6, 23, 0))   # Wed 23:00 Tokyo = Wed 14:00 UTC
    with pytest.raises(PolicyViolation) as exc:
        lesson(at(2026, 5, 6, 12, 0))  # a third on Wednesday, Tokyo time
    assert exc.value.codes == ["daily_limit"]
    assert exc.value.violations[0].params == {"limit": 2, "count": 2}
    # Thursday 00:00 Tokyo is another day, though it is still Wednesday in UTC.
    assert lesson(at(2026, 5, 7, 0, 0)).status == BookingStatus.CONFIRMED


def test_weekly_limit_counts_weeks_from_monday_in_the_teachers_timezone(lesson, set_policy):
    set_policy(timezone="Asia/Tokyo", max_bookings_per_week=2)
    lesson(at(2026, 5, 11, 0, 15))  # Monday 00:15 Tokyo = Sunday 15:15 UTC (previous UTC week)
    lesson(at(2026, 5, 17, 23, 0))  # Sunday 23:00 Tokyo: the same local week
    assert codes(lambda: lesson(at(2026, 5, 13, 10, 0))) == ["weekly_limit"]
    # Sunday 23:30 Tokyo of the week before does not count against this week.
    assert lesson(at(2026, 5, 10, 23, 30)).status == BookingStatus.CONFIRMED


def test_limits_include_pending_requests_and_group_seats(lesson, make_session, set_policy, student):
    set_policy(timezone="Asia/Tokyo", max_bookings_per_day=2, approval_mode="manual")
    services.book_seat(student, make_session(start=at(2026, 5, 6, 9, 0)), now=at(2026, 5, 4, 9, 0, dt.UTC))
    assert lesson(at(2026, 5, 6, 11, 0)).status == BookingStatus.PENDING
    assert codes(lambda: lesson(at(2026, 5, 6, 15, 0))) == ["daily_limit"]


def test_limits_are_per_student(lesson, set_policy, other_student):
    set_policy(max_bookings_per_day=1)
    lesson(at(2026, 5, 6, 10, 0))
    assert lesson(at(2026, 5, 6, 12, 0), who=other_student).status == BookingStatus.CONFIRMED


def test_limits_do_not_count_cancelled_bookings(lesson, set_policy, student):
    set_policy(max_bookings_per_day=1)
    first = lesson(at(2026, 5, 6, 10, 0))
    services.cancel_booking(first, actor=student, now=at(2026, 5, 4, 9, 0, dt.UTC))
    assert lesson(at(2026, 5, 6, 12, 0)).status == BookingStatus.CONFIRMED


def test_daily_limit_on_a_dst_day_counts_the_local_23_hour_day(student, teacher, set_policy):
    set_policy(timezone="Europe/London", max_bookings_per_day=1)
    london = zoneinfo.ZoneInfo("Europe/London")
    now = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)
    services.request_lesson(student, teacher, start=dt.datetime(2026, 3, 29, 0, 30, tzinfo=london), duration=30,
                            now=now)
    with pytest.raises(PolicyViolation):
        services.request_lesson(student, teacher, start=dt.datetime(2026, 3, 29, 23, 0, tzinfo=london), duration=30,
                                now=now)
    assert services.request_lesson(student, teacher, start=dt.datetime(2026, 3, 30, 0, 0, tzinfo=london), duration=30,
                                   now=now).status == BookingStatus.CONFIRMED


def test_max_pending_refuses_more_requests_waiting_for_an_answer(lesson, set_policy, now):
    set_policy(approval_mode="manual", max_pending_requests=2)
    lesson(now + dt.timedelta(days=1))
    lesson(now + dt.timedelta(days=2))
    assert codes(lambda: lesson(now + dt.timedelta(days=3))) == ["max_pending"]


def test_expired_requests_no_longer_count_as_pending(lesson, student, teacher, set_policy, now):
    set_policy(approval_mode="manual", max_pending_requests=1, request_ttl_hours=2)
    lesson(now + dt.timedelta(days=1))
    later = now + dt.timedelta(hours=3)
    booking = services.request_lesson(student, teacher, start=now + dt.timedelta(days=2), duration=30, now=later)
    assert booking.status == BookingStatus.PENDING


# --- durations, approval, all violations at once ----------------------------------------------


def test_lesson_duration_must_be_one_the_teacher_offers(lesson, set_policy, now):
    set_policy(lesson_durations=[30, 60])
    with pytest.raises(PolicyViolation) as exc:
        lesson(now + dt.timedelta(days=1), duration=45)
    assert exc.value.codes == ["duration_not_allowed"]
    assert exc.value.violations[0].params == {"duration_minutes": 45, "allowed": [30, 60]}
    assert lesson(now + dt.timedelta(days=1), duration=60).status == BookingStatus.CONFIRMED


def test_durations_do_not_restrict_group_sessions(make_session, student, set_policy, now):
    set_policy(lesson_durations=[30])
    assert services.book_seat(student, make_session(duration=90), now=now).status == BookingStatus.CONFIRMED


@pytest.mark.parametrize(("mode", "first", "second"), [
    ("auto", "confirmed", "confirmed"),
    ("manual", "pending", "pending"),
    ("manual_for_new_students", "pending", "confirmed"),
])
def test_approval_modes_for_lessons(lesson, teacher, set_policy, now, mode, first, second):
    set_policy(approval_mode=mode)
    one = lesson(now + dt.timedelta(days=1))
    assert one.status == first
    if one.status == "pending":
        services.confirm_booking(one, actor=teacher, now=now)
    assert lesson(now + dt.timedelta(days=2)).status == second


def test_every_violation_is_reported_at_once(lesson, set_policy, now):
    set_policy(min_notice_minutes=60, lesson_durations=[60])
    assert codes(lambda: lesson(now + dt.timedelta(minutes=10), duration=30)) == ["min_notice", "duration_not_allowed"]


def test_a_refused_lesson_writes_nothing(lesson, set_policy, now):
    set_policy(min_notice_minutes=60)
    with pytest.raises(PolicyViolation):
        lesson(now + dt.timedelta(minutes=10))
    assert not get_booking_model().objects.exists()


def test_max_pending_does_not_refuse_a_booking_confirmed_at_once(lesson, set_policy, teacher, now):
    set_policy(approval_mode="manual", max_pending_requests=1)
    lesson(now + dt.timedelta(days=1))
    set_policy(approval_mode="auto", max_pending_requests=1)
    assert lesson(now + dt.timedelta(days=2)).status == BookingStatus.CONFIRMED
