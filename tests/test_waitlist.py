"""The waitlist: first come, first served; offers hold a seat until accepted, declined or expired."""

import datetime as dt

import pytest
from django.db.models import F

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import AlreadyBooked, BookingError, InvalidTransition, NotAllowed, SessionFull
from django_liveclass_booking.models import SessionWaitlist, WaitlistStatus, get_booking_model, get_session_model

from .invariants import assert_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def full(make_session, make_user, now):
    """A session with 2 seats, both booked."""
    session = make_session(capacity=2)
    holders = [make_user() for _ in range(2)]
    bookings = [services.book_seat(u, session, now=now) for u in holders]
    return session, bookings


@pytest.fixture
def line(full, make_user, now):
    """Three students waiting for the full session, in this order."""
    session, _ = full
    return [services.join_waitlist(make_user(), session, now=now) for _ in range(3)]


def entry(e):
    return SessionWaitlist.objects.get(pk=e.pk)


def seats(session):
    session.refresh_from_db()
    return session.seats_taken


def test_joining_a_full_session_waits_in_order(full, line, signal_log, make_user, now,
                                              django_capture_on_commit_callbacks):
    session, _ = full
    assert [e.position for e in line] == [1, 2, 3]
    assert {e.status for e in line} == {"waiting"}
    with django_capture_on_commit_callbacks(execute=True):
        services.join_waitlist(make_user(), session, now=now)
    assert signal_log.names == ["waitlist_joined"]


def test_a_cancelled_seat_is_offered_to_the_first_in_line(full, line, now, signal_log,
                                                          django_capture_on_commit_callbacks):
    session, bookings = full
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_booking(bookings[0], actor=bookings[0].student, now=now)
    first = entry(line[0])
    assert first.status == WaitlistStatus.OFFERED
    assert first.offer_expires_at == now + dt.timedelta(minutes=60)
    assert [entry(e).status for e in line[1:]] == ["waiting", "waiting"]
    assert seats(session) == 2  # the offer holds the freed seat
    assert signal_log.names == ["booking_cancelled", "waitlist_seat_offered"]
    assert_all()


def test_an_offer_never_outlives_the_session_start(make_session, make_user, set_policy, now):
    set_policy(waitlist_offer_ttl_minutes=600)
    session = make_session(capacity=1, start=now + dt.timedelta(hours=2))
    holder = services.book_seat(make_user(), session, now=now)
    waiting = services.join_waitlist(make_user(), session, now=now)
    services.cancel_booking(holder, actor=holder.student, now=now)
    assert entry(waiting).offer_expires_at == session.start_at_utc


