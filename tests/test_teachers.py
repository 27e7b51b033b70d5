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


@pytest.fixture
def manager(make_user):
    from django.contrib.auth.models import Permission

    user = make_user("manager")
    user.user_permissions.add(Permission.objects.get(codename="manage_bookings"))
    return user


@pytest.fixture
def window(teacher):
    return services.add_availability(teacher, weekday=0, start_time=dt.time(9), end_time=dt.time(12))


@pytest.fixture
def time_off(teacher, now):
    return services.add_time_off(teacher, start=now + dt.timedelta(days=1), end=now + dt.timedelta(days=2))


def test_teacher_removes_own_window_and_time_off(teacher, window, time_off):
    services.remove_availability(window, actor=teacher)
    services.remove_time_off(time_off, actor=teacher)
    assert not TeacherAvailability.objects.exists()
    assert not TeacherTimeOff.objects.exists()


def test_manager_and_system_may_remove_anyones(manager, window, time_off):
    services.remove_availability(window, actor=manager)
    services.remove_time_off(time_off, actor=services.SYSTEM)
    assert not TeacherAvailability.objects.exists()
    assert not TeacherTimeOff.objects.exists()


@pytest.mark.parametrize("who", ["other", "anonymous", "none"])
def test_nobody_else_may_remove_a_window_or_time_off(make_user, window, time_off, who):
    from django.contrib.auth.models import AnonymousUser

    from django_liveclass_booking.exceptions import NotAllowed

    actor = {"other": lambda: make_user("other"), "anonymous": AnonymousUser, "none": lambda: None}[who]()
    with pytest.raises(NotAllowed):
        services.remove_availability(window, actor=actor)
    with pytest.raises(NotAllowed):
        services.remove_time_off(time_off, actor=actor)
    assert TeacherAvailability.objects.filter(pk=window.pk).exists()
    assert TeacherTimeOff.objects.filter(pk=time_off.pk).exists()


def test_removing_takes_the_teacher_lock_and_creates_no_stray_rows(teacher, window):
    TeacherBookingPolicy.objects.filter(teacher=teacher).delete()
    services.remove_availability(window, actor=teacher)
    # lock_teacher creates the policy row with the defaults when the teacher had none.
    assert TeacherBookingPolicy.objects.filter(teacher=teacher).count() == 1


def test_an_overlong_timezone_name_is_a_booking_error(teacher: object) -> None:
    # zoneinfo raises OSError (file name too long) for names past the file system's limit.
    with pytest.raises(BookingError) as caught:
        services.set_policy(teacher, timezone="A" * 300)
    assert caught.value.code == "invalid_timezone"


# --- every policy value is checked for its type and bounds before anything is written ----------


BAD_POLICY_VALUES = [
    # Lesson lengths are added to times on every student's page: one too large made it fail.
    ("lesson_durations", [99999999999]),
    ("lesson_durations", [0]),
    ("lesson_durations", [24 * 60 + 1]),
    ("lesson_durations", [30, 30]),
    ("lesson_durations", [30.0]),
    ("lesson_durations", ["30"]),
    ("lesson_durations", [True]),
    ("lesson_durations", list(range(1, 26))),
    ("lesson_durations", "30"),
    ("lesson_durations", None),
    ("lesson_durations", (30, 60)),
    # A number field takes an int only: not text (not even empty), not a bool, not a float.
    ("min_notice_minutes", ""),
    ("min_notice_minutes", "15"),
    ("min_notice_minutes", True),
    ("min_notice_minutes", 15.0),
    ("min_notice_minutes", None),
    ("min_notice_minutes", 10**30),
    ("max_advance_days", ""),
    ("max_advance_days", "30"),
    ("max_advance_days", False),
    ("max_advance_days", -1),
    ("max_bookings_per_week", 10_001),
    ("request_ttl_hours", ""),
    ("cancellation_cutoff_hours", None),
    ("buffer_minutes", 24 * 60 + 1),
    ("waitlist_offer_ttl_minutes", 0.5),
    ("max_series_occurrences", "4"),
    # A flag takes a bool only.
    ("allow_recurring", "yes"),
    ("allow_recurring", 1),
    ("waitlist_enabled", None),
    ("allow_late_cancellation", ""),
    # Text fields take text only.
    ("approval_mode", 1),
    ("approval_mode", None),
    ("approval_mode", "auto\x00"),
]


