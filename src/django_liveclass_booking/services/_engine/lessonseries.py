"""Planning a series of 1:1 lessons: every occurrence checked against the calendar and the policy at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ... import signals
from ...exceptions import PolicyViolation
from ...models import (
    AbstractLiveClassBooking,
    AbstractLiveClassSession,
    ApprovalMode,
    BookingSeries,
    BookingSource,
    BookingStatus,
    OnConflict,
    SeriesStatus,
    SessionKind,
    SessionStatus,
    get_booking_model,
    get_session_model,
)
from ...models.bookings import live_at
from ...policy import BookingRequest, Violation, evaluate
from . import calendar, db, expiry, history, locks, places, recurrence, seats, series, transitions
from .events import send_after_commit
from .intervals import IntervalSet


def book(student: Any, teacher: Any, *, rrule: str, tz: str, occurrences: list[recurrence.Occurrence], length: int,
         mode: str, now: dt.datetime) -> BookingSeries:
    """Check every occurrence under the teacher lock and write the series in bulk (inside a transaction)."""
    Session, Booking = get_session_model(), get_booking_model()
    using = db.alias()
    policy = locks.lock_teacher(teacher)
    series.refuse_series(policy, len(occurrences))
    buffer = dt.timedelta(minutes=policy.buffer_minutes)
    lo, hi = occurrences[0].start, occurrences[-1].end
    calendar.expire_due_lessons_near(teacher, lo - buffer, hi + buffer, now)
    windows = calendar.windows(teacher)
    time_off = IntervalSet(calendar.time_off(teacher, lo, hi))
    busy = IntervalSet(calendar.busy_sessions(teacher, lo - buffer, hi + buffer, now))
    existing = list(Booking.objects.using(using).filter(live_at(now), student=student, teacher_id=teacher.pk)
                    .values_list("start_at_utc", "status"))
    counts = series.counter(policy, existing)
    known = None
    if policy.approval_mode == ApprovalMode.MANUAL_FOR_NEW_STUDENTS:
        known = Booking.objects.using(using).filter(student=student, teacher_id=teacher.pk,
                                                    status=BookingStatus.CONFIRMED).exists()
    booked: list[recurrence.Occurrence] = []
    skipped: list[tuple[recurrence.Occurrence, list[Violation]]] = []
    needs_approval = False
    for o in occurrences:
        request = BookingRequest(student=student, teacher_id=teacher.pk, kind=SessionKind.ONE_ON_ONE,
                                 start=o.start, end=o.end, now=now, policy=policy, loaded_teacher=teacher,
                                 planned=[(b.start, b.end) for b in booked])
        request.memo["student_counts"] = counts(o.start, [b.start for b in booked])
        if known is not None:
            request.memo["student_known"] = known
        decision = evaluate(request)
        problems = list(decision.violations) or series.calendar_problems(o, windows, time_off, busy, buffer)
        if problems:
            skipped.append((o, [Violation(v.code, v.message, {**v.params, "index": o.index,
                                                               "start": o.start.isoformat()}) for v in problems]))
            continue
        needs_approval = needs_approval or decision.requires_approval
        booked.append(o)
        busy.add(o.start - buffer, o.end + buffer)
    conflicts = [v for _, found in skipped for v in found]
    if conflicts and (mode == OnConflict.FAIL or not booked):
        raise PolicyViolation(conflicts)
    record = BookingSeries(
        student=student, teacher=teacher, kind=SessionKind.ONE_ON_ONE, rrule=rrule,
        first_start_date=occurrences[0].local_start.date(), first_start_time=occurrences[0].local_start.time(),
        timezone=tz, duration_minutes=length, on_conflict=mode,
    )
    transitions.begin(record, SeriesStatus.PENDING if needs_approval else SeriesStatus.ACTIVE, now)
    record.save(force_insert=True, using=using)
    sessions: list[AbstractLiveClassSession] = []
    for o in booked:
        session = seats.held_by_lesson(Session(teacher=teacher, kind=SessionKind.ONE_ON_ONE, start_at_utc=o.start,
                                               end_at_utc=o.end, duration_minutes=length, timezone_snapshot=tz))
        sessions.append(transitions.begin(session, SessionStatus.SCHEDULED, now))
    sessions = Session.objects.using(using).bulk_create(sessions)
    status = BookingStatus.PENDING if needs_approval else BookingStatus.CONFIRMED
    bookings: list[AbstractLiveClassBooking] = []
    for o, session in zip(booked, sessions, strict=True):
        # django-stubs types the swappable foreign key as the default session model, not the abstract one.
        booking = Booking(  # type: ignore[misc]
            session=session, student=student, teacher=teacher, kind=SessionKind.ONE_ON_ONE,
            start_at_utc=o.start, end_at_utc=o.end, source=BookingSource.SERIES,
            decided_at=None if needs_approval else now,
            expires_at=expiry.request_expiry(policy.request_ttl_hours, now, o.start) if needs_approval else None,
        )
        bookings.append(transitions.begin(booking, status, now))
    bookings = Booking.objects.using(using).bulk_create(bookings)
    history.created(bookings, now, history.by(student.pk))
    places.taken(bookings)
    series.write_items(record, occurrences, dict(zip([o.index for o in booked], bookings, strict=True)),
                       {o.index: found[0].code for o, found in skipped}, now=now)
    send_after_commit(signals.series_created, BookingSeries, series=record)
    signal = signals.booking_requested if needs_approval else signals.booking_confirmed
    for booking in bookings:
        send_after_commit(signal, Booking, booking=booking)
    return record
