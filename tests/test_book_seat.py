import datetime as dt

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import AlreadyBooked, BookingError, NotAllowed, SessionFull
from django_liveclass_booking.models import BookingSource, BookingStatus, get_booking_model

from .invariants import assert_all

pytestmark = pytest.mark.django_db


def test_book_seat_confirms_and_takes_a_seat(session, student, now):
    booking = services.book_seat(student, session, now=now)
    session.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.source == BookingSource.DIRECT
    assert (booking.teacher_id, booking.kind) == (session.teacher_id, "group")
    assert (booking.start_at_utc, booking.end_at_utc) == (session.start_at_utc, session.end_at_utc)
    assert session.seats_taken == 1
    assert_all()


def test_manual_approval_makes_a_pending_booking_that_holds_its_seat(session, student, set_policy, now):
    set_policy(approval_mode="manual")
    booking = services.book_seat(student, session, now=now)
    session.refresh_from_db()
    assert booking.status == BookingStatus.PENDING
    assert session.seats_taken == 1


def test_manual_for_new_students_approves_known_students_automatically(
    make_session, student, teacher, set_policy, now
):
    set_policy(approval_mode="manual_for_new_students")
    first = services.book_seat(student, make_session(), now=now)
    assert first.status == BookingStatus.PENDING
    services.confirm_booking(first, actor=teacher, now=now)
    second = services.book_seat(student, make_session(), now=now)
    assert second.status == BookingStatus.CONFIRMED


def test_booking_twice_is_refused_with_already_booked(session, student, now):
    services.book_seat(student, session, now=now)
    with pytest.raises(AlreadyBooked) as exc:
        services.book_seat(student, session, now=now)
    assert exc.value.code == "already_booked"
    session.refresh_from_db()
    assert session.seats_taken == 1
    assert get_booking_model().objects.count() == 1


def test_a_cancelled_booking_does_not_block_booking_again(session, student, now):
    first = services.book_seat(student, session, now=now)
    services.cancel_booking(first, actor=student, now=now)
    again = services.book_seat(student, session, now=now)
    assert again.status == BookingStatus.CONFIRMED
    assert get_booking_model().objects.filter(session=session, student=student).count() == 2
    assert_all()


def test_a_full_session_refuses_with_session_full(make_session, make_user, now):
    session = make_session(capacity=2)
    services.book_seat(make_user(), session, now=now)
    services.book_seat(make_user(), session, now=now)
    late = make_user()
    with pytest.raises(SessionFull) as exc:
        services.book_seat(late, session, now=now)
    assert exc.value.code == "session_full"
    assert not get_booking_model().objects.filter(student=late).exists()
    assert_all()


def test_a_cancelled_session_is_closed(session, student, teacher, now):
    services.cancel_session(session, actor=teacher, now=now)
    with pytest.raises(BookingError) as exc:
        services.book_seat(student, session, now=now)
    assert exc.value.code == "session_closed"
    assert not get_booking_model().objects.exists()


@pytest.mark.parametrize("after_start", [dt.timedelta(0), dt.timedelta(minutes=1), dt.timedelta(days=3)])
def test_a_session_that_started_is_closed(session, student, after_start):
    with pytest.raises(BookingError) as exc:
        services.book_seat(student, session, now=session.start_at_utc + after_start)
    assert exc.value.code == "session_closed"
    session.refresh_from_db()
    assert session.seats_taken == 0


def test_booking_with_a_naive_now_is_refused(session, student, now):
    with pytest.raises(BookingError) as exc:
        services.book_seat(student, session, now=now.replace(tzinfo=None))
    assert exc.value.code == "naive_datetime"


def test_a_teacher_cannot_book_their_own_session(session, teacher, now):
    with pytest.raises(BookingError) as exc:
        services.book_seat(teacher, session, now=now)
    assert exc.value.code == "own_session"


def test_a_student_cannot_book_for_another_student(session, student, other_student, now):
    with pytest.raises(NotAllowed):
        services.book_seat(other_student, session, actor=student, now=now)
    assert not get_booking_model().objects.exists()


