"""The calendar's reads built once (``reads``) answer as the querysets they replaced, on every database.

A calendar is filled at random (seeded): group classes and 1:1 lessons, scheduled and cancelled,
requests pending before and past their expiry, confirmed and cancelled bookings, time off and
windows. Then for many ranges each read is compared with the ORM's answer to the same question,
spelled as the queryset the service used to send.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Q

from django_liveclass_booking.models import (
    BookingStatus,
    SessionKind,
    SessionStatus,
    TeacherAvailability,
    TeacherBookingPolicy,
    TeacherTimeOff,
    get_booking_model,
    get_session_model,
)
from django_liveclass_booking.services._engine import db, locks, reads

pytestmark = pytest.mark.django_db(transaction=False)

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def calendar(teacher: Any, make_user: Any, now: dt.datetime) -> dict[str, Any]:
    rng = random.Random(20261127)
    Session, Booking = get_session_model(), get_booking_model()
    students = [make_user() for _ in range(6)]
    other_teacher = make_user()
    base = now.replace(minute=0, second=0, microsecond=0)
    for number in range(60):
        who = teacher if number % 6 else other_teacher  # another teacher's sessions never count
        # Two hours apart at most 30 minutes late and 90 long: a teacher's sessions never overlap (the
        # database refuses that), while the ranges below meet them in every way.
        start = base + number * 2 * HOUR + rng.choice((0, 15, 30)) * HOUR / 60
        length = rng.choice((30, 60, 90))
        kind = rng.choice((SessionKind.GROUP, SessionKind.ONE_ON_ONE))
        status = rng.choice((SessionStatus.SCHEDULED, SessionStatus.SCHEDULED, SessionStatus.CANCELLED))
        session = Session.objects.create(
            teacher=who, kind=kind, start_at_utc=start, end_at_utc=start + dt.timedelta(minutes=length),
            duration_minutes=length, capacity=1 if kind == SessionKind.ONE_ON_ONE else 5, status=status,
            timezone_snapshot="UTC")
        for student in rng.sample(students, 1 if kind == SessionKind.ONE_ON_ONE else rng.randrange(0, 3)):
            booking_status = rng.choice((BookingStatus.PENDING, BookingStatus.PENDING, BookingStatus.CONFIRMED,
                                         BookingStatus.CANCELLED))
            expires = (now + rng.choice((-3, -1, 1, 5)) * HOUR) if booking_status == BookingStatus.PENDING else None
            Booking.objects.create(session=session, student=student, teacher=who, kind=kind, start_at_utc=start,
                                   end_at_utc=session.end_at_utc, status=booking_status, expires_at=expires)
    for number in range(8):
        start = base + rng.randrange(0, 24 * 14) * HOUR
        TeacherTimeOff.objects.create(teacher=teacher if number % 4 else other_teacher, start_at_utc=start,
                                      end_at_utc=start + rng.randrange(1, 30) * HOUR)
    for weekday in range(7):
        for hour in sorted(rng.sample(range(6, 20, 2), 2)):
            TeacherAvailability.objects.create(teacher=teacher, weekday=weekday, start_time=dt.time(hour),
                                               end_time=dt.time(hour + 1, 30), timezone="Europe/Madrid")
    TeacherAvailability.objects.create(teacher=other_teacher, weekday=2, start_time=dt.time(1),
                                       end_time=dt.time(2), timezone="Asia/Tokyo")
    ranges = []
    for _ in range(80):
        start = base + rng.randrange(-8, 250) * HOUR / 2
        ranges.append((start, start + rng.randrange(1, 48) * HOUR / 2))
    return {"students": students, "ranges": ranges, "other_teacher": other_teacher}


def _busy_queryset(teacher: Any, start: dt.datetime, end: dt.datetime, now: dt.datetime | None) -> Any:
    Session = get_session_model()
    qs = Session.objects.filter(teacher=teacher, status=SessionStatus.SCHEDULED, start_at_utc__lt=end,
                                end_at_utc__gt=start)
    if now is not None:
        Booking = get_booking_model()
        due = Booking.objects.filter(status=BookingStatus.PENDING, expires_at__lte=now).values("session_id")
        qs = qs.exclude(Q(kind=SessionKind.ONE_ON_ONE) & Q(pk__in=due))
    return qs.order_by("start_at_utc", "pk")


def test_the_sessions_in_the_way_are_the_querysets(teacher, calendar, now):
    seen_due_free = seen_any = 0
    for start, end in calendar["ranges"]:
        expected = list(_busy_queryset(teacher, start, end, now).values_list("pk", "start_at_utc", "end_at_utc"))
        every = list(_busy_queryset(teacher, start, end, None).values_list("pk", "start_at_utc", "end_at_utc"))
        assert reads.busy(teacher.pk, start, end, now=now) == expected
        assert reads.busy(teacher.pk, start, end, now=None) == every
        assert reads.busy(teacher.pk, start, end, now=now, first=True) == expected[:1]
        if every:
            left_out = every[0][0]
            assert reads.busy(teacher.pk, start, end, now=None, excluding=left_out) == [
                row for row in every if row[0] != left_out]
        seen_any += bool(expected)
        seen_due_free += len(every) > len(expected)
    # The data reaches every case: ranges with sessions, and lessons past their expiry left out.
    assert seen_any >= 10 and seen_due_free >= 3


def test_the_requests_due_to_expire_are_the_querysets(teacher, calendar, now):
    Booking = get_booking_model()
    found = 0
    for start, end in calendar["ranges"]:
        expected = sorted(Booking.objects.due_to_expire(now).filter(
            teacher=teacher, kind=SessionKind.ONE_ON_ONE, start_at_utc__lt=end, end_at_utc__gt=start,
        ).values_list("session_id", flat=True))
        assert sorted(reads.due_lesson_sessions(teacher.pk, start, end, now)) == expected
        found += bool(expected)
    assert found >= 3


def test_time_off_and_windows_are_the_querysets(teacher, calendar):
    found = 0
    for start, end in calendar["ranges"]:
        expected = list(TeacherTimeOff.objects.filter(teacher=teacher, start_at_utc__lt=end, end_at_utc__gt=start)
                        .order_by("start_at_utc").values_list("start_at_utc", "end_at_utc"))
        assert reads.time_off(teacher.pk, start, end) == expected
        found += bool(expected)
    assert found >= 3
    windows = [list(w) for w in TeacherAvailability.objects.filter(teacher=teacher)
               .values_list("weekday", "start_time", "end_time", "timezone")]
    assert reads.windows(teacher.pk) == windows and len(windows) == 14
    assert all(isinstance(w[1], dt.time) for w in reads.windows(teacher.pk))  # converted as the ORM does


def test_stored_users_are_the_rows(teacher, calendar, make_user):
    User = get_user_model()
    students = calendar["students"]
    gone = make_user()
    User.objects.filter(pk=gone.pk).delete()  # the instance keeps its pk
    assert reads.stored_user_pks({teacher.pk, gone.pk, students[1].pk}) == {teacher.pk, students[1].pk}
    assert reads.stored_user_pks({gone.pk}) == set()


def test_a_locked_session_is_the_stored_row(teacher, calendar):
    Session, Booking = get_session_model(), get_booking_model()
    booking = Booking.objects.order_by("pk").first()
    with db.atomic():
        by_pk = locks.lock_session(booking.session_id)
        by_booking = reads.locked_session_of_booking(booking.pk)
        assert locks.lock_session(-1) is None and reads.locked_session_of_booking(-1) is None
    stored = Session.objects.get(pk=booking.session_id)
    for found in (by_pk, by_booking):
        assert type(found) is Session and not found._state.adding
        assert [getattr(found, f.attname) for f in Session._meta.concrete_fields] == [
            getattr(stored, f.attname) for f in Session._meta.concrete_fields]


def test_the_locked_policy_row_is_the_stored_row(teacher, calendar, set_policy):
    stored = set_policy(buffer_minutes=15, timezone="America/New_York", max_advance_days=40)
    with db.atomic():
        locked = locks.lock_teacher(teacher)
        created = locks.lock_teacher(calendar["other_teacher"])  # none stored: written with the defaults
    assert [getattr(locked, f.attname) for f in TeacherBookingPolicy._meta.concrete_fields] == [
        getattr(stored, f.attname) for f in TeacherBookingPolicy._meta.concrete_fields]
    assert created.pk == TeacherBookingPolicy.objects.get(teacher=calendar["other_teacher"]).pk
