"""Rescheduling 1:1 lessons: proposals, answers, expiry, and every refusal writing nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Model

from django_liveclass_booking import services, signals
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import (
    BookingEvent,
    BookingSeriesItem,
    RescheduleRequest,
    get_booking_model,
    get_session_model,
)

from .invariants import assert_all

pytestmark = pytest.mark.django_db

UTC = dt.UTC
#: `now` is Monday 2026-05-04 09:00 UTC; the lesson is on Wednesday at 10:00.
WED = dt.datetime(2026, 5, 6, 10, 0, tzinfo=UTC)
THU = dt.datetime(2026, 5, 7, 10, 0, tzinfo=UTC)
NAMES = ["reschedule_requested", "reschedule_declined", "reschedule_withdrawn", "reschedule_expired",
         "booking_rescheduled"]


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.receivers = []
        for name in NAMES:
            def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
                kwargs.pop("signal", None)
                self.sent.append((_name, kwargs))

            getattr(signals, name).connect(receiver, weak=False)
            self.receivers.append((getattr(signals, name), receiver))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.sent]

    def close(self) -> None:
        for signal, receiver in self.receivers:
            signal.disconnect(receiver)


@pytest.fixture
def log():
    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.fixture
def tutor(teacher):
    """Weekdays 08:00-20:00 UTC, confirms automatically."""
    services.set_policy(teacher, timezone="UTC", request_ttl_hours=48)
    for weekday in range(5):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(20),
                                  timezone="UTC")
    return teacher


@pytest.fixture
def lesson(tutor, student, now):
    return services.request_lesson(student, tutor, start=WED, duration=60, now=now)


@pytest.fixture
def manual(tutor):
    services.set_policy(tutor, approval_mode="manual")
    return tutor


def reload(obj: Model) -> Any:
    return type(obj)._default_manager.get(pk=obj.pk)


def events(booking: Any, kind: str = "rescheduled") -> list[BookingEvent]:
    return list(BookingEvent.objects.filter(booking_id=booking.pk, kind=kind))


# --- Happy paths ------------------------------------------------------------------------------------


def test_student_proposes_and_the_teacher_accepts(manual, lesson, student, now, log,
                                                  django_capture_on_commit_callbacks):
    session_pk = lesson.session_id
    services.confirm_booking(lesson, actor=manual, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        proposal = services.request_reschedule(lesson, start=THU, actor=student, message="Dentist", now=now)
    assert proposal.status == "pending" and proposal.proposed_by_id == student.pk
    assert (proposal.start_at_utc, proposal.end_at_utc) == (THU, THU + dt.timedelta(hours=1))
    assert (proposal.previous_start_at_utc, proposal.previous_end_at_utc) == (WED, WED + dt.timedelta(hours=1))
    # The ttl (48 h) comes before either start.
    assert proposal.expires_at == now + dt.timedelta(hours=48)
    assert reload(lesson).start_at_utc == WED  # a proposal does not move the lesson
    assert log.names == ["reschedule_requested"]

    later = now + dt.timedelta(hours=1)
    fetched = RescheduleRequest.objects.get(pk=proposal.pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        booking = services.accept_reschedule(fetched, actor=manual, now=later)
        # Nothing is sent before the commit.
        assert log.names == ["reschedule_requested"]
    for callback in callbacks:
        callback()
    assert log.names == ["reschedule_requested", "booking_rescheduled"]
    _, sent = log.sent[-1]
    assert (sent["previous_start"], sent["previous_end"]) == (WED, WED + dt.timedelta(hours=1))
    assert sent["booking"].start_at_utc == THU

    assert (fetched.status, fetched.decided_by_id, fetched.decided_at) == ("accepted", manual.pk, later)
    assert booking.pk == lesson.pk and booking.start_at_utc == THU and booking.status == "confirmed"
    stored = get_booking_model().objects.get(pk=lesson.pk)
    assert (stored.start_at_utc, stored.end_at_utc, stored.status) == (THU, THU + dt.timedelta(hours=1), "confirmed")
    session = get_session_model().objects.get(pk=session_pk)
    assert (session.start_at_utc, session.end_at_utc, session.duration_minutes) == (
        THU, THU + dt.timedelta(hours=1), 60)
    [event] = events(lesson)
    assert event.actor_id == manual.pk
    assert event.data == {"previous_start": WED.isoformat(), "previous_end": (WED + dt.timedelta(hours=1)).isoformat(),
                          "start": THU.isoformat(), "end": (THU + dt.timedelta(hours=1)).isoformat(),
                          "request": proposal.pk}
    assert_all()


def test_teacher_proposes_and_the_student_accepts(tutor, lesson, student, now, log,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        proposal = services.request_reschedule(lesson, start=THU, duration=30, actor=tutor, now=now)
        # Always pending for the student, even with a teacher who confirms automatically.
        assert proposal.status == "pending"
        with pytest.raises(BookingError) as own:
            services.accept_reschedule(proposal, actor=tutor, now=now)
        assert own.value.code == "not_allowed"
        booking = proposal.accept(student, now=now)
    assert proposal.status == "accepted" and proposal.decided_by_id == student.pk
    assert (booking.start_at_utc, booking.end_at_utc) == (THU, THU + dt.timedelta(minutes=30))
    assert reload(lesson.session).duration_minutes == 30
    assert log.names == ["reschedule_requested", "booking_rescheduled"]


def test_a_student_proposal_to_an_automatic_teacher_is_applied_at_once(tutor, lesson, student, now, log,
                                                                       django_capture_on_commit_callbacks):
    lesson = get_booking_model().objects.select_related("session").get(pk=lesson.pk)
    with django_capture_on_commit_callbacks(execute=True):
        proposal = services.request_reschedule(lesson, start=THU, actor=student, now=now)
    assert (proposal.status, proposal.decided_by_id, proposal.decided_at) == ("accepted", student.pk, now)
    assert RescheduleRequest.objects.get(pk=proposal.pk).status == "accepted"
    # The caller's instances show the move.
    assert lesson.start_at_utc == THU and lesson.session.start_at_utc == THU
    assert reload(lesson).start_at_utc == THU
    assert log.names == ["booking_rescheduled"]
    assert len(events(lesson)) == 1


def test_a_manager_may_propose_and_answer(tutor, lesson, make_user, now):
    manager = make_user()
    manager.user_permissions.add(Permission.objects.get(codename="manage_bookings"))
    manager = type(manager).objects.get(pk=manager.pk)
    proposal = services.request_reschedule(lesson, start=THU, actor=manager, now=now)
    assert proposal.status == "pending"
    services.accept_reschedule(proposal, actor=manager, now=now)
    assert reload(lesson).start_at_utc == THU


def test_decline_leaves_the_lesson_and_says_why(manual, lesson, student, now, log,
                                                django_capture_on_commit_callbacks):
    proposal = services.request_reschedule(lesson, start=THU, actor=student, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.decline_reschedule(proposal, actor=manual, reason="Busy", now=now)
    assert result is proposal
    assert (proposal.status, proposal.reason, proposal.decided_by_id) == ("declined", "Busy", manual.pk)
    assert reload(proposal).status == "declined" and reload(proposal).pending_key is None
    assert reload(lesson).start_at_utc == WED and not events(lesson)
    assert log.names == ["reschedule_declined"]
    # Another proposal may follow.
    assert services.request_reschedule(lesson, start=THU, actor=student, now=now).status == "pending"


def test_withdraw_by_whoever_proposed(manual, lesson, student, now, log, django_capture_on_commit_callbacks):
    proposal = services.request_reschedule(lesson, start=THU, actor=student, now=now)
    with pytest.raises(BookingError) as other:
        services.withdraw_reschedule(proposal, actor=manual, now=now)
    assert other.value.code == "not_allowed"
    with django_capture_on_commit_callbacks(execute=True):
        proposal.withdraw(student, now=now)
    assert (proposal.status, proposal.decided_by_id) == ("withdrawn", student.pk)
    assert reload(proposal).status == "withdrawn"
    assert log.names == ["reschedule_withdrawn"]


def test_a_due_proposal_is_refused_lazily_and_expired_by_process_due(manual, lesson, student, now, log,
                                                                     django_capture_on_commit_callbacks):
    proposal = services.request_reschedule(lesson, start=THU, actor=student, now=now)
    due = proposal.expires_at
    with pytest.raises(BookingError) as late:
        services.accept_reschedule(proposal, actor=manual, now=due)
    assert late.value.code == "reschedule_expired"
    assert reload(proposal).status == "pending"  # a refusal writes nothing: the sweep marks it
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.process_due(now=due - dt.timedelta(seconds=1))
    assert counts["expired_reschedules"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.process_due(now=due)
    assert counts["expired_reschedules"] == 1
    assert reload(proposal).status == "expired"
    assert log.names == ["reschedule_expired"]
    assert services.process_due(now=due)["expired_reschedules"] == 0


def test_a_proposal_expires_at_the_earlier_start(tutor, lesson, student, now):
    services.set_policy(tutor, request_ttl_hours=None)
    earlier = dt.datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
    proposal = services.request_reschedule(lesson, start=earlier, actor=tutor, now=now)
    assert proposal.expires_at == earlier
    proposal.withdraw(tutor, now=now)
    later = services.request_reschedule(lesson, start=THU, actor=tutor, now=now)
    assert later.expires_at == WED  # never acceptable once the lesson has started


def test_a_due_pending_proposal_makes_way_for_a_new_one(manual, lesson, student, now, log,
                                                        django_capture_on_commit_callbacks):
    services.confirm_booking(lesson, actor=manual, now=now)
    first = services.request_reschedule(lesson, start=THU, actor=student, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        second = services.request_reschedule(lesson, start=THU + dt.timedelta(hours=2), actor=student,
                                             now=first.expires_at)
    assert reload(first).status == "expired" and second.status == "pending"
    assert log.names == ["reschedule_expired", "reschedule_requested"]


def test_a_pending_booking_is_rescheduled_and_stays_pending(manual, student, now):
    services.set_policy(manual, request_ttl_hours=None)
    booking = services.request_lesson(student, manual, start=WED, duration=60, now=now)
    assert booking.status == "pending" and booking.expires_at == WED
    proposal = services.request_reschedule(booking, start=THU, actor=manual, now=now)
    moved = services.accept_reschedule(proposal, actor=student, now=now)
    stored = reload(booking)
    assert moved.status == stored.status == "pending"
    # Its expiry was its start: it follows the start.
    assert stored.expires_at == THU and stored.start_at_utc == THU
    services.confirm_booking(stored, actor=manual, now=now)


def test_a_pending_booking_keeps_an_expiry_that_did_not_depend_on_its_start(manual, student, now):
    booking = services.request_lesson(student, manual, start=WED, duration=60, now=now)
    assert booking.expires_at == now + dt.timedelta(hours=48)
    proposal = services.request_reschedule(booking, start=THU, actor=manual, now=now)
    proposal.accept(student, now=now)
    assert reload(booking).expires_at == now + dt.timedelta(hours=48)


def test_a_series_occurrence_is_rescheduled_like_any_lesson(tutor, student, now):
    series = services.create_series(student, tutor, first_start=WED, duration=60, rrule="FREQ=WEEKLY;COUNT=3",
                                    timezone="UTC", now=now)
    item = series.items.order_by("index").first()
    booking = item.booking
    proposal = services.request_reschedule(booking, start=THU, actor=tutor, now=now)
    services.accept_reschedule(proposal, actor=student, now=now)
    item = BookingSeriesItem.objects.get(pk=item.pk)
    assert item.booking_id == booking.pk
    assert (item.start_at_utc, item.end_at_utc) == (THU, THU + dt.timedelta(hours=1))
    assert reload(booking).start_at_utc == THU
    assert_all()


def test_the_moved_lesson_does_not_stand_in_its_own_way(tutor, lesson, student, now):
    services.set_policy(tutor, buffer_minutes=30, max_bookings_per_day=1)
    half_hour_later = WED + dt.timedelta(minutes=30)
    proposal = services.request_reschedule(lesson, start=half_hour_later, actor=tutor, now=now)
    services.accept_reschedule(proposal, actor=student, now=now)
    assert reload(lesson).start_at_utc == half_hour_later


def test_a_student_may_reschedule_late_when_late_cancellation_is_allowed(manual, lesson, student, now):
    services.set_policy(manual, cancellation_cutoff_hours=72, allow_late_cancellation=True)
    proposal = services.request_reschedule(lesson, start=THU, actor=student, now=now)
    assert proposal.status == "pending"


def test_a_move_adds_no_pending_request(manual, lesson, student, now):
    services.confirm_booking(lesson, actor=manual, now=now)
    services.request_lesson(student, manual, start=WED + dt.timedelta(hours=3), duration=60, now=now)
    services.set_policy(manual, max_pending_requests=1)
    assert services.request_reschedule(lesson, start=THU, actor=student, now=now).status == "pending"


# --- Refusals: each writes nothing and leaves the objects passed in as they were ------------------


def fields(obj: Model) -> dict[str, Any]:
    return {f.attname: obj.__dict__[f.attname] for f in obj._meta.concrete_fields if f.attname in obj.__dict__}


def snapshot(*objs: Model) -> Any:
    counts = (RescheduleRequest.objects.count(), BookingEvent.objects.count(), get_session_model().objects.count(),
              get_booking_model().objects.count())
    rows = [(type(o), o.pk, fields(type(o)._default_manager.get(pk=o.pk))) for o in objs if o.pk is not None]
    stored = {(type(o), o.pk): fields(type(o)._default_manager.get(pk=o.pk)) for o in objs if o.pk is not None}
    return counts, rows, stored, [(fields(o), {k: fields(v) for k, v in o._state.fields_cache.items()
                                               if isinstance(v, Model)}) for o in objs]


def refused(call: Callable[[], Any], code: str, *objs: Model) -> BookingError:
    before = snapshot(*objs)
    with pytest.raises(BookingError) as exc:
        call()
    codes = [v.code for v in getattr(exc.value, "violations", [])] or [exc.value.code]
    assert code in codes, (code, codes)
    assert snapshot(*objs) == before
    return exc.value


def loaded(booking: Any) -> Any:
    return get_booking_model().objects.select_related("session").get(pk=booking.pk)


def test_request_refusals_of_the_arguments(tutor, lesson, student, other_student, make_session, now):
    booking = loaded(lesson)
    refused(lambda: services.request_reschedule(None, start=THU, actor=student, now=now), "invalid_booking")
    group = services.book_seat(student, make_session(capacity=3), now=now)
    refused(lambda: services.request_reschedule(group, start=THU, actor=student, now=now), "not_a_lesson", group)
    refused(lambda: services.request_reschedule(booking, start=THU.replace(tzinfo=None), actor=student, now=now),
            "naive_datetime", booking)
    refused(lambda: services.request_reschedule(booking, start=THU, duration=0, actor=student, now=now),
            "invalid_duration", booking)
    refused(lambda: services.request_reschedule(booking, start=THU, message="a\x00b", actor=student, now=now),
            "invalid_text", booking)
    refused(lambda: services.request_reschedule(booking, start=THU, actor=other_student, now=now),
            "not_allowed", booking)
    refused(lambda: services.request_reschedule(booking, start=THU, actor=None, now=now), "not_allowed", booking)


def test_a_proposal_of_the_lessons_own_time_is_refused(tutor, lesson, student, now):
    booking = loaded(lesson)
    refused(lambda: services.request_reschedule(booking, start=booking.start_at_utc, actor=student, now=now),
            "same_time", booking)
    # The same start with another length is a change.
    services.request_reschedule(booking, start=booking.start_at_utc, duration=30, actor=student, now=now)
    assert reload(booking).end_at_utc == booking.start_at_utc + dt.timedelta(minutes=30)


def test_request_refusals_of_the_booking_state(manual, lesson, student, now):
    services.confirm_booking(lesson, actor=manual, now=now)
    services.set_policy(manual, cancellation_cutoff_hours=72, allow_late_cancellation=False)
    booking = loaded(lesson)
    refused(lambda: services.request_reschedule(booking, start=THU, actor=student, now=now),
            "cancellation_window", booking)
    # The teacher is not bound by the cutoff.
    services.set_policy(manual, cancellation_cutoff_hours=0)
    refused(lambda: services.request_reschedule(booking, start=THU, actor=student, now=WED),
            "session_closed", booking)
    proposal = services.request_reschedule(booking, start=THU, actor=student, now=now)
    refused(lambda: services.request_reschedule(booking, start=THU + dt.timedelta(hours=1), actor=manual, now=now),
            "reschedule_pending", booking, proposal)
    proposal.withdraw(student, now=now)
    services.cancel_booking(booking, actor=student, now=now)
    refused(lambda: services.request_reschedule(booking, start=THU, actor=student, now=now),
            "invalid_transition", booking)


def test_request_refusals_of_a_pending_booking_past_its_expiry(manual, student, now):
    booking = services.request_lesson(student, manual, start=WED, duration=60, now=now)
    refused(lambda: services.request_reschedule(booking, start=THU, actor=manual, now=booking.expires_at),
            "invalid_transition", booking)


TUE = dt.datetime(2026, 5, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("policy", "start", "duration", "code"), [
    ({}, dt.datetime(2026, 5, 6, 21, 0, tzinfo=UTC), None, "outside_availability"),
    ({}, dt.datetime(2026, 5, 9, 10, 0, tzinfo=UTC), None, "outside_availability"),  # a Saturday
    ({"min_notice_minutes": 60 * 24 * 3}, WED + dt.timedelta(hours=2), None, "min_notice"),
    ({"max_advance_days": 2}, THU, None, "max_advance"),
    ({"lesson_durations": [60]}, THU, 45, "duration_not_allowed"),
    ({"max_bookings_per_day": 1}, WED + dt.timedelta(hours=3), None, "daily_limit"),
    ({"max_bookings_per_week": 2}, THU, None, "weekly_limit"),
    ({"buffer_minutes": 30}, TUE + dt.timedelta(minutes=75), None, "teacher_unavailable"),
])
def test_a_new_time_that_could_never_be_accepted_is_refused(tutor, lesson, student, now, policy, start, duration,
                                                             code):
    # Other lessons of the same student on Tuesday 10:00 and Wednesday 15:00.
    services.request_lesson(student, tutor, start=TUE, duration=60, now=now)
    services.request_lesson(student, tutor, start=WED + dt.timedelta(hours=5), duration=60, now=now)
    services.set_policy(tutor, **policy)
    booking = loaded(lesson)
    refused(lambda: services.request_reschedule(booking, start=start, duration=duration, actor=tutor, now=now),
            code, booking)
    if code == "weekly_limit":
        return
    # The teacher's own sessions and time off count too.
    if code == "outside_availability":
        services.add_time_off(tutor, start=THU + dt.timedelta(hours=3), end=THU + dt.timedelta(hours=6))
        refused(lambda: services.request_reschedule(booking, start=THU + dt.timedelta(hours=3), actor=tutor,
                                                    now=now), "outside_availability", booking)


def test_the_slot_taken_by_another_lesson_is_refused(tutor, lesson, student, other_student, now):
    services.request_lesson(other_student, tutor, start=THU, duration=60, now=now)
    booking = loaded(lesson)
    refused(lambda: services.request_reschedule(booking, start=THU + dt.timedelta(minutes=30), actor=student,
                                                now=now), "teacher_unavailable", booking)


@pytest.fixture
def pending_proposal(manual, lesson, student, now):
    return services.request_reschedule(lesson, start=THU, actor=student, now=now)


def fetched(proposal: Any) -> Any:
    return RescheduleRequest.objects.select_related("booking__session").get(pk=proposal.pk)


def test_accept_refusals(manual, pending_proposal, student, other_student, now):
    proposal = fetched(pending_proposal)
    refused(lambda: services.accept_reschedule(None, actor=manual, now=now), "invalid_arguments")
    refused(lambda: services.accept_reschedule(proposal, actor=student, now=now), "not_allowed", proposal)
    refused(lambda: services.accept_reschedule(proposal, actor=other_student, now=now), "not_allowed", proposal)
    refused(lambda: services.accept_reschedule(proposal, actor=None, now=now), "not_allowed", proposal)
    refused(lambda: services.accept_reschedule(proposal, actor=manual, now=proposal.expires_at),
            "reschedule_expired", proposal)
    # The rules are checked again: the policy changed meanwhile.
    services.set_policy(manual, lesson_durations=[30])
    refused(lambda: services.accept_reschedule(proposal, actor=manual, now=now), "duration_not_allowed", proposal)
    services.set_policy(manual, lesson_durations=[])
    # The slot was taken meanwhile.
    services.add_time_off(manual, start=THU, end=THU + dt.timedelta(minutes=15))
    refused(lambda: services.accept_reschedule(proposal, actor=manual, now=now), "outside_availability", proposal)


def test_accept_refuses_a_slot_taken_meanwhile(manual, pending_proposal, other_student, now):
    services.set_policy(manual, approval_mode="auto")
    services.request_lesson(other_student, manual, start=THU + dt.timedelta(minutes=30), duration=30, now=now)
    proposal = fetched(pending_proposal)
    refused(lambda: services.accept_reschedule(proposal, actor=manual, now=now), "teacher_unavailable", proposal)


def test_accept_refuses_an_answered_proposal_or_an_inactive_booking(manual, pending_proposal, lesson, student, now):
    proposal = fetched(pending_proposal)
    services.decline_reschedule(fetched(proposal), actor=manual, now=now)
    refused(lambda: services.accept_reschedule(proposal, actor=manual, now=now), "invalid_transition", proposal)
    refused(lambda: services.decline_reschedule(proposal, actor=manual, now=now), "invalid_transition", proposal)
    refused(lambda: services.withdraw_reschedule(proposal, actor=student, now=now), "invalid_transition", proposal)
    again = services.request_reschedule(lesson, start=THU, actor=student, now=now)
    services.cancel_booking(reload(lesson), actor=student, now=now)
    again = fetched(again)
    refused(lambda: services.accept_reschedule(again, actor=manual, now=now), "invalid_transition", again)


def test_decline_and_withdraw_refusals(manual, pending_proposal, student, other_student, now):
    proposal = fetched(pending_proposal)
    refused(lambda: services.decline_reschedule(None, actor=manual, now=now), "invalid_arguments")
    refused(lambda: services.decline_reschedule(proposal, actor=student, now=now), "not_allowed", proposal)
    refused(lambda: services.decline_reschedule(proposal, actor=manual, reason="\x00", now=now), "invalid_text",
            proposal)
    refused(lambda: services.decline_reschedule(proposal, actor=manual, now=proposal.expires_at),
            "reschedule_expired", proposal)
    refused(lambda: services.withdraw_reschedule(proposal, actor=other_student, now=now), "not_allowed", proposal)
    refused(lambda: services.withdraw_reschedule(proposal, actor=student, now=proposal.expires_at),
            "reschedule_expired", proposal)


def test_a_second_pending_proposal_stopped_by_the_constraint_is_reschedule_pending(manual, pending_proposal, lesson,
                                                                                     monkeypatch, now):
    # As if a concurrent proposal had been written after this one looked: the unique constraint answers.
    from django_liveclass_booking.services._engine import reschedule as engine

    monkeypatch.setattr(engine, "expire_pending_of", lambda booking_pk, now: False)
    booking = loaded(lesson)
    refused(lambda: services.request_reschedule(booking, start=THU + dt.timedelta(hours=2), actor=manual, now=now),
            "reschedule_pending", booking, pending_proposal)


def test_system_may_propose_and_answer(tutor, lesson, now, log, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        proposal = services.request_reschedule(lesson, start=THU, actor=services.SYSTEM, now=now)
        assert proposal.status == "pending" and proposal.proposed_by_id is None
        services.accept_reschedule(proposal, actor=services.SYSTEM, now=now)
    assert reload(lesson).start_at_utc == THU
    assert events(lesson)[0].actor_id is None
    assert log.names == ["reschedule_requested", "booking_rescheduled"]


def test_process_due_expires_proposals_in_batches(tutor, make_user, now, monkeypatch, log,
                                                   django_capture_on_commit_callbacks):
    from django_liveclass_booking.services._engine import reschedule as engine

    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    proposals = []
    for hour in range(5):
        booking = services.request_lesson(make_user(), tutor, start=WED + dt.timedelta(hours=hour), duration=60,
                                          now=now)
        proposals.append(services.request_reschedule(booking, start=THU + dt.timedelta(hours=hour), actor=tutor,
                                                     now=now))
    due = max(p.expires_at for p in proposals)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.process_due(now=due)["expired_reschedules"] == 5
    assert set(RescheduleRequest.objects.values_list("status", flat=True)) == {"expired"}
    assert log.names.count("reschedule_expired") == 5
