"""1:1 lessons: requesting one, availability, time off, buffers, and freeing the slot again."""

import datetime as dt
import zoneinfo

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError, NotAllowed, PolicyViolation, SlotUnavailable
from django_liveclass_booking.models import BookingStatus, SessionStatus, get_booking_model, get_session_model

from .invariants import assert_all

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
MONDAY = dt.date(2026, 5, 11)  # a week after `now` (Monday 2026-05-04 09:00 UTC)


def london(day, hour, minute=0):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON)


@pytest.fixture
def calendar(teacher):
    """Mondays 09:00-12:00 and Wednesdays 14:00-17:00, London time."""
    services.set_policy(teacher, timezone="Europe/London")
    services.add_availability(teacher, weekday=0, start_time=dt.time(9), end_time=dt.time(12))
    services.add_availability(teacher, weekday=2, start_time=dt.time(14), end_time=dt.time(17))
    return teacher


def test_request_lesson_creates_a_one_on_one_session_and_its_booking(calendar, student, now, signal_log,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        booking = services.request_lesson(student, calendar, start=london(MONDAY, 10), duration=45, now=now,
                                          message="Past tenses, please")
    session = booking.session
    assert (session.kind, session.capacity, session.seats_taken, session.status) == ("one_on_one", 1, 1, "scheduled")
    assert session.start_at_utc == dt.datetime(2026, 5, 11, 9, 0, tzinfo=dt.UTC)
    assert session.end_at_utc - session.start_at_utc == dt.timedelta(minutes=45)
    assert (booking.status, booking.kind, booking.message) == ("confirmed", "one_on_one", "Past tenses, please")
    assert booking.expires_at is None
    assert signal_log.names == ["booking_confirmed"]
    assert_all()


def test_a_pending_request_expires_at_its_ttl_or_its_start(calendar, student, now):
    services.set_policy(calendar, approval_mode="manual", request_ttl_hours=24)
    far = services.request_lesson(student, calendar, start=london(MONDAY, 10), duration=30, now=now)
    assert far.status == BookingStatus.PENDING
    assert far.expires_at == now + dt.timedelta(hours=24)
    soon_day = dt.date(2026, 5, 4)
    soon = services.request_lesson(student, calendar, start=london(soon_day, 11), duration=30, now=now)
    assert soon.expires_at == soon.start_at_utc  # its start comes before the ttl


def test_outside_the_windows_is_refused(calendar, student, now):
    with pytest.raises(SlotUnavailable) as exc:
        services.request_lesson(student, calendar, start=london(MONDAY, 11, 30), duration=45, now=now)
    assert exc.value.code == "outside_availability"
    with pytest.raises(SlotUnavailable):
        services.request_lesson(student, calendar, start=london(MONDAY + dt.timedelta(days=1), 10), duration=30,
                                now=now)
    assert not get_session_model().objects.exists()


def test_a_teacher_without_windows_offers_no_lessons(teacher, student, now):
    with pytest.raises(SlotUnavailable) as exc:
        services.request_lesson(student, teacher, start=now + dt.timedelta(days=1), duration=30, now=now)
    assert exc.value.code == "outside_availability"


def test_without_required_availability_any_time_is_requestable(teacher, student, now, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    booking = services.request_lesson(student, teacher, start=now + dt.timedelta(days=1, hours=13), duration=30,
                                      now=now)
    assert booking.status == BookingStatus.CONFIRMED


def test_windows_keep_their_local_hours_across_dst(teacher, student):
    services.set_policy(teacher, timezone="Europe/London")
    services.add_availability(teacher, weekday=0, start_time=dt.time(9), end_time=dt.time(10))
    before = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)
    winter = services.request_lesson(student, teacher, start=london(dt.date(2026, 3, 23), 9), duration=60, now=before)
    summer = services.request_lesson(student, teacher, start=london(dt.date(2026, 3, 30), 9), duration=60, now=before)
    assert winter.start_at_utc.hour == 9 and summer.start_at_utc.hour == 8


def test_time_off_blocks_lessons(calendar, student, now):
    services.add_time_off(calendar, start=london(MONDAY, 0), end=london(MONDAY, 23), reason="Conference")
    with pytest.raises(SlotUnavailable) as exc:
        services.request_lesson(student, calendar, start=london(MONDAY, 10), duration=30, now=now)
    assert exc.value.code == "outside_availability"


def test_an_overlapping_lesson_is_refused(calendar, student, other_student, now):
    services.request_lesson(student, calendar, start=london(MONDAY, 10), duration=60, now=now)
    with pytest.raises(SlotUnavailable) as exc:
        services.request_lesson(other_student, calendar, start=london(MONDAY, 10, 30), duration=30, now=now)
    assert exc.value.code == "teacher_unavailable"
    assert get_session_model().objects.count() == 1


def test_the_buffer_keeps_a_gap_around_other_sessions(calendar, student, other_student, now):
    services.set_policy(calendar, buffer_minutes=15)
    services.request_lesson(student, calendar, start=london(MONDAY, 10), duration=30, now=now)
    with pytest.raises(SlotUnavailable):
        services.request_lesson(other_student, calendar, start=london(MONDAY, 10, 40), duration=30, now=now)
    assert services.request_lesson(other_student, calendar, start=london(MONDAY, 10, 45), duration=30,
                                   now=now).status == "confirmed"


def test_a_group_session_blocks_lessons_at_its_time(calendar, make_session, student, now):
    make_session(start=london(MONDAY, 9), duration=60)
    with pytest.raises(SlotUnavailable):
        services.request_lesson(student, calendar, start=london(MONDAY, 9, 30), duration=30, now=now)


@pytest.mark.parametrize("how", ["decline", "cancel"])
def test_declining_or_cancelling_frees_the_slot(calendar, student, other_student, now, how):
    services.set_policy(calendar, approval_mode="manual")
    booking = services.request_lesson(student, calendar, start=london(MONDAY, 10), duration=60, now=now)
    if how == "decline":
        services.decline_booking(booking, actor=calendar, now=now)
    else:
        services.cancel_booking(booking, actor=student, now=now)
    assert get_session_model().objects.get(pk=booking.session_id).status == SessionStatus.CANCELLED
    again = services.request_lesson(other_student, calendar, start=london(MONDAY, 10), duration=60, now=now)
    assert again.status == BookingStatus.PENDING
    assert_all()


def test_an_expired_request_does_not_block_the_slot_before_the_sweep(calendar, student, other_student, now,
                                                                     signal_log, django_capture_on_commit_callbacks):
    services.set_policy(calendar, approval_mode="manual", request_ttl_hours=2)
    old = services.request_lesson(student, calendar, start=london(MONDAY, 10), duration=60, now=now)
    later = now + dt.timedelta(hours=3)
    slots = services.available_slots(calendar, start=london(MONDAY, 9), end=london(MONDAY, 12), duration=60, now=later)
    assert (old.start_at_utc, old.end_at_utc) in slots
    with django_capture_on_commit_callbacks(execute=True):
        new = services.request_lesson(other_student, calendar, start=london(MONDAY, 10), duration=60, now=later)
    assert new.status == BookingStatus.PENDING
    assert get_booking_model().objects.get(pk=old.pk).status == BookingStatus.EXPIRED
    assert signal_log.names == ["booking_expired", "session_cancelled", "booking_requested"]
    assert_all()


@pytest.mark.parametrize("operation", ["confirm_booking", "decline_booking"])
def test_an_expired_request_can_no_longer_be_decided(calendar, student, now, operation):
    services.set_policy(calendar, approval_mode="manual", request_ttl_hours=2)
    booking = services.request_lesson(student, calendar, start=london(MONDAY, 10), duration=60, now=now)
    with pytest.raises(BookingError) as exc:
        getattr(services, operation)(booking, actor=calendar, now=now + dt.timedelta(hours=2))
    assert exc.value.code == "invalid_transition"
    assert exc.value.params["from"] == "expired"
    assert "expired" in str(exc.value)
    assert get_booking_model().objects.get(pk=booking.pk).status == BookingStatus.PENDING  # the sweep marks it


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"start": dt.datetime(2026, 5, 11, 10, 0)}, "naive_datetime"),
        ({"duration": 0}, "invalid_duration"),
        ({"duration": dt.timedelta(minutes=-30)}, "invalid_duration"),
    ],
)
def test_bad_lesson_input_gets_a_code_and_writes_nothing(calendar, student, now, kwargs, code):
    args = {"start": london(MONDAY, 10), "duration": 30, **kwargs}
    with pytest.raises(BookingError) as exc:
        services.request_lesson(student, calendar, now=now, **args)
    assert exc.value.code == code
    assert not get_booking_model().objects.exists()


