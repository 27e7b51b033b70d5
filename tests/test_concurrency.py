"""Real threads against the real database (SQLite IMMEDIATE, PostgreSQL, MariaDB): no mocks."""

import datetime as dt
from collections import Counter

import pytest
from django.contrib.auth import get_user_model

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import AlreadyBooked, BookingError, SessionFull
from django_liveclass_booking.models import BookingStatus, get_booking_model

from .invariants import assert_all
from .threads import run_at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def outcome(result):
    return type(result).__name__ if isinstance(result, Exception) else "booked"


def test_30_threads_racing_for_the_last_5_seats_get_exactly_5(make_session, make_user, now):
    session = make_session(capacity=8)
    for _ in range(3):
        services.book_seat(make_user(), session, now=now)
    students = [make_user() for _ in range(30)]

    results = run_at_once(lambda student: services.book_seat(student, session, now=now), students)

    counts = Counter(outcome(r) for r in results)
    assert counts == {"booked": 5, "SessionFull": 25}, counts
    assert all(isinstance(r, SessionFull) and r.code == "session_full" for r in results if isinstance(r, Exception))
    session.refresh_from_db()
    assert session.seats_taken == 8
    assert get_booking_model().objects.filter(session=session, status=BookingStatus.CONFIRMED).count() == 8
    assert_all()


def test_one_student_double_submitting_gets_one_booking(session, student, now):
    results = run_at_once(lambda _: services.book_seat(student, session, now=now), range(10))

    counts = Counter(outcome(r) for r in results)
    assert counts == {"booked": 1, "AlreadyBooked": 9}, counts
    assert all(r.code == "already_booked" for r in results if isinstance(r, AlreadyBooked))
    session.refresh_from_db()
    assert session.seats_taken == 1
    assert_all()


def test_bookings_and_cancellations_at_once_keep_the_counter_exact(make_session, make_user, now):
    session = make_session(capacity=6)
    holders = [make_user() for _ in range(6)]
    bookings = [services.book_seat(user, session, now=now) for user in holders]
    newcomers = [make_user() for _ in range(12)]
    User = get_user_model()

    def act(job):
        kind, obj = job
        if kind == "cancel":
            booking = get_booking_model().objects.get(pk=obj.pk)
            return services.cancel_booking(booking, actor=User.objects.get(pk=booking.student_id), now=now)
        return services.book_seat(obj, session, now=now)

    jobs = [("cancel", b) for b in bookings[:4]] + [("book", u) for u in newcomers]
    results = run_at_once(act, jobs)

    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, SessionFull)]
    booked = sum(1 for (kind, _), r in zip(jobs, results, strict=True) if kind == "book" and outcome(r) == "booked")
    assert 0 <= booked <= 4
    session.refresh_from_db()
    assert session.seats_taken == 2 + booked <= session.capacity
    assert_all()


@pytest.mark.parametrize("policy_exists", [False, True], ids=["first-use", "existing-policy"])
def test_overlapping_sessions_scheduled_at_once_leave_one(teacher, set_policy, now, policy_exists):
    if policy_exists:
        set_policy()
    start = now + dt.timedelta(days=1)
    # Every start lies inside the first hour, so each pair overlaps: one wins, the rest are refused.
    results = run_at_once(
        lambda i: services.schedule_session(teacher, start=start + dt.timedelta(minutes=5 * i), duration=60,
                                            capacity=5, now=now),
        range(8),
    )
    counts = Counter(outcome(r) for r in results)
    assert counts["booked"] == 1 and counts["SlotUnavailable"] == 7, counts


def test_first_use_of_a_teacher_inside_host_transactions_does_not_deadlock(teacher, now):
    # Host code often wraps a request in one transaction (ATOMIC_REQUESTS): the teacher's lock row
    # is then created inside it, by several requests at once.
    from django.db import transaction

    start = now + dt.timedelta(days=1)

    def schedule(i):
        with transaction.atomic():
            return services.schedule_session(teacher, start=start + dt.timedelta(hours=2 * i), duration=60,
                                             capacity=5, now=now)

    results = run_at_once(schedule, range(8))
    assert Counter(outcome(r) for r in results) == {"booked": 8}, [r for r in results if isinstance(r, Exception)]


