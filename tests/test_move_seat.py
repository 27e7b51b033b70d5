"""Moving a group seat to another class of the same teacher: the booking keeps its row, the old seat is handed on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Model
from django.test import TestCase

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import (
    BookingEvent,
    BookingStatus,
    SessionWaitlist,
    get_booking_model,
    get_session_model,
)

from .conftest import SignalRecorder
from .invariants import assert_all

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


class Recorder(SignalRecorder):
    """Every booking signal, the rescheduling and updating ones included, in the order sent."""

    NAMES = ["booking_requested", "booking_confirmed", "booking_cancelled", "booking_expired", "booking_rescheduled",
             "session_rescheduled", "session_updated", "session_cancelled", "waitlist_seat_offered"]


@pytest.fixture
def sent() -> Any:
    recorder = Recorder()
    yield recorder
    recorder.close()


def committed(call: Callable[[], Any]) -> Any:
    """Run a service as if its transaction committed: the on-commit signals are sent when it returns."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return call()


def fields(obj: Model) -> dict[str, Any]:
    return {f.attname: obj.__dict__[f.attname] for f in obj._meta.concrete_fields if f.attname in obj.__dict__}


def related(obj: Model) -> dict[str, dict[str, Any]]:
    return {name: fields(value) for name, value in obj._state.fields_cache.items() if isinstance(value, Model)}


def db_state() -> list[Any]:
    """Every row the services write, as stored."""
    return [list(model.objects.order_by("pk").values()) for model in
            (get_session_model(), get_booking_model(), SessionWaitlist, BookingEvent)]


def assert_refused(call: Callable[[], Any], code: str, *objects: Model) -> BookingError:
    """The call is refused with ``code``, writes nothing, sends nothing and leaves ``objects`` as they were."""
    before, held = db_state(), [(fields(o), related(o)) for o in objects]
    recorder = Recorder()
    try:
        with pytest.raises(BookingError) as refused:
            committed(call)
    finally:
        recorder.close()
    assert refused.value.code == code, (refused.value.code, refused.value.params)
    assert db_state() == before
    assert [(fields(o), related(o)) for o in objects] == held
    assert recorder.sent == []
    assert_all()
    return refused.value


def stored(obj: Model) -> Model:
    return type(obj)._default_manager.get(pk=obj.pk)


@pytest.fixture
def two(make_session: Callable[..., Any]) -> tuple[Any, Any]:
    """Two classes of the teacher, tomorrow 11:00 and 13:00, three seats each."""
    return make_session(capacity=3, title="Monday"), make_session(capacity=3, title="Wednesday")


@pytest.fixture
def lessons_anytime(settings: Any) -> None:
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}


def loaded(booking: Any) -> Any:
    """As a caller holds a booking: loaded with its session."""
    return get_booking_model().objects.select_related("session").get(pk=booking.pk)


# --- happy paths -----------------------------------------------------------------------------------


def test_a_confirmed_seat_moves_keeping_its_row_and_status(two, student, now, sent):
    old, new = two
    booking = loaded(services.book_seat(student, old, now=now))

    moved = committed(lambda: services.move_seat(booking, new, actor=student, now=now))

    assert moved is booking and moved.pk == booking.pk
    row = stored(booking)
    assert (row.session_id, row.status, row.start_at_utc, row.end_at_utc) == (
        new.pk, BookingStatus.CONFIRMED, new.start_at_utc, new.end_at_utc)
    assert fields(booking) == fields(row) | {"modified": booking.modified}
    assert booking.session is new and new.seats_taken == 1 == stored(new).seats_taken
    assert stored(old).seats_taken == 0
    event = BookingEvent.objects.filter(booking_id=booking.pk).order_by("pk").last()
    assert (event.kind, event.actor_id) == ("moved", student.pk)
    assert event.data == {
        "previous_session": old.pk, "previous_start": old.start_at_utc.isoformat().replace("+00:00", "Z"),
        "previous_end": old.end_at_utc.isoformat().replace("+00:00", "Z"), "session": new.pk,
        "start": new.start_at_utc.isoformat().replace("+00:00", "Z"),
        "end": new.end_at_utc.isoformat().replace("+00:00", "Z"),
    }
    assert sent.names == ["booking_rescheduled"]
    kwargs = sent.sent[0][1]
    assert kwargs["booking"].session_id == new.pk
    assert (kwargs["previous_start"], kwargs["previous_end"]) == (old.start_at_utc, old.end_at_utc)
    assert_all()


def test_a_pending_seat_stays_pending_and_its_expiry_follows_the_start(two, student, set_policy, now):
    set_policy(approval_mode="manual", request_ttl_hours=None)
    old, new = two
    booking = services.book_seat(student, old, now=now)
    assert booking.status == "pending" and booking.expires_at == old.start_at_utc

    services.move_seat(booking, new, actor=student, now=now)

    row = stored(booking)
    assert (row.status, row.session_id, row.expires_at) == ("pending", new.pk, new.start_at_utc)
    assert booking.expires_at == new.start_at_utc
    assert_all()


