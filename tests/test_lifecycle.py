import datetime as dt

import pytest
from django.contrib.auth.models import Permission

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import InvalidTransition, NotAllowed, PolicyViolation
from django_liveclass_booking.models import BookingStatus, SessionStatus, get_booking_model, get_session_model
from django_liveclass_booking.services._engine.transitions import BOOKING as ALLOWED_TRANSITIONS

from .invariants import assert_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(session, student, set_policy, now):
    set_policy(approval_mode="manual")
    return services.book_seat(student, session, now=now)


@pytest.fixture
def manager(make_user):
    user = make_user("manager")
    user.user_permissions.add(Permission.objects.get(codename="manage_bookings"))
    return type(user).objects.get(pk=user.pk)


def stored(booking):
    return get_booking_model().objects.get(pk=booking.pk)


def seats(session):
    session.refresh_from_db()
    return session.seats_taken


# --- confirm ---------------------------------------------------------------------------------


def test_teacher_confirms_a_pending_booking(pending, teacher, now):
    services.confirm_booking(pending, actor=teacher, now=now)
    row = stored(pending)
    assert row.status == BookingStatus.CONFIRMED
    assert (row.decided_by_id, row.decided_at) == (teacher.pk, now)
    assert row.status_changed == now


def test_manager_and_system_may_confirm(make_session, make_user, manager, set_policy, now):
    set_policy(approval_mode="manual")
    one = services.book_seat(make_user(), make_session(), now=now)
    two = services.book_seat(make_user(), make_session(), now=now)
    services.confirm_booking(one, actor=manager, now=now)
    services.confirm_booking(two, actor=services.SYSTEM, now=now)
    assert stored(one).status == stored(two).status == BookingStatus.CONFIRMED
    assert stored(two).decided_by_id is None


def test_a_student_cannot_confirm_their_own_booking(pending, student, now):
    with pytest.raises(NotAllowed) as exc:
        services.confirm_booking(pending, actor=student, now=now)
    assert exc.value.code == "not_allowed"
    assert stored(pending).status == BookingStatus.PENDING


def test_confirming_a_cancelled_booking_is_an_invalid_transition(pending, teacher, student, now):
    services.cancel_booking(pending, actor=student, now=now)
    with pytest.raises(InvalidTransition) as exc:
        services.confirm_booking(pending, actor=teacher, now=now)
    assert exc.value.code == "invalid_transition"
    assert exc.value.params == {"from": "cancelled", "to": "confirmed"}


def test_a_stale_instance_cannot_confirm_a_booking_changed_elsewhere(pending, teacher, student, now):
    stale = stored(pending)
    services.decline_booking(pending, actor=teacher, now=now)
    assert stale.status == BookingStatus.PENDING
    with pytest.raises(InvalidTransition):
        services.confirm_booking(stale, actor=teacher, now=now)
    assert stored(pending).status == BookingStatus.DECLINED


def test_confirming_twice_is_an_invalid_transition(pending, teacher, now):
    services.confirm_booking(pending, actor=teacher, now=now)
    with pytest.raises(InvalidTransition):
        services.confirm_booking(pending, actor=teacher, now=now)


# --- decline ---------------------------------------------------------------------------------


def test_declining_frees_the_seat(pending, session, teacher, now):
    assert seats(session) == 1
    services.decline_booking(pending, actor=teacher, reason="Class is for level B2", now=now)
    row = stored(pending)
    assert (row.status, row.reason, row.decided_by_id) == (BookingStatus.DECLINED, "Class is for level B2", teacher.pk)
    assert seats(session) == 0
    assert_all()


def test_a_confirmed_booking_cannot_be_declined(session, student, teacher, now):
    booking = services.book_seat(student, session, now=now)
    with pytest.raises(InvalidTransition):
        services.decline_booking(booking, actor=teacher, now=now)
    assert seats(session) == 1


def test_a_student_cannot_decline(pending, student, now):
    with pytest.raises(NotAllowed):
        services.decline_booking(pending, actor=student, now=now)