def test_a_teacher_cannot_request_a_lesson_from_themselves(calendar, now):
    with pytest.raises(BookingError) as exc:
        services.request_lesson(calendar, calendar, start=london(MONDAY, 10), duration=30, now=now)
    assert exc.value.code == "own_session"


def test_an_anonymous_student_cannot_request(calendar, now):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(NotAllowed):
        services.request_lesson(AnonymousUser(), calendar, start=london(MONDAY, 10), duration=30, now=now)


def test_available_slots_refuses_a_duration_the_teacher_does_not_offer(calendar, now):
    services.set_policy(calendar, lesson_durations=[60])
    with pytest.raises(PolicyViolation) as exc:
        services.available_slots(calendar, start=now, end=now + dt.timedelta(days=7), duration=45, now=now)
    assert exc.value.codes == ["duration_not_allowed"]


def test_available_slots_lists_free_times_on_the_grid(calendar, student, now):
    services.request_lesson(student, calendar, start=london(MONDAY, 10), duration=60, now=now)
    slots = services.available_slots(calendar, start=london(MONDAY, 0), end=london(MONDAY, 23), duration=60, now=now)
    starts = [s.astimezone(LONDON).strftime("%H:%M") for s, _ in slots]
    assert starts == ["09:00", "11:00"]
    assert all(s.tzinfo == dt.UTC and e - s == dt.timedelta(minutes=60) for s, e in slots)


def test_available_slots_honours_min_notice_and_max_advance(calendar, now):
    services.set_policy(calendar, min_notice_minutes=7 * 24 * 60, max_advance_days=10)
    slots = services.available_slots(calendar, start=now, end=now + dt.timedelta(days=30), duration=60, now=now)
    starts = [s.astimezone(LONDON).strftime("%a %d %H:%M") for s, _ in slots]
    # Monday the 11th from 10:00 London (= now + 7 days), Wednesday the 13th (within 10 days), nothing later.
    assert starts[0] == "Mon 11 10:00" and starts[-1] == "Wed 13 16:00"
    assert "Mon 11 09:45" not in starts


def test_an_expired_request_does_not_block_scheduling_a_group_session(calendar, student, now):
    services.set_policy(calendar, approval_mode="manual", request_ttl_hours=1)
    old = services.request_lesson(student, calendar, start=london(MONDAY, 10), duration=60, now=now)
    later = now + dt.timedelta(hours=2)
    session = services.schedule_session(calendar, start=london(MONDAY, 10), duration=60, capacity=5, now=later)
    assert session.status == "scheduled"
    assert get_booking_model().objects.get(pk=old.pk).status == BookingStatus.EXPIRED
    assert_all()
