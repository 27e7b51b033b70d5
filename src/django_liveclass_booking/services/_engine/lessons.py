"""A 1:1 lesson requested: its session and booking written under the teacher lock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ... import signals
from ...models import (
    BookingSource,
    BookingStatus,
    SessionKind,
    SessionStatus,
    get_booking_model,
    get_session_model,
)
from ...policy import BookingRequest, evaluate
from . import calendar, db, expiry, fastpath, history, locks, places, seats, statements, transitions
from .events import send_after_commit


def request(student: Any, teacher: Any, start: dt.datetime, end: dt.datetime, length: int, message: str,
            now: dt.datetime) -> Any:
    """Check and write a 1:1 lesson (inputs checked, inside a transaction): a session and its booking."""
    Session, Booking = get_session_model(), get_booking_model()
    policy = locks.lock_teacher(teacher)
    ask = BookingRequest(student=student, teacher_id=teacher.pk, kind=SessionKind.ONE_ON_ONE,
                             start=start, end=end, now=now, policy=policy, loaded_teacher=teacher)
    decision = evaluate(ask)
    decision.raise_if_refused()
    refusal = calendar.calendar_refusal(teacher, policy, start, end, now)
    if refusal is not None:
        raise refusal
    buffer = dt.timedelta(minutes=policy.buffer_minutes)
    calendar.expire_due_lessons_near(teacher, start - buffer, end + buffer, now)
    pending = decision.requires_approval
    using = db.alias()
    session = seats.held_by_lesson(Session(
        teacher=teacher, kind=SessionKind.ONE_ON_ONE, start_at_utc=start, end_at_utc=end,
        duration_minutes=length, timezone_snapshot=policy.timezone))
    transitions.begin(session, SessionStatus.SCHEDULED, now)
    if fastpath.plain(Session):
        statements.insert_row(session)
    else:
        session.save(force_insert=True, using=using)
    # django-stubs types the swappable foreign key as the default session model, not the abstract one.
    booking = Booking(  # type: ignore[misc]
        session=session, student=student, teacher=teacher, kind=SessionKind.ONE_ON_ONE,
        start_at_utc=start, end_at_utc=end, message=message, source=BookingSource.DIRECT,
        decided_at=None if pending else now,
        expires_at=expiry.request_expiry(policy.request_ttl_hours, now, start) if pending else None,
    )
    transitions.begin(booking, BookingStatus.PENDING if pending else BookingStatus.CONFIRMED, now)
    history.insert_new(booking, now, history.by(student.pk))
    places.taken([booking])
    send_after_commit(signals.booking_requested if pending else signals.booking_confirmed, Booking,
                      booking=booking)
    return booking