def test_accepting_an_offer_books_the_seat(full, line, now, signal_log, django_capture_on_commit_callbacks):
    session, bookings = full
    services.cancel_booking(bookings[0], actor=bookings[0].student, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        booking = services.accept_offer(entry(line[0]), actor=line[0].student, now=now)
    assert (booking.status, booking.source, booking.student_id) == ("confirmed", "waitlist", line[0].student_id)
    accepted = entry(line[0])
    assert (accepted.status, accepted.booking_id) == ("accepted", booking.pk)
    assert seats(session) == 2
    assert signal_log.names == ["waitlist_offer_accepted", "booking_confirmed"]
    assert_all()


def test_declining_passes_the_seat_to_the_next_and_the_last_decline_returns_it(full, line, now):
    session, bookings = full
    services.cancel_booking(bookings[0], actor=bookings[0].student, now=now)
    for i, e in enumerate(line):
        services.decline_offer(entry(e), actor=e.student, now=now)
        assert entry(e).status == "declined"
        if i + 1 < len(line):
            assert entry(line[i + 1]).status == "offered"
        assert_all()
    assert seats(session) == 1  # nobody left waiting: the seat went back to the pool


def test_an_expired_offer_passes_on_and_the_last_expiry_returns_the_seat(full, line, now, signal_log,
                                                                        django_capture_on_commit_callbacks):
    session, bookings = full
    services.cancel_booking(bookings[0], actor=bookings[0].student, now=now)
    when = now
    for i in range(len(line)):
        when += dt.timedelta(minutes=61)
        with django_capture_on_commit_callbacks(execute=True):
            counts = services.process_due(now=when)
        more = 1 if i + 1 < len(line) else 0
        assert counts == {"expired_requests": 0, "expired_offers": 1, "offers_made": more,
                          "expired_reschedules": 0, "completed": 0,
                      "notifications_sent": 0, "idempotency_keys_deleted": 0}
        assert entry(line[i]).status == "expired"
        assert_all()
    assert seats(session) == 1
    assert signal_log.names.count("waitlist_offer_expired") == 3


def test_an_expired_offer_never_blocks_a_newcomer_before_the_sweep(make_session, make_user, now):
    session = make_session(capacity=1)
    holder = services.book_seat(make_user(), session, now=now)
    waiting = services.join_waitlist(make_user(), session, now=now)
    services.cancel_booking(holder, actor=holder.student, now=now)
    later = now + dt.timedelta(minutes=61)
    booking = services.book_seat(make_user(), session, now=later)
    assert booking.status == "confirmed"
    assert entry(waiting).status == "expired"
    assert_all()


def test_accepting_an_expired_offer_is_refused_and_writes_nothing(full, line, now):
    session, bookings = full
    services.cancel_booking(bookings[0], actor=bookings[0].student, now=now)
    with pytest.raises(BookingError) as exc:
        services.accept_offer(entry(line[0]), actor=line[0].student, now=now + dt.timedelta(minutes=60))
    assert exc.value.code == "offer_expired"
    assert entry(line[0]).status == "offered"
    assert get_booking_model().objects.filter(student_id=line[0].student_id).count() == 0


def test_accepting_someone_elses_offer_is_not_allowed(full, line, now):
    session, bookings = full
    services.cancel_booking(bookings[0], actor=bookings[0].student, now=now)
    with pytest.raises(NotAllowed):
        services.accept_offer(entry(line[0]), actor=line[1].student, now=now)
    assert entry(line[0]).status == "offered"


def test_accepting_without_an_offer_is_an_invalid_transition(line, now):
    with pytest.raises(InvalidTransition):
        services.accept_offer(entry(line[0]), actor=line[0].student, now=now)


def test_a_newcomer_never_takes_a_seat_while_anyone_waits(full, line, make_user, now):
    session, _ = full
    # Capacity raised by staff: a seat is momentarily free while three students wait.
    get_session_model().objects.filter(pk=session.pk).update(capacity=F("capacity") + 1)
    with pytest.raises(SessionFull) as exc:
        services.book_seat(make_user(), session, now=now)
    assert exc.value.params["waitlist"] is True
    assert services.check_booking(make_user(), session=session, now=now).codes == ["session_full"]
    offered = services.offer_seat(entry(line[0]), now=now)
    assert offered.status == "offered"
    assert_all()


def test_offer_seat_refuses_to_skip_the_line(full, line, now):
    session, _ = full
    get_session_model().objects.filter(pk=session.pk).update(capacity=F("capacity") + 1)
    with pytest.raises(BookingError) as exc:
        line[1].offer_seat(now=now)
    assert exc.value.code == "not_first_in_line"


def test_leaving_while_offered_passes_the_seat_on(full, line, now):
    session, bookings = full
    services.cancel_booking(bookings[0], actor=bookings[0].student, now=now)
    services.leave_waitlist(entry(line[0]), actor=line[0].student, now=now)
    assert (entry(line[0]).status, entry(line[1]).status) == ("left", "offered")
    assert_all()


def test_cancelling_the_session_closes_its_waitlist(full, line, teacher, now):
    session, bookings = full
    services.cancel_booking(bookings[0], actor=bookings[0].student, now=now)
    services.cancel_session(session, actor=teacher, now=now)
    assert {entry(e).status for e in line} == {"left"}
    assert_all()


def test_model_methods_expire_and_accept(full, line, now):
    session, bookings = full
    services.cancel_booking(bookings[0], actor=bookings[0].student, now=now)
    with pytest.raises(BookingError) as exc:
        entry(line[0]).expire_offer(now=now)
    assert exc.value.code == "offer_not_due"
    entry(line[0]).expire_offer(now=now + dt.timedelta(minutes=60))
    assert entry(line[1]).status == "offered"
    booking = entry(line[1]).accept_offer(line[1].student, now=now + dt.timedelta(minutes=61))
    assert booking.source == "waitlist"
    assert_all()


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("twice", "already_waitlisted"),
        ("seats_free", "seats_available"),
        ("disabled", "waitlist_disabled"),
        ("booked", "already_booked"),
        ("cancelled", "session_closed"),
    ],
)
def test_bad_joins_get_a_clear_code_and_write_nothing(make_session, make_user, student, teacher, set_policy, now,
                                                     setup, code):
    session = make_session(capacity=1)
    if setup != "seats_free":
        holder = student if setup == "booked" else make_user()
        services.book_seat(holder, session, now=now)
    if setup == "twice":
        services.join_waitlist(student, session, now=now)
    if setup == "disabled":
        set_policy(waitlist_enabled=False)
    if setup == "cancelled":
        services.cancel_session(session, actor=teacher, now=now)
    before = SessionWaitlist.objects.count()
    with pytest.raises(BookingError) as exc:
        services.join_waitlist(student, session, now=now)
    assert exc.value.code == code
    if setup == "booked":
        assert isinstance(exc.value, AlreadyBooked)
    assert SessionWaitlist.objects.count() == before