# --- cancel ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["student", "teacher", "manager", "system"])
def test_cancel_by_each_allowed_actor_frees_the_seat(session, student, teacher, manager, who, now):
    actor = {"student": student, "teacher": teacher, "manager": manager, "system": services.SYSTEM}[who]
    booking = services.book_seat(student, session, now=now)
    services.cancel_booking(booking, actor=actor, reason="changed plans", now=now)
    row = stored(booking)
    assert row.status == BookingStatus.CANCELLED
    assert row.cancelled_at == now
    assert row.cancelled_by_id == (None if who == "system" else actor.pk)
    assert seats(session) == 0
    assert_all()


def test_a_student_cannot_cancel_another_students_booking(session, student, other_student, now):
    booking = services.book_seat(student, session, now=now)
    with pytest.raises(NotAllowed) as exc:
        services.cancel_booking(booking, actor=other_student, now=now)
    assert exc.value.code == "not_allowed"
    assert stored(booking).status == BookingStatus.CONFIRMED
    assert seats(session) == 1


def test_cancelling_twice_is_an_invalid_transition_and_releases_once(session, student, now):
    booking = services.book_seat(student, session, now=now)
    services.cancel_booking(booking, actor=student, now=now)
    with pytest.raises(InvalidTransition):
        services.cancel_booking(stored(booking), actor=student, now=now)
    assert seats(session) == 0
    assert_all()


def test_student_cancelling_inside_the_cutoff_is_flagged_late(session, student, set_policy):
    set_policy(cancellation_cutoff_hours=24, allow_late_cancellation=True)
    booking = services.book_seat(student, session, now=session.start_at_utc - dt.timedelta(days=3))
    services.cancel_booking(booking, actor=student, now=session.start_at_utc - dt.timedelta(hours=2))
    assert stored(booking).late_cancellation is True


def test_student_cancelling_before_the_cutoff_is_not_late(session, student, set_policy):
    set_policy(cancellation_cutoff_hours=24, allow_late_cancellation=True)
    booking = services.book_seat(student, session, now=session.start_at_utc - dt.timedelta(days=3))
    services.cancel_booking(booking, actor=student, now=session.start_at_utc - dt.timedelta(hours=24))
    assert stored(booking).late_cancellation is False


def test_student_cancelling_inside_the_cutoff_is_refused_when_late_cancellation_is_off(session, student, set_policy):
    set_policy(cancellation_cutoff_hours=24, allow_late_cancellation=False)
    booking = services.book_seat(student, session, now=session.start_at_utc - dt.timedelta(days=3))
    with pytest.raises(PolicyViolation) as exc:
        services.cancel_booking(booking, actor=student, now=session.start_at_utc - dt.timedelta(hours=23))
    assert exc.value.code == "cancellation_window"
    assert exc.value.codes == ["cancellation_window"]
    assert stored(booking).status == BookingStatus.CONFIRMED
    assert seats(session) == 1


def test_the_teacher_is_not_bound_by_the_cutoff(session, student, teacher, set_policy):
    set_policy(cancellation_cutoff_hours=24, allow_late_cancellation=False)
    booking = services.book_seat(student, session, now=session.start_at_utc - dt.timedelta(days=3))
    services.cancel_booking(booking, actor=teacher, now=session.start_at_utc - dt.timedelta(hours=1))
    row = stored(booking)
    assert row.status == BookingStatus.CANCELLED and row.late_cancellation is False


def test_a_student_cannot_cancel_after_the_start(session, student, now):
    booking = services.book_seat(student, session, now=now)
    with pytest.raises(Exception) as exc:
        services.cancel_booking(booking, actor=student, now=session.start_at_utc + dt.timedelta(minutes=5))
    assert exc.value.code == "session_closed"
    assert stored(booking).status == BookingStatus.CONFIRMED


def test_cancelling_a_one_on_one_booking_cancels_its_session(teacher, student, now, signal_log,
                                                            django_capture_on_commit_callbacks):
    # 1:1 lessons are created by request_lesson(); built by hand here to test the shared lifecycle.
    Session, Booking = get_session_model(), get_booking_model()
    start = now + dt.timedelta(days=2)
    lesson = Session.objects.create(teacher=teacher, kind="one_on_one", start_at_utc=start,
                                    end_at_utc=start + dt.timedelta(minutes=30), duration_minutes=30,
                                    capacity=1, seats_taken=1)
    booking = Booking.objects.create(session=lesson, student=student, teacher=teacher, kind="one_on_one",
                                     start_at_utc=lesson.start_at_utc, end_at_utc=lesson.end_at_utc,
                                     status=BookingStatus.CONFIRMED)
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_booking(booking, actor=student, now=now)
    lesson.refresh_from_db()
    assert (lesson.status, lesson.seats_taken) == (SessionStatus.CANCELLED, 0)
    assert signal_log.names == ["booking_cancelled", "session_cancelled"]
    assert_all()


