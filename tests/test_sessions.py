import datetime as dt
import zoneinfo

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError, InvalidTransition, NotAllowed, SlotUnavailable
from django_liveclass_booking.models import BookingStatus, SessionStatus, get_booking_model, get_session_model

from .invariants import assert_all

pytestmark = pytest.mark.django_db


def test_schedule_session_stores_utc_times_and_duration(teacher, now):
    start = dt.datetime(2026, 5, 6, 18, 0, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    session = services.schedule_session(
        teacher, start=start, duration=dt.timedelta(minutes=45), capacity=12, title="Algebra II",
        timezone="Europe/London", meeting_url="https://meet.example.org/abc", now=now,
    )
    session.refresh_from_db()
    assert session.start_at_utc == dt.datetime(2026, 5, 6, 17, 0, tzinfo=dt.UTC)
    assert session.end_at_utc == dt.datetime(2026, 5, 6, 17, 45, tzinfo=dt.UTC)
    assert (session.duration_minutes, session.capacity, session.seats_taken) == (45, 12, 0)
    assert session.timezone_snapshot == "Europe/London"
    assert session.kind == "group" and session.status == SessionStatus.SCHEDULED


def test_schedule_session_accepts_a_zoneinfo_or_pytz_like_timezone(teacher, now):
    class PytzLike:
        zone = "America/New_York"

    first = services.schedule_session(teacher, start=now + dt.timedelta(days=1), duration=30, capacity=2,
                                      timezone=zoneinfo.ZoneInfo("Asia/Tokyo"), now=now)
    second = services.schedule_session(teacher, start=now + dt.timedelta(days=2), duration=30, capacity=2,
                                       timezone=PytzLike(), now=now)
    assert (first.timezone_snapshot, second.timezone_snapshot) == ("Asia/Tokyo", "America/New_York")


def test_schedule_session_defaults_timezone_to_the_teacher_policy(teacher, set_policy, now):
    set_policy(timezone="Europe/Madrid")
    session = services.schedule_session(teacher, start=now + dt.timedelta(days=1), duration=30, capacity=2, now=now)
    assert session.timezone_snapshot == "Europe/Madrid"


def test_overlapping_session_for_the_same_teacher_is_refused(make_session, now):
    first = make_session(start=now + dt.timedelta(days=1), duration=60)
    with pytest.raises(SlotUnavailable) as exc:
        make_session(start=now + dt.timedelta(days=1, minutes=30), duration=60)
    assert exc.value.code == "teacher_unavailable"
    assert exc.value.params["conflicting_session"] == first.pk
    assert get_session_model().objects.count() == 1


def test_back_to_back_sessions_do_not_overlap(make_session, now):
    make_session(start=now + dt.timedelta(days=1), duration=60)
    make_session(start=now + dt.timedelta(days=1, hours=1), duration=60)
    assert get_session_model().objects.count() == 2


def test_another_teacher_may_teach_at_the_same_time(make_session, make_user, now):
    make_session(start=now + dt.timedelta(days=1))
    make_session(start=now + dt.timedelta(days=1), who=make_user("second_teacher"))
    assert get_session_model().objects.count() == 2


def test_a_cancelled_session_frees_the_calendar(make_session, teacher, now):
    first = make_session(start=now + dt.timedelta(days=1))
    services.cancel_session(first, actor=teacher, now=now)
    make_session(start=now + dt.timedelta(days=1))
    assert get_session_model().objects.filter(status=SessionStatus.SCHEDULED).count() == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"start": dt.datetime(2026, 6, 1, 10, 0)}, "naive_datetime"),
        ({"duration": 0}, "invalid_duration"),
        ({"duration": -30}, "invalid_duration"),
        ({"duration": dt.timedelta(minutes=-5)}, "invalid_duration"),
        ({"duration": dt.timedelta(seconds=90)}, "invalid_duration"),
        ({"duration": "60"}, "invalid_duration"),
        ({"capacity": 0}, "invalid_capacity"),
        ({"capacity": -1}, "invalid_capacity"),
        ({"capacity": 2.5}, "invalid_capacity"),
        ({"timezone": "Mars/Olympus_Mons"}, "invalid_timezone"),
        ({"start": dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)}, "start_in_past"),
        ({"meeting_url": "not a url"}, "invalid_session"),
        ({"title": "x" * 201}, "invalid_session"),
    ],
)
def test_bad_session_input_gets_a_stable_code_and_writes_nothing(teacher, now, kwargs, code):
    args = {"start": now + dt.timedelta(days=1), "duration": 60, "capacity": 5, **kwargs}
    with pytest.raises(BookingError) as exc:
        services.schedule_session(teacher, now=now, **args)
    assert exc.value.code == code
    assert str(exc.value)
    assert get_session_model().objects.count() == 0