def test_an_expiry_set_by_the_time_to_live_stays(two, student, set_policy, now):
    set_policy(approval_mode="manual", request_ttl_hours=2)
    old, new = two
    booking = services.book_seat(student, old, now=now)
    services.move_seat(booking, new, actor=student, now=now + HOUR)
    assert stored(booking).expires_at == now + 2 * HOUR
    assert_all()


def test_the_old_seat_is_offered_to_the_old_sessions_waitlist(make_session, student, make_user, now, sent):
    old, new = make_session(capacity=1), make_session(capacity=1)
    booking = services.book_seat(student, old, now=now)
    waiting = make_user()
    services.join_waitlist(waiting, old, now=now)

    committed(lambda: services.move_seat(booking, new, actor=student, now=now))

    entry = SessionWaitlist.objects.get(session=old, student=waiting)
    assert entry.status == "offered"
    assert stored(old).seats_taken == 1 and stored(new).seats_taken == 1
    assert sent.names == ["booking_rescheduled", "waitlist_seat_offered"]
    assert_all()


def test_the_teacher_may_move_a_student_past_the_cutoff(two, student, teacher, set_policy):
    set_policy(cancellation_cutoff_hours=48, allow_late_cancellation=False)
    old, new = two
    booking = services.book_seat(student, old, now=old.start_at_utc - 3 * HOUR)
    services.move_seat(booking, new, actor=teacher, now=old.start_at_utc - 2 * HOUR)
    assert stored(booking).session_id == new.pk
    assert_all()


def test_a_late_move_is_allowed_unflagged_when_the_policy_allows_late_cancellation(two, student, set_policy):
    set_policy(cancellation_cutoff_hours=48, allow_late_cancellation=True)
    old, new = two
    booking = services.book_seat(student, old, now=old.start_at_utc - 3 * HOUR)
    services.move_seat(booking, new, actor=student, now=old.start_at_utc - 2 * HOUR)
    row = stored(booking)
    assert row.session_id == new.pk and row.late_cancellation is False and row.status == "confirmed"
    assert_all()


def test_the_limits_do_not_count_the_booking_being_moved(two, student, set_policy, now):
    set_policy(max_bookings_per_day=1)
    old, new = two
    booking = services.book_seat(student, old, now=now)
    services.move_seat(booking, new, actor=student, now=now)
    assert stored(booking).session_id == new.pk
    assert_all()


class LedgerAdapter(DefaultBookingAdapter):
    calls: list[tuple[str, Any, Any]] = []
    refuse = False

    def on_place_taken(self, booking: Any) -> None:
        if self.refuse:
            raise BookingError(code="not_allowed")
        self.calls.append(("taken", booking.pk, booking.session_id))

    def on_place_released(self, booking: Any, reason: str) -> None:
        self.calls.append((reason, booking.pk, booking.session_id))


@pytest.fixture
def ledger(settings: Any) -> type[LedgerAdapter]:
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.LedgerAdapter"}
    LedgerAdapter.calls, LedgerAdapter.refuse = [], False
    yield LedgerAdapter
    LedgerAdapter.calls, LedgerAdapter.refuse = [], False


def test_the_hooks_release_the_old_place_then_take_the_new(two, student, now, ledger):
    old, new = two
    booking = services.book_seat(student, old, now=now)
    ledger.calls.clear()
    services.move_seat(booking, new, actor=student, now=now)
    assert ledger.calls == [("moved", booking.pk, old.pk), ("taken", booking.pk, new.pk)]


def test_a_hook_refusing_the_new_place_refuses_the_whole_move(two, student, now, ledger):
    old, new = two
    booking = loaded(services.book_seat(student, old, now=now))
    ledger.refuse = True
    assert_refused(lambda: services.move_seat(booking, new, actor=student, now=now), "not_allowed", booking, new)


# --- refusals: each writes nothing and leaves the objects as they were ---------------------------


def test_not_movable(two, make_session, make_user, student, now, lessons_anytime):
    old, new = two
    booking = loaded(services.book_seat(student, old, now=now))
    other_teacher = make_session(who=make_user(), start=now + dt.timedelta(days=3))
    lesson = services.request_lesson(make_user(), old.teacher, start=now + dt.timedelta(days=4), duration=60,
                                     now=now)
    own = loaded(lesson)
    for target in (old, other_teacher, lesson.session):
        assert_refused(lambda t=target: services.move_seat(booking, t, actor=student, now=now), "not_movable",
                       booking, target)
    lesson_student = lesson.student
    assert_refused(lambda: services.move_seat(own, new, actor=lesson_student, now=now), "not_movable", own, new)


