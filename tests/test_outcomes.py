"""What happened in a lesson: who records which outcome, disputes, the window, and the sweep."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from django_liveclass_booking import services, signals
from django_liveclass_booking.exceptions import BookingError, InvalidTransition, NotAllowed
from django_liveclass_booking.models import BookingEvent, get_booking_model

from .invariants import assert_all
from .test_refusals_leave_objects import fields, related, stored

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
OUTCOME_KINDS = ("completed", "no_show", "teacher_no_show", "disputed")


@pytest.fixture
def manager(make_user: Any) -> Any:
    user = make_user("manager")
    user.user_permissions.add(Permission.objects.get(codename="manage_bookings"))
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def outcomes() -> Any:
    """The ``booking_outcome_recorded`` signals sent: (booking pk, outcome, status the booking showed)."""
    sent: list[tuple[Any, str, str]] = []

    def receiver(sender: Any, booking: Any, outcome: str, **kwargs: Any) -> None:
        sent.append((booking.pk, outcome, booking.status))

    signals.booking_outcome_recorded.connect(receiver, weak=False)
    yield sent
    signals.booking_outcome_recorded.disconnect(receiver)


@pytest.fixture
def group(session: Any, student: Any, now: dt.datetime) -> Any:
    """A confirmed seat in a group session, loaded as a view would: with its session."""
    booking = services.book_seat(student, session, now=now)
    return get_booking_model().objects.select_related("session").get(pk=booking.pk)


@pytest.fixture
def lesson(teacher: Any, student: Any, now: dt.datetime, settings: Any) -> Any:
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    booking = services.request_lesson(student, teacher, start=now + dt.timedelta(days=2), duration=45, now=now)
    assert booking.status == "confirmed"
    return get_booking_model().objects.select_related("session").get(pk=booking.pk)


@pytest.fixture(params=["group", "lesson"])
def booking(request: Any) -> Any:
    """A confirmed booking of each kind: the rules are the same for both."""
    return request.getfixturevalue(request.param)


def during(booking: Any) -> dt.datetime:
    return booking.start_at_utc + dt.timedelta(minutes=30)


def status(booking: Any) -> str:
    return get_booking_model().objects.get(pk=booking.pk).status


def history(booking: Any) -> list[tuple[str, Any, dict[str, Any]]]:
    return [(e.kind, e.actor_id, e.data) for e in BookingEvent.objects.filter(booking_id=booking.pk,
                                                                              kind__in=OUTCOME_KINDS)]


def record(booking: Any, outcome: str, actor: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("now", during(booking))
    return services.record_outcome(booking, outcome=outcome, actor=actor, **kwargs)


# --- the parties --------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["completed", "no_show"])
def test_the_teacher_records_what_happened(booking, teacher, outcome, outcomes, django_capture_on_commit_callbacks):
    seats = booking.session.seats_taken
    with django_capture_on_commit_callbacks(execute=True):
        returned = record(booking, outcome, teacher, note="Worked on fractions")
        assert outcomes == []  # after the commit only
    assert returned is booking and booking.status == outcome == status(booking)
    assert booking.status_changed == during(booking)
    assert outcomes == [(booking.pk, outcome, outcome)]
    assert history(booking) == [(outcome, teacher.pk, {"status": outcome, "outcome": outcome,
                                                       "note": "Worked on fractions"})]
    booking.session.refresh_from_db()
    assert booking.session.seats_taken == seats  # the seat stays taken
    assert_all()


def test_the_student_records_that_the_teacher_did_not_come(booking, student, outcomes,
                                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record(booking, "teacher_no_show", student)
    assert status(booking) == "teacher_no_show"
    assert outcomes == [(booking.pk, "teacher_no_show", "teacher_no_show")]
    assert history(booking) == [("teacher_no_show", student.pk, {"status": "teacher_no_show",
                                                                 "outcome": "teacher_no_show"})]
    assert_all()


def test_the_teacher_corrects_their_own_outcome_both_ways(booking, teacher):
    record(booking, "completed", teacher)
    record(booking, "no_show", teacher, now=during(booking) + HOUR)
    record(booking, "completed", teacher, now=during(booking) + 2 * HOUR)
    assert status(booking) == "completed"
    assert [(kind, data.get("recorded")) for kind, _, data in history(booking)] == [
        ("completed", None), ("no_show", "completed"), ("completed", "no_show")]


def test_the_model_method_calls_the_service(booking, teacher):
    assert booking.record_outcome("no_show", teacher, note="Never came", now=during(booking)) is booking
    assert status(booking) == "no_show"
    assert history(booking)[0][2]["note"] == "Never came"


# --- disputes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("teachers", ["completed", "no_show"])
def test_the_student_disputes_the_teachers_outcome(booking, teacher, student, teachers, outcomes,
                                                   django_capture_on_commit_callbacks):
    record(booking, teachers, teacher)
    with django_capture_on_commit_callbacks(execute=True):
        record(booking, "teacher_no_show", student, note="The link never opened", now=during(booking) + HOUR)
    assert booking.status == status(booking) == "disputed"
    assert outcomes == [(booking.pk, "disputed", "disputed")]
    assert history(booking)[-1] == ("disputed", student.pk, {
        "status": "disputed", "outcome": "teacher_no_show", "recorded": teachers, "note": "The link never opened"})
    assert_all()


@pytest.mark.parametrize("teachers", ["completed", "no_show"])
def test_the_teacher_disputes_the_students_outcome(booking, teacher, student, teachers):
    record(booking, "teacher_no_show", student)
    record(booking, teachers, teacher, now=during(booking) + HOUR)
    assert status(booking) == "disputed"
    assert history(booking)[-1] == ("disputed", teacher.pk, {
        "status": "disputed", "outcome": teachers, "recorded": "teacher_no_show"})


@pytest.fixture
def disputed(booking: Any, teacher: Any, student: Any) -> Any:
    record(booking, "completed", teacher)
    record(booking, "teacher_no_show", student)
    assert booking.status == "disputed"
    return booking


@pytest.mark.parametrize(("who", "outcome"), [("teacher", "completed"), ("teacher", "no_show"),
                                              ("student", "teacher_no_show")])
def test_once_disputed_the_parties_can_no_longer_move_it(disputed, teacher, student, who, outcome):
    with pytest.raises(InvalidTransition):
        record(disputed, outcome, teacher if who == "teacher" else student)
    assert status(disputed) == "disputed"


@pytest.mark.parametrize("outcome", ["completed", "no_show", "teacher_no_show"])
@pytest.mark.parametrize("who", ["manager", "system"])
def test_a_manager_or_the_system_settles_a_dispute(disputed, manager, who, outcome, outcomes,
                                                   django_capture_on_commit_callbacks):
    actor = manager if who == "manager" else services.SYSTEM
    with django_capture_on_commit_callbacks(execute=True):
        record(disputed, outcome, actor, note="Checked the recording")
    assert status(disputed) == outcome
    assert outcomes == [(disputed.pk, outcome, outcome)]
    assert history(disputed)[-1] == (outcome, manager.pk if who == "manager" else None, {
        "status": outcome, "outcome": outcome, "recorded": "disputed", "note": "Checked the recording"})
    assert len(history(disputed)) == 3
    assert_all()


def test_a_settled_outcome_is_the_managers_the_parties_cannot_reopen_it(disputed, manager, teacher, student):
    record(disputed, "completed", manager)
    with pytest.raises(InvalidTransition):
        record(disputed, "no_show", teacher)
    with pytest.raises(InvalidTransition):
        record(disputed, "teacher_no_show", student)
    assert status(disputed) == "completed"


# --- managers and the system --------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["completed", "no_show", "teacher_no_show"])
def test_a_manager_records_any_outcome(booking, manager, outcome):
    record(booking, outcome, manager)
    assert status(booking) == outcome
    assert history(booking) == [(outcome, manager.pk, {"status": outcome, "outcome": outcome})]


@pytest.mark.parametrize(("first", "then"), [("completed", "teacher_no_show"), ("teacher_no_show", "no_show"),
                                             ("no_show", "completed")])
def test_a_manager_corrects_a_recorded_outcome(booking, teacher, student, manager, first, then):
    record(booking, first, student if first == "teacher_no_show" else teacher)
    record(booking, then, manager)
    assert status(booking) == then


def test_the_system_records_any_outcome(booking):
    record(booking, "teacher_no_show", services.SYSTEM)
    record(booking, "completed", services.SYSTEM)
    assert status(booking) == "completed"
    assert [actor for _, actor, _ in history(booking)] == [None, None]


def test_the_parties_cannot_overrule_a_managers_outcome(booking, manager, teacher, student):
    record(booking, "no_show", manager)
    with pytest.raises(InvalidTransition) as refused:
        record(booking, "completed", teacher)  # not the teacher's own to correct
    assert refused.value.params == {"from": "no_show", "to": "completed"}
    with pytest.raises(InvalidTransition):
        record(booking, "teacher_no_show", student)  # nothing of the teacher's to dispute
    record(booking, "teacher_no_show", manager)
    with pytest.raises(InvalidTransition):
        record(booking, "completed", teacher)
    assert status(booking) == "teacher_no_show"


# --- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["teacher", "student", "manager", "system"])
def test_recording_the_same_outcome_again_is_refused(booking, teacher, student, manager, who):
    actor = {"teacher": teacher, "student": student, "manager": manager, "system": services.SYSTEM}[who]
    outcome = "teacher_no_show" if who == "student" else "completed"
    record(booking, outcome, actor)
    with pytest.raises(InvalidTransition):
        record(booking, outcome, actor)
    assert len(history(booking)) == 1


@pytest.mark.parametrize(("who", "outcome"), [("student", "completed"), ("student", "no_show"),
                                              ("teacher", "teacher_no_show"), ("stranger", "completed")])
def test_the_adapter_decides_who_records_what(booking, teacher, student, make_user, who, outcome):
    actor = {"teacher": teacher, "student": student, "stranger": make_user()}[who]
    with pytest.raises(NotAllowed) as refused:
        record(booking, outcome, actor)
    assert refused.value.code == "not_allowed"


@pytest.mark.parametrize("outcome", ["disputed", "confirmed", "COMPLETED", "", None, 3])
def test_an_unknown_outcome_is_refused_before_any_query(booking, teacher, outcome, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(BookingError) as refused:
        record(booking, outcome, teacher)
    assert refused.value.code == "invalid_outcome"


@pytest.mark.parametrize("end", ["pending", "declined", "cancelled"])
def test_only_a_confirmed_booking_gets_an_outcome(session, student, teacher, set_policy, now, end):
    set_policy(approval_mode="manual", request_ttl_hours=None)
    booking = services.book_seat(student, session, now=now)
    if end == "declined":
        services.decline_booking(booking, actor=teacher, now=now)
    elif end == "cancelled":
        services.cancel_booking(booking, actor=student, now=now)
    with pytest.raises(InvalidTransition) as refused:
        record(booking, "completed", teacher)
    assert refused.value.code == "invalid_transition"
    assert refused.value.params == {"from": end, "to": "completed"}


# --- the window ---------------------------------------------------------------------------------------


def test_the_window_opens_at_the_start(booking, teacher):
    with pytest.raises(BookingError) as refused:
        record(booking, "completed", teacher, now=booking.start_at_utc - dt.timedelta(microseconds=1))
    assert refused.value.code == "session_not_started"
    record(booking, "completed", teacher, now=booking.start_at_utc)
    assert status(booking) == "completed"


def test_the_window_closes_the_window_hours_after_the_end(booking, teacher, student):
    closes = booking.end_at_utc + dt.timedelta(hours=72)
    record(booking, "completed", teacher, now=closes)
    with pytest.raises(BookingError) as refused:
        record(booking, "teacher_no_show", student, now=closes + dt.timedelta(microseconds=1))
    assert (refused.value.code, refused.value.params) == ("outcome_window_closed", {"hours": 72})
    assert "72 hours" in str(refused.value)
    assert status(booking) == "completed"


def test_the_window_is_a_setting(group, teacher, settings):
    settings.LIVECLASS_BOOKING = {"OUTCOME_WINDOW_HOURS": 2}
    with pytest.raises(BookingError) as refused:
        record(group, "completed", teacher, now=group.end_at_utc + 2 * HOUR + dt.timedelta(seconds=1))
    assert refused.value.params == {"hours": 2}
    record(group, "completed", teacher, now=group.end_at_utc + 2 * HOUR)


def test_a_stale_instance_is_judged_on_the_stored_status(booking, teacher, student):
    stale = get_booking_model().objects.get(pk=booking.pk)
    record(booking, "completed", teacher)
    assert stale.status == "confirmed"
    record(stale, "teacher_no_show", student)  # against the teacher's stored account: a dispute
    assert stale.status == status(booking) == "disputed"
    older = get_booking_model().objects.get(pk=booking.pk)
    record(booking, "no_show", services.SYSTEM)
    with pytest.raises(InvalidTransition) as refused:
        record(older, "completed", teacher)  # the instance says disputed; stored: the system's no_show
    assert refused.value.params == {"from": "no_show", "to": "completed"}
    assert older.status == "disputed"


# --- every refusal writes nothing and leaves the objects as they were -----------------------------------


REFUSALS = {
    "invalid_outcome": lambda b, t, s, m: (b, t, {"outcome": "disputed"}),
    "invalid_note": lambda b, t, s, m: (b, t, {"note": "a\x00b"}),
    "session_not_started": lambda b, t, s, m: (b, t, {"now": b.start_at_utc - HOUR}),
    "outcome_window_closed": lambda b, t, s, m: (b, t, {"now": b.end_at_utc + dt.timedelta(hours=73)}),
    "not_allowed": lambda b, t, s, m: (b, s, {"outcome": "completed"}),
    "same_again": lambda b, t, s, m: (record(b, "completed", t), t, {}),
    "disputed": lambda b, t, s, m: (record(record(b, "completed", t), "teacher_no_show", s), t, {}),
    "managers_outcome": lambda b, t, s, m: (record(b, "no_show", m), t, {}),
}
CODES = {"invalid_note": "invalid_text", "same_again": "invalid_transition", "disputed": "invalid_transition",
         "managers_outcome": "invalid_transition"}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refusal_writes_nothing_and_leaves_the_objects_as_they_were(booking, teacher, student, manager, case,
                                                                      outcomes, django_capture_on_commit_callbacks):
    target, actor, kwargs = REFUSALS[case](booking, teacher, student, manager)
    target = get_booking_model().objects.select_related("session").get(pk=target.pk)
    before, cached_before, events = fields(target), related(target), BookingEvent.objects.count()
    sent = list(outcomes)
    kwargs = {"outcome": "completed", **kwargs}
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(BookingError) as refused:
        record(target, kwargs.pop("outcome"), actor, **kwargs)
    assert refused.value.code == CODES.get(case, case)
    assert fields(target) == before == stored(target)
    assert related(target) == cached_before
    assert BookingEvent.objects.count() == events
    assert outcomes == sent


def test_a_refused_pending_booking_is_left_as_it_was(session, student, teacher, set_policy, now, outcomes):
    set_policy(approval_mode="manual", request_ttl_hours=None)
    booking = services.book_seat(student, session, now=now)
    booking = get_booking_model().objects.select_related("session").get(pk=booking.pk)
    before, events = fields(booking), BookingEvent.objects.count()
    with pytest.raises(InvalidTransition):
        record(booking, "no_show", teacher)
    assert fields(booking) == before == stored(booking)
    assert BookingEvent.objects.count() == events and outcomes == []


# --- the sweep ----------------------------------------------------------------------------------------


def test_the_sweep_completes_confirmed_bookings_once_the_window_closed(make_session, make_user, teacher, set_policy,
                                                                       now, outcomes,
                                                                       django_capture_on_commit_callbacks):
    set_policy(approval_mode="manual", request_ttl_hours=None)
    early, late = make_session(capacity=4), make_session(capacity=4)
    confirmed = [services.book_seat(make_user(), early, now=now) for _ in range(3)]
    for booking in confirmed:
        services.confirm_booking(booking, actor=teacher, now=now)
    recorded = confirmed.pop()
    record(recorded, "no_show", teacher)
    pending = services.book_seat(make_user(), early, now=now)
    later_one = services.book_seat(make_user(), late, now=now)
    services.confirm_booking(later_one, actor=teacher, now=now)
    closes = early.end_at_utc + dt.timedelta(hours=72)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.process_due(now=closes)["completed"] == 0  # exactly at the end of the window: not yet
        counts = services.process_due(now=closes + dt.timedelta(microseconds=1))
    assert counts["completed"] == 2
    assert [status(b) for b in confirmed] == ["completed", "completed"]
    # A request left pending expired at the start: nothing but a confirmed booking is completed.
    assert (status(recorded), status(pending), status(later_one)) == ("no_show", "expired", "confirmed")
    assert sorted(outcomes) == sorted((b.pk, "completed", "completed") for b in confirmed)
    for booking in confirmed:
        assert history(booking) == [("completed", None, {"status": "completed", "outcome": "completed",
                                                         "automatic": True})]
    early.refresh_from_db()
    assert early.seats_taken == 3  # the three outcomes keep their seats
    assert_all()


def test_the_sweep_is_idempotent(lesson, outcomes, django_capture_on_commit_callbacks):
    after = lesson.end_at_utc + dt.timedelta(hours=73)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.process_due(now=after)["completed"] == 1
        assert services.process_due(now=after)["completed"] == 0
    assert status(lesson) == "completed" and len(outcomes) == 1
    assert len(history(lesson)) == 1
    lesson.session.refresh_from_db()
    assert lesson.session.status == "scheduled"  # a lesson that took place keeps its session
    with pytest.raises(BookingError) as refused:
        record(lesson, "no_show", services.SYSTEM, now=after)
    assert refused.value.code == "outcome_window_closed"


def test_the_sweep_works_through_more_bookings_than_one_chunk(make_session, make_user, now, monkeypatch):
    from django_liveclass_booking.services._engine import outcomes as engine

    monkeypatch.setattr(engine, "CHUNK_SIZE", 2)
    sessions = [make_session(capacity=3) for _ in range(3)]
    bookings = [services.book_seat(make_user(), s, now=now) for s in sessions for _ in range(2)]
    after = sessions[-1].end_at_utc + dt.timedelta(hours=73)
    assert services.process_due(now=after)["completed"] == 6
    assert {status(b) for b in bookings} == {"completed"}
    assert services.process_due(now=after)["completed"] == 0
    assert_all()
