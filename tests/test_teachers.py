"""A teacher's own settings: clear errors for bad input, nothing written."""

import datetime as dt
import zoneinfo

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import TeacherAvailability, TeacherBookingPolicy, TeacherTimeOff

pytestmark = pytest.mark.django_db


def test_set_policy_changes_fields(teacher):
    policy = services.set_policy(teacher, approval_mode="manual", timezone=zoneinfo.ZoneInfo("Asia/Tokyo"),
                                 lesson_durations=[30, 60])
    stored = TeacherBookingPolicy.objects.get(teacher=teacher)
    assert (stored.approval_mode, stored.timezone, stored.lesson_durations) == ("manual", "Asia/Tokyo", [30, 60])
    assert policy.pk == stored.pk


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"timezone": "Mars/Base"}, "invalid_timezone"),
        ({"approval_mode": "sometimes"}, "invalid_policy"),
        ({"lesson_durations": [30, -5]}, "invalid_policy"),
        ({"min_notice_minutes": -1}, "invalid_policy"),
        ({"colour": "red"}, "invalid_policy"),
    ],
)
def test_bad_policy_values_are_refused_and_nothing_is_written(teacher, fields, code):
    services.set_policy(teacher, approval_mode="manual")
    with pytest.raises(BookingError) as exc:
        services.set_policy(teacher, **fields)
    assert exc.value.code == code
    assert TeacherBookingPolicy.objects.get(teacher=teacher).approval_mode == "manual"


def test_availability_defaults_to_the_policy_timezone(teacher):
    services.set_policy(teacher, timezone="America/New_York")
    window = services.add_availability(teacher, weekday=4, start_time=dt.time(8), end_time=dt.time(11))
    assert (window.weekday, window.timezone) == (4, "America/New_York")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"start_time": dt.time(12), "end_time": dt.time(9)}, "end_before_start"),
        ({"start_time": dt.time(9), "end_time": dt.time(9)}, "end_before_start"),
        ({"weekday": 7}, "invalid_weekday"),
        ({"weekday": -1}, "invalid_weekday"),
        ({"timezone": "Nowhere/City"}, "invalid_timezone"),
        ({"start_time": "09:00"}, "invalid_availability"),
    ],
)
def test_bad_availability_is_refused_and_nothing_is_written(teacher, kwargs, code):
    args = {"weekday": 0, "start_time": dt.time(9), "end_time": dt.time(12), **kwargs}
    with pytest.raises(BookingError) as exc:
        services.add_availability(teacher, **args)
    assert exc.value.code == code
    assert not TeacherAvailability.objects.exists()


def test_time_off_must_end_after_it_starts(teacher, now):
    with pytest.raises(BookingError) as exc:
        services.add_time_off(teacher, start=now, end=now - dt.timedelta(hours=1))
    assert exc.value.code == "end_before_start"
    with pytest.raises(BookingError) as exc:
        services.add_time_off(teacher, start=now.replace(tzinfo=None), end=now + dt.timedelta(hours=1))
    assert exc.value.code == "naive_datetime"
    assert not TeacherTimeOff.objects.exists()
