"""A teacher changes a whole class: a new time for it and its bookings, or a title, seats and meeting details."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.models import BookingEvent, SessionWaitlist, get_booking_model

from .invariants import assert_all
from .test_move_seat import Recorder, assert_refused, committed, stored

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@pytest.fixture
def sent() -> Any:
    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.fixture
def lesson(student: Any, teacher: Any, now: dt.datetime, settings: Any) -> Any:
    """A confirmed 1:1 lesson's session."""
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    booking = services.request_lesson(student, teacher, start=now + 3 * DAY, duration=60, now=now)
    if booking.status == "pending":
        services.confirm_booking(booking, actor=teacher, now=now)
    return booking.session


# --- reschedule_session ----------------------------------------------------------------------------


def test_a_class_moves_with_its_bookings_and_keeps_its_waitlist(make_session, make_user, teacher, set_policy, now,
                                                                 sent):
    set_policy(approval_mode="manual", request_ttl_hours=None)
    session = make_session(capacity=2)
    pending = services.book_seat(make_user(), session, now=now)
    confirmed = services.book_seat(make_user(), session, now=now)
    services.confirm_booking(confirmed, actor=teacher, now=now)
    waiting = make_user()
    services.join_waitlist(waiting, session, now=now)
    old_start, old_end = session.start_at_utc, session.end_at_utc
    start = now + 3 * DAY

    committed(lambda: services.reschedule_session(session, start=start, duration=90, actor=teacher, now=now))

    row = stored(session)
    assert (row.start_at_utc, row.end_at_utc, row.duration_minutes) == (start, start + 90 * dt.timedelta(minutes=1),
                                                                       90)
    assert (session.start_at_utc, session.end_at_utc) == (row.start_at_utc, row.end_at_utc)
    for booking in (pending, confirmed):
        b = stored(booking)
        assert (b.start_at_utc, b.end_at_utc, b.session_id) == (row.start_at_utc, row.end_at_utc, session.pk)
        event = BookingEvent.objects.filter(booking_id=booking.pk).order_by("pk").last()
        assert event.kind == "rescheduled" and event.actor_id == teacher.pk
    assert stored(pending).status == "pending" and stored(pending).expires_at == start
    assert SessionWaitlist.objects.get(student=waiting).status == "waiting"
    assert sent.names == ["booking_rescheduled", "booking_rescheduled", "session_rescheduled"]
    assert sent.sent[-1][1]["previous_start"] == old_start and sent.sent[-1][1]["previous_end"] == old_end
    assert {kw["booking"].pk for _, kw in sent.sent[:2]} == {pending.pk, confirmed.pk}
    assert_all()


def test_an_earlier_start_cuts_pending_expiries_and_offers(make_session, make_user, teacher, set_policy, now):
    set_policy(approval_mode="manual", request_ttl_hours=48, waitlist_offer_ttl_minutes=24 * 60)
    session = make_session(capacity=2, start=now + 3 * DAY)
    request = services.book_seat(make_user(), session, now=now)
    holder = services.book_seat(make_user(), session, now=now)
    services.confirm_booking(holder, actor=teacher, now=now)
    waiting = make_user()
    services.join_waitlist(waiting, session, now=now)
    services.cancel_booking(holder, actor=teacher, now=now)  # the seat is offered for a day
    start = now + 6 * HOUR

    services.reschedule_session(session, start=start, actor=teacher, now=now)

    assert stored(request).expires_at == start
    assert SessionWaitlist.objects.get(student=waiting).offer_expires_at == start
    assert_all()


def test_a_later_start_extends_an_expiry_that_was_the_old_start(make_session, make_user, teacher, set_policy, now):
    set_policy(approval_mode="manual", request_ttl_hours=72)
    session = make_session(capacity=2, start=now + DAY)
    request = services.book_seat(make_user(), session, now=now)
    assert request.expires_at == session.start_at_utc
    services.reschedule_session(session, start=now + 5 * DAY, actor=teacher, now=now)
    assert stored(request).expires_at == now + 72 * HOUR
    assert_all()