# --- model methods, state machine, signals ---------------------------------------------------


def test_model_methods_delegate_to_the_services(make_session, make_user, teacher, set_policy, now):
    set_policy(approval_mode="manual")
    one = services.book_seat(make_user(), make_session(), now=now)
    two = services.book_seat(make_user(), make_session(), now=now)
    one.confirm(teacher, now=now)
    two.decline(teacher, reason="full", now=now)
    one.cancel(teacher, now=now)
    assert (stored(one).status, stored(two).status) == (BookingStatus.CANCELLED, BookingStatus.DECLINED)


def test_terminal_states_never_change(make_session, make_user, teacher, set_policy, now):
    set_policy(approval_mode="manual")
    terminal = [s for s, targets in ALLOWED_TRANSITIONS.items() if not targets]
    assert sorted(terminal) == ["cancelled", "declined", "expired"]
    booking = services.book_seat(make_user(), make_session(), now=now)
    services.decline_booking(booking, actor=teacher, now=now)
    for move in (services.confirm_booking, services.decline_booking, services.cancel_booking):
        with pytest.raises(InvalidTransition):
            move(booking, actor=teacher, now=now)
    assert stored(booking).status == BookingStatus.DECLINED


def test_each_transition_sends_its_signal_once(make_session, make_user, teacher, set_policy, now, signal_log,
                                               django_capture_on_commit_callbacks):
    set_policy(approval_mode="manual")
    with django_capture_on_commit_callbacks(execute=True):
        one = services.book_seat(make_user(), make_session(), now=now)
        two = services.book_seat(make_user(), make_session(), now=now)
        services.confirm_booking(one, actor=teacher, now=now)
        services.decline_booking(two, actor=teacher, now=now)
        services.cancel_booking(one, actor=teacher, now=now)
        with pytest.raises(InvalidTransition):
            services.cancel_booking(one, actor=teacher, now=now)
    assert signal_log.names == [
        "booking_requested", "booking_requested", "booking_confirmed", "booking_declined", "booking_cancelled",
    ]


def test_a_student_cancelling_a_cancelled_booking_gets_invalid_transition_not_a_cutoff_error(
    session, student, set_policy
):
    set_policy(cancellation_cutoff_hours=48, allow_late_cancellation=False)
    booking = services.book_seat(student, session, now=session.start_at_utc - dt.timedelta(days=5))
    services.cancel_booking(booking, actor=student, now=session.start_at_utc - dt.timedelta(days=4))
    for when in (dt.timedelta(hours=-3), dt.timedelta(hours=1)):  # inside the cutoff, and after the start
        with pytest.raises(InvalidTransition):
            services.cancel_booking(stored(booking), actor=student, now=session.start_at_utc + when)


@pytest.mark.parametrize("operation", ["confirm_booking", "decline_booking", "cancel_booking"])
def test_a_missing_or_anonymous_actor_is_not_allowed(pending, operation, now):
    from django.contrib.auth.models import AnonymousUser

    for actor in (None, AnonymousUser()):
        with pytest.raises(NotAllowed):
            getattr(services, operation)(pending, actor=actor, now=now)
    assert stored(pending).status == BookingStatus.PENDING


def test_cancel_session_needs_an_actor(session, now):
    with pytest.raises(NotAllowed):
        services.cancel_session(session, actor=None, now=now)


def test_each_signal_shows_the_booking_as_it_was_at_its_transition(pending, teacher, now, signal_log,
                                                                     django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.confirm_booking(pending, actor=teacher, now=now)
        services.cancel_booking(pending, actor=teacher, now=now)
    # Sent after the commit, yet each receiver sees the status of its own transition.
    seen = [(name, kwargs["booking"].status) for name, kwargs in signal_log.sent]
    assert seen[-2:] == [("booking_confirmed", "confirmed"), ("booking_cancelled", "cancelled")]