def test_booking_deciding_and_cancelling_a_session_at_once_never_deadlock(make_session, make_user, teacher,
                                                                          set_policy, now):
    # With one session in the table InnoDB runs the seat claim through the status index, locking
    # that entry before the row, while cancel_session holds the row and then updates the entry.
    set_policy(approval_mode="manual")
    session = make_session(capacity=6)
    held = [services.book_seat(make_user(), session, now=now) for _ in range(6)]
    services.confirm_booking(held[0], actor=teacher, now=now)
    services.confirm_booking(held[1], actor=teacher, now=now)
    User, Booking = get_user_model(), get_booking_model()

    def act(job):
        kind, obj = job
        if kind == "book":
            return services.book_seat(obj, session, now=now)
        if kind == "cancel_session":
            return services.cancel_session(session, actor=teacher, now=now)
        booking = Booking.objects.get(pk=obj.pk)
        if kind == "cancel":
            return services.cancel_booking(booking, actor=User.objects.get(pk=booking.student_id), now=now)
        if kind == "decline":
            return services.decline_booking(booking, actor=teacher, now=now)
        return services.confirm_booking(booking, actor=teacher, now=now)

    jobs = [("cancel", held[0]), ("cancel", held[2]), ("decline", held[3]), ("confirm", held[4]),
            ("decline", held[5]), ("confirm", held[5]), ("cancel_session", None)]
    jobs += [("book", make_user()) for _ in range(6)]
    results = run_at_once(act, jobs)

    unexpected = [r for r in results if isinstance(r, Exception) and not getattr(r, "code", None)]
    assert not unexpected, unexpected
    assert_all()


def test_20_threads_requesting_overlapping_lessons_get_exactly_one(teacher, make_user, now, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    start = now + dt.timedelta(days=2)
    students = [make_user() for _ in range(20)]

    # Every request overlaps every other (starts within the first 30 minutes of a 60-minute lesson).
    results = run_at_once(
        lambda pair: services.request_lesson(pair[1], teacher, start=start + dt.timedelta(minutes=pair[0] % 30),
                                             duration=60, now=now),
        list(enumerate(students)),
    )

    counts = Counter(outcome(r) for r in results)
    assert counts == {"booked": 1, "SlotUnavailable": 19}, counts
    assert all(r.code == "teacher_unavailable" for r in results if isinstance(r, Exception))
    assert get_booking_model().objects.count() == 1
    assert_all()


def test_two_sweepers_at_once_expire_each_request_once(make_session, make_user, set_policy, now, signal_log):
    set_policy(approval_mode="manual", request_ttl_hours=1)
    sessions = [make_session(capacity=4) for _ in range(6)]
    for session in sessions:
        for _ in range(4):
            services.book_seat(make_user(), session, now=now)
    signal_log.sent.clear()
    later = now + dt.timedelta(hours=2)

    results = run_at_once(lambda _: services.process_due(now=later), range(4))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r["expired_requests"] for r in results) == 24
    assert signal_log.names.count("booking_expired") == 24
    assert get_booking_model().objects.filter(status="expired").count() == 24
    assert_all()


def test_one_student_booking_many_seats_at_once_stays_within_the_daily_limit(make_session, student, set_policy, now):
    set_policy(max_bookings_per_day=1)
    day = now + dt.timedelta(days=1)
    sessions = [make_session(capacity=5, start=day + dt.timedelta(hours=2 * i)) for i in range(6)]

    results = run_at_once(lambda session: services.book_seat(student, session, now=now), sessions)

    counts = Counter(outcome(r) for r in results)
    assert counts == {"booked": 1, "PolicyViolation": 5}, counts
    assert all(r.codes == ["daily_limit"] for r in results if isinstance(r, Exception))
    assert_all()