def test_subscriptions_follow_a_moved_class_into_its_line_and_out_of_it(teacher, make_user, now, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    sessions = services.schedule_recurring_sessions(teacher, first_start=now + 2 * DAY, duration=60, capacity=1,
                                                    rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC", now=now)
    services.book_seat(make_user(), sessions[0], now=now)  # the first class is full
    subscriber = make_user()
    series = services.subscribe_to_recurring_sessions(subscriber, sessions[0].recurrence_key, now=now)
    waiting_item, booked_item = series.items.get(index=0), series.items.get(index=1)
    assert (waiting_item.status, booked_item.status) == ("waitlisted", "booked")

    for session in sessions[:2]:
        services.reschedule_session(stored(session), start=session.start_at_utc + 3 * HOUR, actor=teacher, now=now)
    for item, session in ((waiting_item, sessions[0]), (booked_item, sessions[1])):
        item.refresh_from_db()
        assert item.start_at_utc == stored(session).start_at_utc
    # Cancelling the subscription leaves the moved class's line too.
    services.cancel_series(series, actor=subscriber, now=now)
    assert SessionWaitlist.objects.get(session=sessions[0], student=subscriber).status == "left"
    waiting_item.refresh_from_db()
    assert waiting_item.status == "cancelled"
    assert_all()


def test_a_class_that_has_started_is_not_cancelled(make_session, student, teacher, now):
    session = make_session(capacity=3)
    booking = services.book_seat(student, session, now=now)
    during = session.start_at_utc + dt.timedelta(minutes=10)
    assert_refused(lambda: services.cancel_session(stored(session), actor=teacher, now=during), "session_closed",
                   stored(session), booking)
    services.record_outcome(booking, outcome="completed", actor=teacher, now=during)
    assert stored(session).status == "scheduled"
    assert_all()


def test_reschedule_refusals(make_session, make_user, teacher, other_student, lesson, now):
    session = make_session(capacity=2)
    services.book_seat(make_user(), session, now=now)
    other = make_session(start=now + 4 * DAY)
    cases = [
        (lambda: services.reschedule_session(session, start=now + 2 * DAY, actor=other_student, now=now),
         "not_allowed"),
        (lambda: services.reschedule_session(lesson, start=now + 2 * DAY, actor=teacher, now=now), "not_a_lesson"),
        (lambda: services.reschedule_session(session, start=now - HOUR, actor=teacher, now=now), "start_in_past"),
        (lambda: services.reschedule_session(session, start=now + 2 * DAY, duration=25 * 60, actor=teacher,
                                             now=now), "invalid_duration"),
        (lambda: services.reschedule_session(session, start=other.start_at_utc + HOUR / 2, actor=teacher, now=now),
         "teacher_unavailable"),
        (lambda: services.reschedule_session(session, start=now + 2 * DAY, actor=teacher,
                                             now=session.start_at_utc + HOUR / 2), "session_closed"),
    ]
    for call, code in cases:
        assert_refused(call, code, session, lesson)
    services.cancel_session(other, actor=teacher, now=now)
    assert_refused(lambda: services.reschedule_session(other, start=now + 2 * DAY, actor=teacher, now=now),
                   "session_closed", other)


# --- update_session --------------------------------------------------------------------------------


def test_title_link_and_passcode_change_on_a_group_class(make_session, teacher, now, sent):
    session = make_session(capacity=2, title="Old")
    committed(lambda: services.update_session(session, actor=teacher, title="New", meeting_provider="jitsi",
                                              meeting_url="https://meet.example.org/x", meeting_passcode="1234",
                                              now=now))
    row = stored(session)
    assert (row.title, row.meeting_provider, row.meeting_url, row.meeting_passcode, row.capacity) == (
        "New", "jitsi", "https://meet.example.org/x", "1234", 2)
    assert session.title == "New" and session.meeting_passcode == "1234"
    assert sent.names == ["session_updated"]
    assert not BookingEvent.objects.filter(kind__in=["rescheduled", "moved"]).exists()
    assert_all()


def test_a_confirmed_lesson_gets_its_link(lesson, teacher, now):
    events = BookingEvent.objects.count()
    services.update_session(lesson, actor=teacher, meeting_url="https://meet.example.org/lesson", title="1:1", now=now)
    row = stored(lesson)
    assert (row.meeting_url, row.title, row.capacity) == ("https://meet.example.org/lesson", "1:1", 1)
    assert BookingEvent.objects.count() == events
    assert_all()


def test_more_seats_go_to_the_waiting_students_in_the_same_call(make_session, make_user, teacher, now, sent):
    session = make_session(capacity=1)
    services.book_seat(make_user(), session, now=now)
    first, second, third = make_user(), make_user(), make_user()
    for who in (first, second, third):
        services.join_waitlist(who, session, now=now)

    committed(lambda: services.update_session(session, actor=teacher, capacity=3, now=now))

    statuses = {e.student_id: e.status for e in SessionWaitlist.objects.filter(session=session)}
    assert statuses == {first.pk: "offered", second.pk: "offered", third.pk: "waiting"}
    assert (session.capacity, session.seats_taken) == (3, 3) == (stored(session).capacity, stored(session).seats_taken)
    assert sent.names == ["session_updated", "waitlist_seat_offered", "waitlist_seat_offered"]
    assert_all()


def test_capacity_may_go_down_to_exactly_the_seats_taken(make_session, make_user, teacher, now):
    session = make_session(capacity=5)
    for _ in range(3):
        services.book_seat(make_user(), session, now=now)
    services.update_session(session, actor=teacher, capacity=3, now=now)
    assert stored(session).capacity == 3 and session.seats_taken == 3
    assert_all()


def test_nothing_to_change_writes_and_sends_nothing(make_session, teacher, now, sent):
    session = make_session()
    before = stored(session).modified
    committed(lambda: services.update_session(session, actor=teacher, now=now))
    assert sent.names == [] and stored(session).modified == before


def test_update_refusals(make_session, make_user, teacher, other_student, lesson, now):
    session = make_session(capacity=3)
    services.book_seat(make_user(), session, now=now)
    services.book_seat(make_user(), session, now=now)
    cases = [
        (lambda: services.update_session(session, actor=other_student, title="x", now=now), "not_allowed"),
        (lambda: services.update_session(session, actor=teacher, capacity=1, now=now), "capacity_below_taken"),
        (lambda: services.update_session(session, actor=teacher, capacity=0, now=now), "invalid_capacity"),
        (lambda: services.update_session(lesson, actor=teacher, capacity=2, now=now), "not_a_group_session"),
        (lambda: services.update_session(session, actor=teacher, meeting_passcode="x" * 129, now=now), "invalid_text"),
        (lambda: services.update_session(session, actor=teacher, meeting_url="not a url", now=now),
         "invalid_session"),
    ]
    for call, code in cases:
        error = assert_refused(call, code, session, lesson)
        if code == "capacity_below_taken":
            assert error.params["taken"] == 2
    services.cancel_session(session, actor=teacher, now=now)
    cancelled = get_booking_model().objects.filter(session=session).first().session
    assert_refused(lambda: services.update_session(cancelled, actor=teacher, title="x", now=now), "session_closed",
                   cancelled)