@pytest.mark.parametrize(("field", "value"), BAD_POLICY_VALUES, ids=[f"{f}={v!r}"[:60] for f, v in BAD_POLICY_VALUES])
def test_a_bad_policy_value_is_an_invalid_policy_naming_the_field_and_writes_nothing(teacher, field, value):
    services.set_policy(teacher, approval_mode="manual", lesson_durations=[30])
    before = TeacherBookingPolicy.objects.get(teacher=teacher)
    with pytest.raises(BookingError) as caught:
        services.set_policy(teacher, **{field: value})
    assert (caught.value.code, caught.value.params["fields"]) == ("invalid_policy", [field])
    after = TeacherBookingPolicy.objects.get(teacher=teacher)
    assert (after.approval_mode, after.lesson_durations, after.modified) == ("manual", [30], before.modified)


def test_a_refused_first_policy_creates_no_row(teacher):
    with pytest.raises(BookingError):
        services.set_policy(teacher, lesson_durations=[99999999999])
    assert not TeacherBookingPolicy.objects.filter(teacher=teacher).exists()


def test_policy_values_at_their_bounds_and_none_where_optional_are_taken(teacher):
    services.set_policy(teacher, lesson_durations=[1, 24 * 60, *range(2, 24)], max_advance_days=None,
                        max_bookings_per_day=None, request_ttl_hours=None, max_series_occurrences=None,
                        buffer_minutes=24 * 60, allow_recurring=False, min_notice_minutes=0)
    stored = TeacherBookingPolicy.objects.get(teacher=teacher)
    assert len(stored.lesson_durations) == 24 and 24 * 60 in stored.lesson_durations
    assert (stored.max_advance_days, stored.request_ttl_hours, stored.buffer_minutes) == (None, None, 24 * 60)
    assert stored.allow_recurring is False


# --- availability and time off: what the database could not store is refused first -------------


def test_a_window_with_an_offset_is_refused(teacher):
    aware_time = dt.time(9, tzinfo=dt.UTC)
    with pytest.raises(BookingError) as caught:
        services.add_availability(teacher, weekday=0, start_time=aware_time, end_time=dt.time(12))
    assert caught.value.code == "invalid_availability"
    assert not TeacherAvailability.objects.exists()


@pytest.mark.parametrize("reason", ["On\x00leave", "x" * 201, None, 5, b"leave", "\ud800"],
                         ids=["nul", "too long", "none", "int", "bytes", "lone surrogate"])
def test_a_bad_time_off_reason_is_invalid_text_and_writes_nothing(teacher, now, reason):
    with pytest.raises(BookingError) as caught:
        services.add_time_off(teacher, start=now + dt.timedelta(days=1), end=now + dt.timedelta(days=2),
                              reason=reason)
    assert (caught.value.code, caught.value.params["field"]) == ("invalid_text", "reason")
    assert not TeacherTimeOff.objects.exists()
    assert not TeacherBookingPolicy.objects.filter(teacher=teacher).exists()


def test_a_time_off_reason_of_any_text_up_to_its_length_is_kept_whole(teacher, now):
    reason = "Conférence; à Zürich, 🎉\n" + "x" * 176
    assert len(reason) == 200
    off = services.add_time_off(teacher, start=now + dt.timedelta(days=1), end=now + dt.timedelta(days=2),
                                reason=reason)
    off.refresh_from_db()
    assert off.reason == reason