def test_booking_joining_and_cancelling_a_full_session_at_once_serves_the_line_in_order(make_session, make_user, now):
    from django_liveclass_booking.models import SessionWaitlist

    session = make_session(capacity=5)
    holders = [services.book_seat(make_user(), session, now=now) for _ in range(5)]
    early = [services.join_waitlist(make_user(), session, now=now) for _ in range(3)]
    User, Booking = get_user_model(), get_booking_model()

    def act(job):
        kind, obj = job
        if kind == "cancel":
            booking = Booking.objects.get(pk=obj.pk)
            return services.cancel_booking(booking, actor=User.objects.get(pk=booking.student_id), now=now)
        # What a client does: book; if full, join the line; if a seat freed up meanwhile, book again.
        for _ in range(5):
            try:
                return services.book_seat(obj, session, now=now)
            except SessionFull:
                try:
                    return services.join_waitlist(obj, session, now=now)
                except BookingError as exc:
                    if exc.code != "seats_available":
                        raise
        raise AssertionError("no answer after five tries")

    jobs = [("cancel", b) for b in holders[:4]] + [("newcomer", make_user()) for _ in range(16)]
    results = run_at_once(act, jobs)

    assert not [r for r in results if isinstance(r, Exception)], [r for r in results if isinstance(r, Exception)]
    assert_all()
    session.refresh_from_db()
    assert session.seats_taken == session.capacity == 5
    # Four seats were freed while three early students waited: all three got offers, before anyone
    # who joined later; the fourth seat went to the next in line or to a newcomer only if nobody waited.
    statuses = {e.pk: e.status for e in SessionWaitlist.objects.filter(session=session)}
    assert [statuses[e.pk] for e in early] == ["offered"] * 3
    line = list(SessionWaitlist.objects.filter(session=session).order_by("position", "pk"))
    served = [e.status == "offered" for e in line]
    assert served == sorted(served, reverse=True), "someone who joined later was offered a seat first"
    booked_newcomers = Booking.objects.filter(session=session, status="confirmed").exclude(
        pk__in=[b.pk for b in holders]).count()
    assert booked_newcomers + sum(served) == 4


def test_several_sweepers_expire_each_offer_once_and_never_offer_a_seat_twice(make_session, make_user, now, signal_log):
    from django_liveclass_booking.models import SessionWaitlist

    sessions = [make_session(capacity=1) for _ in range(5)]
    for session in sessions:
        holder = services.book_seat(make_user(), session, now=now)
        for _ in range(3):
            services.join_waitlist(make_user(), session, now=now)
        services.cancel_booking(holder, actor=holder.student, now=now)  # first in line gets an offer
    signal_log.sent.clear()
    later = now + dt.timedelta(minutes=61)

    results = run_at_once(lambda _: services.process_due(now=later), range(4))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r["expired_offers"] for r in results) == 5
    assert sum(r["offers_made"] for r in results) == 5
    assert signal_log.names.count("waitlist_seat_offered") == 5
    for session in sessions:
        statuses = list(SessionWaitlist.objects.filter(session=session).order_by("position")
                        .values_list("status", flat=True))
        assert statuses == ["expired", "offered", "waiting"]
    assert_all()


def test_students_racing_for_the_same_weekly_slots_never_double_book_the_teacher(teacher, make_user, now, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    start = now + dt.timedelta(days=3)
    students = [make_user() for _ in range(6)]

    results = run_at_once(
        lambda student: services.create_series(student, teacher, first_start=start, duration=60,
                                               rrule="FREQ=WEEKLY;COUNT=5", timezone="UTC", now=now),
        students,
    )

    counts = Counter(outcome(r) for r in results)
    assert counts == {"booked": 1, "PolicyViolation": 5}, counts
    assert get_booking_model().objects.count() == 5
    assert_all()
