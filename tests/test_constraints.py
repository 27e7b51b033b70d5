"""The database itself refuses rows that break the invariants, on every backend."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from django_liveclass_booking import services
from django_liveclass_booking.models import (
    BookingStatus,
    SessionWaitlist,
    TeacherAvailability,
    TeacherTimeOff,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)

pytestmark = pytest.mark.django_db


def refused(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def session_row(teacher, now, **overrides):
    start = now + dt.timedelta(days=1)
    fields = {"teacher": teacher, "start_at_utc": start, "end_at_utc": start + dt.timedelta(hours=1),
              "duration_minutes": 60, "capacity": 2, **overrides}
    return get_session_model().objects.create(**fields)


def booking_row(session, student, **overrides):
    fields = {"session": session, "student": student, "teacher_id": session.teacher_id, "kind": session.kind,
              "start_at_utc": session.start_at_utc, "end_at_utc": session.end_at_utc, **overrides}
    return get_booking_model().objects.create(**fields)


def test_session_end_must_be_after_start(teacher, now):
    refused(lambda: session_row(teacher, now, end_at_utc=now + dt.timedelta(days=1)))


def test_session_capacity_must_be_at_least_one(teacher, now):
    refused(lambda: session_row(teacher, now, capacity=0))


def test_seats_taken_can_never_exceed_capacity(teacher, now):
    session = session_row(teacher, now, capacity=2, seats_taken=2)
    refused(lambda: get_session_model().objects.filter(pk=session.pk).update(seats_taken=F("seats_taken") + 1))
    refused(lambda: session_row(teacher, now + dt.timedelta(days=2), capacity=1, seats_taken=2))


def test_one_active_booking_per_student_and_session(teacher, student, now):
    session = session_row(teacher, now)
    booking_row(session, student, status=BookingStatus.CONFIRMED)
    refused(lambda: booking_row(session, student, status=BookingStatus.PENDING))


def test_finished_bookings_do_not_count_against_the_active_one(teacher, student, now):
    session = session_row(teacher, now)
    for status in ("cancelled", "cancelled", "declined", "expired"):
        booking_row(session, student, status=status)
    booking_row(session, student, status=BookingStatus.CONFIRMED)
    assert get_booking_model().objects.filter(session=session, student=student).count() == 5


def test_reactivating_a_second_booking_is_refused(teacher, student, now):
    session = session_row(teacher, now)
    booking_row(session, student, status=BookingStatus.CONFIRMED)
    old = booking_row(session, student, status=BookingStatus.CANCELLED)
    refused(lambda: get_booking_model().objects.filter(pk=old.pk).update(status=BookingStatus.CONFIRMED))


def test_one_open_waitlist_entry_per_student_and_session(teacher, student, now):
    session = session_row(teacher, now)
    SessionWaitlist.objects.create(session=session, student=student, position=1, status=WaitlistStatus.LEFT)
    SessionWaitlist.objects.create(session=session, student=student, position=2, status=WaitlistStatus.WAITING)
    refused(lambda: SessionWaitlist.objects.create(session=session, student=student, position=3,
                                                   status=WaitlistStatus.OFFERED))


def test_availability_window_must_end_after_it_starts(teacher):
    refused(lambda: TeacherAvailability.objects.create(teacher=teacher, weekday=0, start_time=dt.time(17),
                                                       end_time=dt.time(9)))
    refused(lambda: TeacherAvailability.objects.create(teacher=teacher, weekday=7, start_time=dt.time(9),
                                                       end_time=dt.time(17)))


def test_time_off_must_end_after_it_starts(teacher, now):
    refused(lambda: TeacherTimeOff.objects.create(teacher=teacher, start_at_utc=now, end_at_utc=now))


def test_external_refs_are_unique_but_optional(teacher, student, now):
    session = session_row(teacher, now, external_ref="sessions:10")
    booking_row(session, student, status="cancelled")
    booking_row(session, student, status="cancelled")  # two NULL refs coexist
    booking_row(session, student, status="cancelled", external_ref="bookings:100")
    refused(lambda: booking_row(session, student, status="cancelled", external_ref="bookings:100"))


def test_the_service_counter_matches_the_rows(session, make_user, now):
    for _ in range(3):
        services.book_seat(make_user(), session, now=now)
    session.refresh_from_db()
    assert session.seats_taken == get_booking_model().objects.active().filter(session=session).count() == 3
