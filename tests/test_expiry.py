"""Pending requests expire at their ttl or start: lazily, and in the process_due sweep."""

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import SessionFull
from django_liveclass_booking.models import BookingStatus, SessionStatus, get_booking_model

from .invariants import assert_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def manual(set_policy):
    return set_policy(approval_mode="manual", request_ttl_hours=6)


def status(booking):
    return get_booking_model().objects.get(pk=booking.pk).status


def test_process_due_expires_requests_and_gives_seats_back(make_session, make_user, manual, now, signal_log,
                                                           django_capture_on_commit_callbacks):
    session = make_session(capacity=2)
    requests = [services.book_seat(make_user(), session, now=now) for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.process_due(now=now + dt.timedelta(hours=5, minutes=59))["expired_requests"] == 0
        counts = services.process_due(now=now + dt.timedelta(hours=6))
    assert counts == {"expired_requests": 2, "expired_offers": 0, "offers_made": 0,
                      "expired_reschedules": 0, "completed": 0,
                      "notifications_sent": 0, "idempotency_keys_deleted": 0}
    assert [status(b) for b in requests] == ["expired", "expired"]
    session.refresh_from_db()
    assert session.seats_taken == 0
    assert signal_log.names[-2:] == ["booking_expired", "booking_expired"]
    assert_all()


def test_process_due_is_idempotent(make_session, make_user, manual, now):
    session = make_session(capacity=3)
    services.book_seat(make_user(), session, now=now)
    later = now + dt.timedelta(days=1)
    assert services.process_due(now=later)["expired_requests"] == 1
    assert services.process_due(now=later)["expired_requests"] == 0
    assert_all()


def test_process_due_leaves_confirmed_and_undue_bookings_alone(make_session, make_user, teacher, manual, now):
    session = make_session(capacity=3)
    confirmed = services.book_seat(make_user(), session, now=now)
    services.confirm_booking(confirmed, actor=teacher, now=now)
    fresh = services.book_seat(make_user(), session, now=now + dt.timedelta(hours=5))
    services.process_due(now=now + dt.timedelta(hours=7))
    assert (status(confirmed), status(fresh)) == ("confirmed", "pending")


def test_a_full_session_gives_an_expired_requests_seat_to_a_newcomer_before_the_sweep(make_session, make_user,
                                                                                   manual, set_policy, now):
    session = make_session(capacity=1)
    stale = services.book_seat(make_user(), session, now=now)
    newcomer = make_user()
    with pytest.raises(SessionFull):
        services.book_seat(newcomer, session, now=now + dt.timedelta(hours=1))
    booking = services.book_seat(newcomer, session, now=now + dt.timedelta(hours=6))
    assert booking.status == BookingStatus.PENDING
    assert status(stale) == BookingStatus.EXPIRED
    assert_all()


def test_a_student_may_book_again_once_their_own_request_expired(session, student, manual, now):
    services.book_seat(student, session, now=now)
    again = services.book_seat(student, session, now=now + dt.timedelta(hours=6))
    assert again.status == BookingStatus.PENDING
    assert_all()


def test_a_request_expires_at_the_session_start_when_that_comes_first(make_session, student, set_policy, now):
    set_policy(approval_mode="manual", request_ttl_hours=None)
    session = make_session(start=now + dt.timedelta(hours=3))
    booking = services.book_seat(student, session, now=now)
    assert booking.expires_at == session.start_at_utc
    assert services.process_due(now=session.start_at_utc)["expired_requests"] == 1


def test_expired_lessons_cancel_their_session(teacher, student, set_policy, now, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    set_policy(approval_mode="manual", request_ttl_hours=1)
    booking = services.request_lesson(student, teacher, start=now + dt.timedelta(days=2), duration=30, now=now)
    services.process_due(now=now + dt.timedelta(hours=2))
    booking.session.refresh_from_db()
    assert (status(booking), booking.session.status, booking.session.seats_taken) == ("expired", "cancelled", 0)


def test_process_due_handles_more_sessions_than_one_batch(make_session, make_user, manual, now, monkeypatch):
    from django_liveclass_booking.services import jobs

    monkeypatch.setattr(jobs, "BATCH_SIZE", 2)
    sessions = [make_session(capacity=2) for _ in range(5)]
    for session in sessions:
        services.book_seat(make_user(), session, now=now)
    assert services.process_due(now=now + dt.timedelta(days=1))["expired_requests"] == 5
    assert_all()


def test_the_process_command_prints_what_it_did(make_session, make_user, manual, now):
    services.book_seat(make_user(), make_session(), now=now)
    later = (now + dt.timedelta(days=1)).isoformat()
    out = io.StringIO()
    call_command("liveclass_booking", "process", "--now", later, stdout=out)
    assert out.getvalue() == ("Expired 1 request, 0 offers and 0 reschedule proposals; made 0 offers; "
                              "completed 0 lessons; sent 0 notifications.\n")
    services.book_seat(make_user(), make_session(), now=now)
    out = io.StringIO()
    call_command("liveclass_booking", "process", "--now", later, "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"expired_offers": 0, "expired_requests": 1, "offers_made": 0,
                                         "expired_reschedules": 0, "completed": 0, "notifications_sent": 0,
                                         "idempotency_keys_deleted": 0}


def test_the_process_command_refuses_a_naive_now():
    with pytest.raises(CommandError, match="UTC offset"):
        call_command("liveclass_booking", "process", "--now", "2026-05-04T09:00:00")


def test_process_due_cost_does_not_grow_per_row(make_session, make_user, manual, now, django_assert_max_num_queries):
    sessions = [make_session(capacity=3) for _ in range(6)]
    for session in sessions:
        for _ in range(3):
            services.book_seat(make_user(), session, now=now)
    # 18 due requests in 6 sessions: a constant per batch (and one look each for lessons to complete and
    # for due reschedule proposals, and one delete of old idempotency keys).
    with django_assert_max_num_queries(15):
        assert services.process_due(now=now + dt.timedelta(days=1))["expired_requests"] == 18
    assert all(s.status == SessionStatus.SCHEDULED for s in sessions)


def test_check_booking_ignores_requests_past_their_expiry(make_session, student, manual, now):
    session = make_session(capacity=1)
    services.book_seat(student, session, now=now)
    later = now + dt.timedelta(hours=6)
    assert services.check_booking(student, session=session, now=now).codes == ["already_booked", "session_full"]
    assert services.check_booking(student, session=session, now=later).allowed