def test_the_policy_applies_when_joining_the_line(full, student, set_policy, now):
    session, _ = full
    set_policy(min_notice_minutes=3 * 24 * 60)
    with pytest.raises(BookingError) as exc:
        services.join_waitlist(student, session, now=now)
    assert exc.value.code == "min_notice"


def test_check_booking_ignores_offers_past_their_expiry(make_session, make_user, now):
    session = make_session(capacity=1)
    holder = services.book_seat(make_user(), session, now=now)
    services.join_waitlist(make_user(), session, now=now)
    services.cancel_booking(holder, actor=holder.student, now=now)
    newcomer = make_user()
    assert services.check_booking(newcomer, session=session, now=now).codes == ["session_full"]
    assert services.check_booking(newcomer, session=session, now=now + dt.timedelta(minutes=61)).allowed


def test_a_seat_freed_after_the_start_is_not_offered(make_session, make_user, teacher, now, signal_log):
    session = make_session(capacity=1, start=now + dt.timedelta(hours=1))
    holder = services.book_seat(make_user(), session, now=now)
    waiting = services.join_waitlist(make_user(), session, now=now)
    services.cancel_booking(holder, actor=teacher, now=session.start_at_utc + dt.timedelta(minutes=5))
    assert entry(waiting).status == "waiting"
    assert seats(session) == 0


def test_a_student_holding_an_offer_cannot_take_a_second_seat(make_session, make_user, now):
    session = make_session(capacity=2)
    first, second = (services.book_seat(make_user(), session, now=now) for _ in range(2))
    waiting = services.join_waitlist(make_user(), session, now=now)
    services.cancel_booking(first, actor=first.student, now=now)   # the line gets this seat as an offer
    services.cancel_booking(second, actor=second.student, now=now)  # nobody else waits: back to the pool
    with pytest.raises(BookingError) as exc:
        services.book_seat(waiting.student, session, now=now)
    assert exc.value.code == "offer_pending"
    booking = services.accept_offer(entry(waiting), actor=waiting.student, now=now)
    assert booking.status == "confirmed" and seats(session) == 1
    assert_all()