def test_system_may_book_for_a_student(session, student, now):
    booking = services.book_seat(student, session, actor=services.SYSTEM, now=now)
    assert booking.student_id == student.pk


def test_one_on_one_sessions_are_not_booked_as_seats(session, student, now):
    session.kind = "one_on_one"
    with pytest.raises(BookingError) as exc:
        services.book_seat(student, session, now=now)
    assert exc.value.code == "not_a_group_session"


def test_signal_booking_confirmed_after_commit(session, student, now, signal_log, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        booking = services.book_seat(student, session, now=now)
    assert signal_log.names == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert signal_log.names == ["booking_confirmed"]
    assert signal_log.sent[0][1]["booking"] == booking
    assert signal_log.sent[0][1]["sender"] is get_booking_model()


def test_signal_booking_requested_for_a_pending_booking(
    session, student, set_policy, now, signal_log, django_capture_on_commit_callbacks
):
    set_policy(approval_mode="manual")
    with django_capture_on_commit_callbacks(execute=True):
        services.book_seat(student, session, now=now)
    assert signal_log.names == ["booking_requested"]


def test_a_refused_booking_sends_no_signal(session, student, now, signal_log, django_capture_on_commit_callbacks):
    services.book_seat(student, session, now=now)
    signal_log.sent.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(AlreadyBooked):
        services.book_seat(student, session, now=now)
    assert callbacks == []
    assert signal_log.names == []


def test_check_booking_is_a_dry_run(session, student, set_policy, now):
    set_policy(approval_mode="manual")
    decision = services.check_booking(student, session=session, now=now)
    assert decision.allowed and decision.requires_approval
    assert get_booking_model().objects.count() == 0


def test_check_booking_reports_every_seat_problem_with_codes(make_session, student, make_user, now):
    session = make_session(capacity=1)
    services.book_seat(student, session, now=now)
    decision = services.check_booking(student, session=session, now=now)
    assert not decision.allowed
    assert decision.codes == ["already_booked", "session_full"]
    assert all(v.message for v in decision.violations)
    closed = services.check_booking(make_user(), session=session, now=session.start_at_utc)
    assert closed.codes == ["session_closed"]


def test_check_booking_for_a_lesson_needs_teacher_start_and_duration(student, teacher, now, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    decision = services.check_booking(student, teacher=teacher, start=now + dt.timedelta(days=1), duration=30, now=now)
    assert decision.allowed
    with pytest.raises(BookingError) as exc:
        services.check_booking(student, teacher=teacher, now=now)
    assert exc.value.code == "invalid_arguments"
    with pytest.raises(BookingError) as exc:
        services.check_booking(student, teacher=teacher, start=dt.datetime(2026, 6, 1), duration=30, now=now)
    assert exc.value.code == "naive_datetime"


def test_check_booking_agrees_with_book_seat_on_own_and_one_on_one_sessions(session, teacher, student, now):
    assert services.check_booking(teacher, session=session, now=now).codes == ["own_session"]
    session.kind = "one_on_one"
    assert services.check_booking(student, session=session, now=now).codes == ["not_a_group_session"]


def test_check_booking_for_a_lesson_reports_calendar_problems_like_request_lesson(student, teacher, make_session, now):
    start = now + dt.timedelta(days=1)
    assert services.check_booking(student, teacher=teacher, start=start, duration=30, now=now).codes == [
        "outside_availability"]
    services.add_availability(teacher, weekday=start.weekday(), start_time=dt.time(0), end_time=dt.time(23))
    make_session(start=start, duration=60)
    decision = services.check_booking(student, teacher=teacher, start=start, duration=30, now=now)
    assert decision.codes == ["teacher_unavailable"]
    assert get_booking_model().objects.count() == 0


def test_post_save_receivers_of_the_booking_model_run_on_every_database(session, student, now):
    from django.db.models.signals import post_save

    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    post_save.connect(receiver, sender=get_booking_model(), weak=False)
    try:
        booking = services.book_seat(student, session, now=now)
    finally:
        post_save.disconnect(receiver, sender=get_booking_model())
    assert seen == [(booking.pk, True)]