def test_session_closed_for_a_cancelled_or_started_target_or_a_started_old_session(
        make_session, student, teacher, now):
    early, old, late = (make_session(start=now + dt.timedelta(days=1, hours=h)) for h in (0, 2, 4))
    booking = loaded(services.book_seat(student, old, now=now))
    between = old.start_at_utc - HOUR + dt.timedelta(minutes=30)  # the early class has started
    assert_refused(lambda: services.move_seat(booking, early, actor=teacher, now=between), "session_closed",
                   booking, early)
    after = old.start_at_utc + dt.timedelta(minutes=10)  # the old class has started, the late one not
    assert_refused(lambda: services.move_seat(booking, late, actor=teacher, now=after), "session_closed",
                   booking, late)
    services.cancel_session(late, actor=teacher, now=now)
    assert_refused(lambda: services.move_seat(booking, late, actor=teacher, now=now), "session_closed",
                   booking, late)


def test_a_stale_instance_is_judged_by_the_stored_rows(two, student, teacher, now):
    old, new = two
    booking = loaded(services.book_seat(student, old, now=now))
    stale_target = get_session_model().objects.get(pk=new.pk)
    services.cancel_session(new, actor=teacher, now=now)
    assert_refused(lambda: services.move_seat(booking, stale_target, actor=student, now=now), "session_closed",
                   booking, stale_target)
    stale_booking = loaded(booking)
    services.cancel_booking(booking, actor=student, now=now)
    third = services.schedule_session(teacher, start=now + dt.timedelta(days=5), duration=60, capacity=2, now=now)
    assert_refused(lambda: services.move_seat(stale_booking, third, actor=student, now=now), "invalid_transition",
                   stale_booking, third)


def test_invalid_transition_for_a_booking_that_is_not_active(two, student, set_policy, now):
    set_policy(approval_mode="manual", request_ttl_hours=1)
    old, new = two
    booking = loaded(services.book_seat(student, old, now=now))
    later = now + 2 * HOUR  # the request has expired, though no sweep has marked it
    assert_refused(lambda: services.move_seat(booking, new, actor=student, now=later), "invalid_transition",
                   booking, new)
    services.cancel_booking(booking, actor=student, now=now)
    cancelled = loaded(booking)
    assert_refused(lambda: services.move_seat(cancelled, new, actor=student, now=now), "invalid_transition",
                   cancelled, new)


def test_not_allowed_for_another_student(two, student, other_student, now):
    old, new = two
    booking = loaded(services.book_seat(student, old, now=now))
    assert_refused(lambda: services.move_seat(booking, new, actor=other_student, now=now), "not_allowed",
                   booking, new)


def test_session_full_when_the_target_is_full_or_someone_waits(make_session, make_user, student, now):
    old, full, waited = make_session(capacity=2), make_session(capacity=1), make_session(capacity=1)
    booking = loaded(services.book_seat(student, old, now=now))
    services.book_seat(make_user(), full, now=now)
    services.book_seat(make_user(), waited, now=now)
    services.join_waitlist(make_user(), waited, now=now)
    for target in (full, waited):
        error = assert_refused(lambda t=target: services.move_seat(booking, t, actor=student, now=now),
                               "session_full", booking, target)
        assert error.params["session"] == target.pk


def test_already_booked_when_the_student_holds_the_target(two, student, now):
    old, new = two
    booking = loaded(services.book_seat(student, old, now=now))
    services.book_seat(student, new, now=now)
    new = get_session_model().objects.get(pk=new.pk)
    assert_refused(lambda: services.move_seat(booking, new, actor=student, now=now), "already_booked", booking, new)


def test_a_stale_request_of_the_student_in_the_target_does_not_stand_in_the_way(two, student, set_policy, now):
    set_policy(approval_mode="manual", request_ttl_hours=1)
    old, new = two
    stale = services.book_seat(student, new, now=now)
    set_policy(approval_mode="auto")
    booking = services.book_seat(student, old, now=now)
    services.move_seat(booking, new, actor=student, now=now + 2 * HOUR)
    assert stored(stale).status == "expired" and stored(booking).session_id == new.pk
    assert_all()


def test_cancellation_window_binds_a_student(two, student, set_policy):
    set_policy(cancellation_cutoff_hours=48, allow_late_cancellation=False)
    old, new = two
    booking = loaded(services.book_seat(student, old, now=old.start_at_utc - 3 * HOUR))
    assert_refused(lambda: services.move_seat(booking, new, actor=student, now=old.start_at_utc - 2 * HOUR),
                   "cancellation_window", booking, new)


@pytest.mark.parametrize("then", ["cancel", "decline"])
def test_a_copy_read_before_a_move_frees_the_seat_the_booking_holds_now(make_session, student, teacher, set_policy,
                                                                          now, then):
    """The caller's copy still names the old class: the seat given back is the new class's, not the old one's."""
    set_policy(approval_mode="manual" if then == "decline" else "auto")
    first, second = make_session(capacity=2), make_session(capacity=2)
    booking = services.book_seat(student, first, actor=student, now=now)
    stale = type(booking).objects.get(pk=booking.pk)
    services.move_seat(booking, second, actor=teacher, now=now)
    if then == "cancel":
        services.cancel_booking(stale, actor=student, now=now)
    else:
        services.decline_booking(stale, actor=teacher, now=now)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.seats_taken, second.seats_taken) == (0, 0)
    assert (stale.session_id, stale.start_at_utc) == (second.pk, second.start_at_utc)