def test_naive_now_is_refused(teacher, now):
    with pytest.raises(BookingError) as exc:
        services.schedule_session(teacher, start=now + dt.timedelta(days=1), duration=60, capacity=5,
                                  now=now.replace(tzinfo=None))
    assert exc.value.code == "naive_datetime"


def test_cancel_session_cancels_bookings_and_frees_seats(session, student, other_student, teacher, now, signal_log):
    first = services.book_seat(student, session, now=now)
    second = services.book_seat(other_student, session, now=now)
    signal_log.sent.clear()
    services.cancel_session(session, actor=teacher, reason="Teacher is ill", now=now)
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED
    assert session.seats_taken == 0
    assert session.cancellation_reason == "Teacher is ill"
    statuses = set(get_booking_model().objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True))
    assert statuses == {BookingStatus.CANCELLED}
    assert assert_all() is None


def test_cancel_session_signals_each_booking_then_the_session(
    session, student, other_student, teacher, now, signal_log, django_capture_on_commit_callbacks
):
    services.book_seat(student, session, now=now)
    services.book_seat(other_student, session, now=now)
    signal_log.sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_session(session, actor=teacher, now=now)
    assert signal_log.names == ["booking_cancelled", "booking_cancelled", "session_cancelled"]
    assert signal_log.sent[-1][1]["session"].pk == session.pk


def test_cancelling_a_cancelled_session_is_an_invalid_transition(session, teacher, now):
    services.cancel_session(session, actor=teacher, now=now)
    with pytest.raises(InvalidTransition) as exc:
        services.cancel_session(session, actor=teacher, now=now)
    assert exc.value.code == "invalid_transition"


def test_a_student_cannot_cancel_a_session(session, student, now):
    with pytest.raises(NotAllowed) as exc:
        services.cancel_session(session, actor=student, now=now)
    assert exc.value.code == "not_allowed"
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED


def test_system_and_managers_may_cancel_a_session(make_session, make_user, now):
    from django.contrib.auth.models import Permission

    manager = make_user("manager")
    manager.user_permissions.add(Permission.objects.get(codename="manage_bookings"))
    first, second = make_session(), make_session()
    services.cancel_session(first, actor=services.SYSTEM, now=now)
    services.cancel_session(second, actor=type(manager).objects.get(pk=manager.pk), now=now)
    assert {first.status, second.status} == {SessionStatus.CANCELLED}


def test_session_model_method_cancel_delegates_to_the_service(session, teacher, now):
    session.cancel(teacher, now=now)
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED


def test_a_refused_session_leaves_no_policy_row_behind(teacher, now):
    from django_liveclass_booking.models import TeacherBookingPolicy

    start = now + dt.timedelta(days=1)
    # A session on the calendar that no service has scheduled (e.g. imported), so no policy row yet.
    get_session_model().objects.create(teacher=teacher, start_at_utc=start, end_at_utc=start + dt.timedelta(hours=1),
                                       duration_minutes=60, capacity=3)
    with pytest.raises(SlotUnavailable):
        services.schedule_session(teacher, start=start, duration=30, capacity=2, now=now)
    assert not TeacherBookingPolicy.objects.filter(teacher=teacher).exists()
