"""Races, each with a control: a naive implementation must lose the race under this harness first.

A race test that passes proves little unless the same threads, connections and isolation level
demonstrably produce the race when the code is wrong. So every race comes in two tests:

* ``test_control_naive_...`` runs a deliberately naive implementation (written here, writing the
  library's own models with the ORM) under ``run_at_once`` and asserts that it *does* break:
  oversells, double-books, strands a seat, offers one seat twice. It passes when the naive code fails.
* ``test_library_...`` runs the same race through the services and asserts that it never breaks.

The naive code makes the classic mistake on purpose: it reads in autocommit, then writes in a
separate ``transaction.atomic()``. Every thread finishes its read before any thread writes (a
barrier between the two), so the window is hit every time and on every backend, including SQLite,
whose IMMEDIATE transactions would otherwise serialise a read-then-write done inside one transaction.
"""

import datetime as dt
import threading
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Max

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError, SessionFull, SlotUnavailable
from django_liveclass_booking.models import (
    ACTIVE_BOOKING_STATUSES,
    BookingSource,
    BookingStatus,
    SessionKind,
    SessionStatus,
    SessionWaitlist,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from django_liveclass_booking.operations import OVERLAP_CONSTRAINT

from .invariants import assert_all
from .threads import run_at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

#: The library's races run several rounds, each on fresh rows: a lucky interleaving passes once.
ROUNDS = 3


def outcome(result):
    return type(result).__name__ if isinstance(result, Exception) else "ok"


def unexpected(results, *allowed):
    return [r for r in results if isinstance(r, Exception) and not isinstance(r, allowed)]


class ReadThenWrite:
    """Holds every naive worker between its read and its write until all of them have read.

    This is the widest possible read-modify-write window: no thread's write can be seen by another
    thread's read. If a worker fails before reading, the barrier breaks within 30 s and the test
    fails instead of hanging.
    """

    def __init__(self, parties):
        self.barrier = threading.Barrier(parties)

    def all_have_read(self):
        self.barrier.wait(timeout=30)


def fill(session, make_user, now, n):
    return [services.book_seat(make_user(), session, now=now) for _ in range(n)]


def active_bookings(session):
    return get_booking_model().objects.filter(session_id=session.pk, status__in=ACTIVE_BOOKING_STATUSES).count()


# --- 1. The last seats of a group session ----------------------------------------------------------


def naive_book_seat(session, student, now, window):
    """Count the active bookings, then insert one and set the counter from the count read."""
    Session, Booking = get_session_model(), get_booking_model()
    taken = Booking.objects.filter(session_id=session.pk, status__in=ACTIVE_BOOKING_STATUSES).count()
    window.all_have_read()
    if taken >= session.capacity:
        return "full"
    with transaction.atomic():
        # The counter first: its row lock then covers the booking's foreign-key check on InnoDB,
        # so the naive writers queue up instead of deadlocking, which would hide the oversell.
        Session.objects.filter(pk=session.pk).update(seats_taken=taken + 1)
        Booking.objects.create(
            session_id=session.pk, student=student, teacher_id=session.teacher_id, kind=session.kind,
            start_at_utc=session.start_at_utc, end_at_utc=session.end_at_utc, status=BookingStatus.CONFIRMED,
            status_changed=now, decided_at=now, source=BookingSource.DIRECT,
        )
    return "booked"


def test_control_naive_count_then_insert_oversells(make_session, make_user, now):
    session = make_session(capacity=5)
    fill(session, make_user, now, 3)
    students = [make_user() for _ in range(8)]
    window = ReadThenWrite(len(students))

    results = run_at_once(lambda student: naive_book_seat(session, student, now, window), students)

    assert not unexpected(results), results
    # Every thread counted 3 of 5 seats taken and booked: 11 bookings for 5 seats, and the counter,
    # written from stale counts, still claims a free seat.
    assert active_bookings(session) > session.capacity
    session.refresh_from_db()
    assert session.seats_taken < active_bookings(session)


def test_library_never_oversells_the_last_seats(make_session, make_user, now):
    for _ in range(ROUNDS):
        session = make_session(capacity=5)
        fill(session, make_user, now, 3)
        students = [make_user() for _ in range(8)]

        results = run_at_once(lambda student, s=session: services.book_seat(student, s, now=now), students)

        assert not unexpected(results, SessionFull), results
        assert Counter(outcome(r) for r in results) == {"ok": 2, "SessionFull": 6}
        assert active_bookings(session) == session.capacity
        assert_all()


# --- 2. Overlapping 1:1 requests for one teacher ---------------------------------------------------


def naive_request_lesson(teacher, student, start, now, window):
    """Look for an overlapping scheduled session, then insert the lesson; no lock on the teacher."""
    Session, Booking = get_session_model(), get_booking_model()
    end = start + dt.timedelta(minutes=60)
    clash = Session.objects.filter(teacher=teacher, status=SessionStatus.SCHEDULED).overlapping(start, end).exists()
    window.all_have_read()
    if clash:
        return "refused"
    try:
        with transaction.atomic():
            lesson = Session.objects.create(
                teacher=teacher, kind=SessionKind.ONE_ON_ONE, start_at_utc=start, end_at_utc=end,
                duration_minutes=60, capacity=1, seats_taken=1,
            )
            Booking.objects.create(
                session=lesson, student=student, teacher=teacher, kind=SessionKind.ONE_ON_ONE, start_at_utc=start,
                end_at_utc=end, status=BookingStatus.CONFIRMED, status_changed=now, decided_at=now,
            )
    except IntegrityError as exc:
        if OVERLAP_CONSTRAINT in str(exc):
            return "stopped by the database"
        raise
    except OperationalError as exc:
        # Unlocked inserts that each wait on the other's row while checking the exclusion
        # constraint deadlock: PostgreSQL then stops one of them, which is the same defence.
        if "deadlock detected" in str(exc) and "exclusion constraint" in str(exc):
            return "stopped by the database"
        raise
    return "booked"


def test_control_naive_check_then_insert_double_books_the_teacher(teacher, make_user, now):
    start = now + dt.timedelta(days=2)
    students = [make_user() for _ in range(6)]
    window = ReadThenWrite(len(students))

    # Every request overlaps every other: each starts within the first half hour of the first.
    results = run_at_once(
        lambda pair: naive_request_lesson(teacher, pair[1], start + dt.timedelta(minutes=5 * pair[0]), now, window),
        list(enumerate(students)),
    )

    assert not unexpected(results), results
    # Every thread found the teacher free, so every one went on to write.
    assert results.count("refused") == 0, results
    lessons = get_session_model().objects.filter(teacher=teacher, status=SessionStatus.SCHEDULED).count()
    if connection.vendor == "postgresql":
        # Only PostgreSQL has a last line of defence: the exclusion constraint on the session table
        # refused every overlapping insert the naive check had let through.
        assert results.count("stopped by the database") == len(students) - 1, results
        assert lessons == 1
    else:
        # Elsewhere nothing stops them: the teacher is booked six times over for one hour.
        assert results.count("booked") == lessons == len(students)


def test_library_never_double_books_a_teacher(teacher, make_user, now, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    for day in range(ROUNDS):
        start = now + dt.timedelta(days=2 + day)
        students = [make_user() for _ in range(6)]

        results = run_at_once(
            lambda pair, s=start: services.request_lesson(
                pair[1], teacher, start=s + dt.timedelta(minutes=5 * pair[0]), duration=60, now=now),
            list(enumerate(students)),
        )

        assert not unexpected(results, SlotUnavailable), results
        assert Counter(outcome(r) for r in results) == {"ok": 1, "SlotUnavailable": 5}
        assert all(r.code == "teacher_unavailable" for r in results if isinstance(r, Exception))
        lessons = get_session_model().objects.filter(teacher=teacher, status=SessionStatus.SCHEDULED)
        assert lessons.overlapping(start, start + dt.timedelta(hours=2)).count() == 1
    assert_all()


# --- 3. Cancelling and joining the waitlist of a full session at once -------------------------------


def naive_cancel(booking, now, window):
    """Hand the seat to the line if anyone waits, else give it back: decided on a stale read."""
    Session, Booking = get_session_model(), get_booking_model()
    line = SessionWaitlist.objects.filter(session_id=booking.session_id, status=WaitlistStatus.WAITING)
    someone_waits = line.exists()
    window.all_have_read()
    with transaction.atomic():
        first = line.order_by("position", "pk").first() if someone_waits else None
        if first is None:
            # The counter first: its row lock queues the cancels before they touch the bookings'
            # unique index, where InnoDB's gap locks would otherwise deadlock them.
            Session.objects.filter(pk=booking.session_id).update(seats_taken=F("seats_taken") - 1)
        else:
            SessionWaitlist.objects.filter(pk=first.pk).update(
                status=WaitlistStatus.OFFERED, offered_at=now, offer_expires_at=now + dt.timedelta(hours=1))
        Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.CANCELLED, status_changed=now)
    return "cancelled"


def naive_join(session, student, now, window):
    """Refuse to queue while a seat is free and nobody waits, else append: decided on a stale read."""
    Session = get_session_model()
    current = Session.objects.get(pk=session.pk)
    someone_waits = SessionWaitlist.objects.filter(session_id=session.pk, status=WaitlistStatus.WAITING).exists()
    window.all_have_read()
    if current.seats_taken < current.capacity and not someone_waits:
        return "book instead"
    with transaction.atomic():
        last = SessionWaitlist.objects.filter(session_id=session.pk).aggregate(last=Max("position"))["last"] or 0
        SessionWaitlist.objects.create(session_id=session.pk, student=student, position=last + 1,
                                       status=WaitlistStatus.WAITING, status_changed=now)
    return "joined"


def free_seat_while_someone_waits(session):
    session.refresh_from_db()
    waiting = SessionWaitlist.objects.filter(session_id=session.pk, status=WaitlistStatus.WAITING).exists()
    return session.seats_taken < session.capacity and waiting


def test_control_naive_cancel_leaves_a_free_seat_while_someone_waits(make_session, make_user, now):
    session = make_session(capacity=4)
    holders = fill(session, make_user, now, 4)
    jobs = [("cancel", b) for b in holders[:2]] + [("join", make_user()) for _ in range(4)]
    window = ReadThenWrite(len(jobs))

    def act(job):
        kind, obj = job
        return naive_cancel(obj, now, window) if kind == "cancel" else naive_join(session, obj, now, window)

    results = run_at_once(act, jobs)

    assert not unexpected(results), results
    # The cancels saw an empty line and gave their seats back; the joiners saw a full session and
    # queued. Two seats stand free while four students wait, and any newcomer could take them.
    assert free_seat_while_someone_waits(session)


def test_library_never_leaves_a_free_seat_while_someone_waits(make_session, make_user, now):
    User, Booking = get_user_model(), get_booking_model()
    for _ in range(ROUNDS):
        session = make_session(capacity=4)
        holders = fill(session, make_user, now, 4)
        jobs = [("cancel", b) for b in holders[:2]] + [("join", make_user()) for _ in range(4)]

        def act(job, s=session):
            kind, obj = job
            if kind == "cancel":
                booking = Booking.objects.get(pk=obj.pk)
                return services.cancel_booking(booking, actor=User.objects.get(pk=booking.student_id), now=now)
            return services.join_waitlist(obj, s, now=now)

        results = run_at_once(act, jobs)

        # A joiner who arrives after a cancel with nobody in line is told to book the free seat.
        assert not unexpected(results, BookingError), results
        assert all(r.code == "seats_available" for r in results if isinstance(r, Exception))
        assert not free_seat_while_someone_waits(session)
        assert_all()


# --- 4. Two sweepers expiring the same waitlist offers ----------------------------------------------


def naive_sweep(later, window):
    """Select the due offers without locking, then expire each and offer the next waiting entry."""
    due = list(SessionWaitlist.objects.filter(status=WaitlistStatus.OFFERED, offer_expires_at__lte=later)
               .order_by("session_id", "pk"))
    window.all_have_read()
    offers_made = 0
    with transaction.atomic():
        for entry in due:
            SessionWaitlist.objects.filter(pk=entry.pk).update(status=WaitlistStatus.EXPIRED, status_changed=later)
            following = (SessionWaitlist.objects.filter(session_id=entry.session_id, status=WaitlistStatus.WAITING)
                         .order_by("position", "pk").first())
            if following is not None:
                SessionWaitlist.objects.filter(pk=following.pk).update(
                    status=WaitlistStatus.OFFERED, status_changed=later, offered_at=later,
                    offer_expires_at=later + dt.timedelta(hours=1))
                offers_made += 1
    return offers_made


def sessions_with_an_offer_due(make_session, make_user, now, count):
    """Sessions of one seat, three students waiting, the first holding an offer that expires in an hour."""
    sessions = [make_session(capacity=1) for _ in range(count)]
    for session in sessions:
        holder = services.book_seat(make_user(), session, now=now)
        for _ in range(3):
            services.join_waitlist(make_user(), session, now=now)
        services.cancel_booking(holder, actor=holder.student, now=now)
    return sessions


def open_offers(session):
    return SessionWaitlist.objects.filter(session_id=session.pk, status=WaitlistStatus.OFFERED).count()


def test_control_naive_sweepers_offer_one_freed_seat_twice(make_session, make_user, now):
    sessions = sessions_with_an_offer_due(make_session, make_user, now, 3)
    later = now + dt.timedelta(minutes=61)
    window = ReadThenWrite(2)

    results = run_at_once(lambda _: naive_sweep(later, window), range(2))

    assert not unexpected(results), results
    # Both sweepers saw the same three due offers; each expired them and offered each seat again.
    assert sum(results) > len(sessions), results
    assert any(open_offers(session) > 1 for session in sessions)


def test_library_sweepers_offer_each_freed_seat_once(make_session, make_user, now, signal_log):
    # Offers made at ``later`` by one round fall due an hour after it: only each round's own are due.
    later = now + dt.timedelta(minutes=61)
    for _ in range(ROUNDS):
        sessions = sessions_with_an_offer_due(make_session, make_user, now, 3)
        signal_log.sent.clear()

        results = run_at_once(lambda _: services.process_due(now=later), range(4))

        assert not unexpected(results), results
        assert sum(r["expired_offers"] for r in results) == 3
        assert sum(r["offers_made"] for r in results) == 3
        assert signal_log.names.count("waitlist_seat_offered") == 3
        for session in sessions:
            assert open_offers(session) == 1
            statuses = list(SessionWaitlist.objects.filter(session=session).order_by("position")
                            .values_list("status", flat=True))
            assert statuses == ["expired", "offered", "waiting"]
        assert_all()
