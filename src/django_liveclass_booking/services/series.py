"""Recurring bookings: weekly 1:1 lessons, recurring group classes, and seats in every one of them.

A series is checked and written in bulk: one read of the calendar over the whole range, then
``bulk_create`` for sessions, bookings and items, so the cost does not grow with the occurrences.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import IntegrityError

from .. import signals
from ..adapter import get_adapter
from ..exceptions import BookingError, InvalidTransition, SessionFull, SlotUnavailable
from ..models import (
    ACTIVE_BOOKING_STATUSES,
    AbstractLiveClassSession,
    BookingSeries,
    BookingSource,
    BookingStatus,
    OnConflict,
    SeriesStatus,
    SessionKind,
    SessionStatus,
    get_session_model,
)
from ..models.bookings import live_at
from ._engine import (
    calendar,
    db,
    dberrors,
    inputs,
    lessonseries,
    lifecycle,
    line,
    locks,
    recurrence,
    seating,
    transitions,
)
from ._engine import series as recurring
from ._engine.actors import actor_id, is_system, require, require_actor, require_user, require_users
from ._engine.events import send_after_commit
from ._engine.guard import keeps_arguments_on_refusal
from ._engine.intervals import IntervalSet
from ._engine.timezones import zone
from ._engine.types import Actor, User

__all__ = [
    "create_series",
    "schedule_recurring_sessions",
    "subscribe_to_recurring_sessions",
    "confirm_series",
    "decline_series",
    "cancel_series",
]


@keeps_arguments_on_refusal
def create_series(
    student: User, teacher: User, *, first_start: dt.datetime, duration: dt.timedelta | int, rrule: str,
    timezone: Any, on_conflict: str = "skip", now: dt.datetime | None = None,
) -> BookingSeries:
    """Recurring 1:1 lessons: every occurrence checked against availability, overlap and policy, then booked in bulk.

    ``on_conflict="skip"`` books the free occurrences and records the others as ``skipped`` items
    with the violation code; ``"fail"`` raises ``PolicyViolation`` listing every conflict and writes
    nothing. When the policy asks for approval, every booking is ``pending`` and one decision
    (``confirm_series`` / ``decline_series``) answers them all. The rule is checked and expanded
    before any lock.
    """
    require_users(student=student, teacher=teacher)
    current = inputs.resolve_now(now)
    length = inputs.minutes(duration)
    mode = recurring.on_conflict(on_conflict)
    tz, occurrences = recurring.expand(rrule, first_start, timezone, length)
    if student.pk == teacher.pk:
        raise BookingError("A teacher cannot book lessons with themselves.", code="own_session")
    try:
        with db.atomic():
            return lessonseries.book(student, teacher, rrule=rrule, tz=tz, occurrences=occurrences, length=length,
                                     mode=mode, now=current)
    except IntegrityError as exc:
        dberrors.raise_if_overlap(exc, "The teacher already has a session at one of those times.")
        raise


@keeps_arguments_on_refusal
def schedule_recurring_sessions(
    teacher: User, *, first_start: dt.datetime, duration: dt.timedelta | int, capacity: int, rrule: str,
    timezone: Any, title: str = "", now: dt.datetime | None = None, **meeting: str,
) -> list[AbstractLiveClassSession]:
    """One group session per occurrence of ``rrule`` (wall-clock in ``timezone``), sharing a ``recurrence_key``.

    All or nothing: an occurrence overlapping the teacher's calendar raises ``SlotUnavailable``
    (``teacher_unavailable``, with every conflicting start in ``params["starts"]``) and writes nothing.
    """
    require_user(teacher, "teacher")
    current = inputs.resolve_now(now)
    length = inputs.minutes(duration)
    seats_n = inputs.capacity(capacity)
    inputs.text(title, "title")
    unknown = sorted(set(meeting) - {"meeting_provider", "meeting_url", "meeting_passcode"})
    if unknown:
        raise BookingError(f"Unknown session fields: {', '.join(unknown)}.", code="invalid_session",
                           params={"fields": unknown})
    for name, value in meeting.items():
        inputs.text(value, name)
    tz, occurrences = recurring.expand(rrule, first_start, timezone, length)
    if occurrences[0].start <= current:
        raise BookingError("A session cannot start in the past.", code="start_in_past")
    Session = get_session_model()
    key = uuid.uuid4().hex
    sessions = [
        transitions.begin(Session(teacher=teacher, kind=SessionKind.GROUP, title=title, start_at_utc=o.start,
                                  end_at_utc=o.end, duration_minutes=length, capacity=seats_n, timezone_snapshot=tz,
                                  recurrence_key=key, **meeting), SessionStatus.SCHEDULED, current)
        for o in occurrences
    ]
    calendar.clean_session(sessions[0])
    lo, hi = occurrences[0].start, occurrences[-1].end
    try:
        with db.atomic():
            locks.lock_teacher(teacher)
            calendar.expire_due_lessons_near(teacher, lo, hi, current)
            busy = IntervalSet(Session.objects.using(db.alias()).filter(teacher=teacher, status=SessionStatus.SCHEDULED)
                               .overlapping(lo, hi).values_list("start_at_utc", "end_at_utc"))
            clashes = []
            for o in occurrences:
                if busy.meets(o.start, o.end):
                    clashes.append(o.start.isoformat())
                # A rule may repeat faster than the session lasts: occurrences must not meet each other.
                busy.add(o.start, o.end)
            if clashes:
                raise SlotUnavailable(f"The teacher already has a session at {len(clashes)} of those times.",
                                      code="teacher_unavailable", params={"starts": clashes})
            return Session.objects.using(db.alias()).bulk_create(sessions)
    except IntegrityError as exc:
        dberrors.raise_if_overlap(exc, "The teacher already has a session at one of those times.")
        raise


@keeps_arguments_on_refusal
def subscribe_to_recurring_sessions(student: User, recurrence_key: str, *, on_conflict: str = "skip",
                                    now: dt.datetime | None = None) -> BookingSeries:
    """A seat in every future session sharing ``recurrence_key``.

    ``on_conflict="skip"``: a full session puts the student on its waitlist (item ``waitlisted``),
    any other refusal is recorded as ``skipped`` with its code. ``"fail"``: the first refusal is
    raised and nothing is written.
    """
    require_user(student, "student")
    current = inputs.resolve_now(now)
    mode = recurring.on_conflict(on_conflict)
    if not isinstance(recurrence_key, str) or not 0 < len(recurrence_key) <= 64 or not inputs.storable(recurrence_key):
        raise BookingError("Name the recurring class by its recurrence key.", code="invalid_recurrence_key",
                           params={"field": "recurrence_key"})
    Session = get_session_model()
    using = db.alias()
    sessions = list(Session.objects.using(using).filter(recurrence_key=recurrence_key,
                                                        status=SessionStatus.SCHEDULED, start_at_utc__gt=current)
                    .order_by("start_at_utc", "pk"))
    if not sessions:
        raise BookingError("No upcoming sessions share that recurrence key.", code="no_sessions",
                           params={"recurrence_key": recurrence_key})
    first = sessions[0]
    first_local = first.start_at_utc.astimezone(zone(first.timezone_snapshot))
    occurrences = [recurrence.Occurrence(i, s.start_at_utc.astimezone(zone(s.timezone_snapshot)).replace(tzinfo=None),
                                         s.start_at_utc, s.end_at_utc) for i, s in enumerate(sessions)]
    with db.atomic():
        # The one lock order: the teacher row, then the sessions by ascending pk; each booking
        # below then only re-takes locks this transaction already holds.
        policy = locks.lock_teacher(first.teacher_id)
        recurring.refuse_series(policy, len(sessions))
        locks.lock_sessions(s.pk for s in sessions)
        bookings: dict[int, Any] = {}
        skipped: dict[int, str] = {}
        waitlisted: dict[int, str] = {}
        refusals: list[BookingError] = []
        for o, session in zip(occurrences, sessions, strict=True):
            try:
                with db.atomic():
                    bookings[o.index] = seating.book(student, session, now=current, source=BookingSource.SERIES)
            except SessionFull:
                if mode == OnConflict.FAIL:
                    raise
                try:
                    with db.atomic():
                        line.join_checked(student, session, current)
                    waitlisted[o.index] = "session_full"
                except BookingError as exc:
                    skipped[o.index] = exc.code
                    refusals.append(exc)
            except BookingError as exc:
                if mode == OnConflict.FAIL:
                    raise
                skipped[o.index] = exc.code
                refusals.append(exc)
        if not bookings and not waitlisted:
            # Nothing to subscribe to: the first session's own refusal says why, with its params.
            raise refusals[0]
        record = BookingSeries(
            student=student, teacher_id=first.teacher_id, kind=SessionKind.GROUP, rrule="",
            first_start_date=first_local.date(), first_start_time=first_local.time().replace(tzinfo=None),
            timezone=first.timezone_snapshot, duration_minutes=first.duration_minutes, on_conflict=mode,
            recurrence_key=recurrence_key,
        )
        transitions.begin(record, SeriesStatus.ACTIVE, current)
        record.save(force_insert=True, using=using)
        recurring.write_items(record, occurrences, bookings, skipped, waitlisted, now=current)
        send_after_commit(signals.series_created, BookingSeries, series=record)
    return record


@keeps_arguments_on_refusal
def confirm_series(series: BookingSeries, *, actor: Actor, now: dt.datetime | None = None) -> BookingSeries:
    """Confirm every pending occurrence of the series at once.

    Whoever the adapter's ``can_decide_series`` allows (by default: whoever may decide each of its
    bookings) or ``SYSTEM``.
    """
    inputs.series(series)
    require_actor(actor)
    current = inputs.resolve_now(now)
    # Judged before any lock on the bookings as they are, so a refusal costs no lock; and again on the
    # bookings as locked, the set the decision then applies to.
    _may_decide = lambda found: require(  # noqa: E731
        is_system(actor) or get_adapter().can_decide_series(actor, series, found),
        "Only the teacher or a manager may confirm this series.")
    _may_decide(list(recurring.series_bookings(series, [BookingStatus.PENDING]).filter(live_at(current))))
    with db.atomic():
        (pending,) = recurring.read_under_locks(
            lambda: (list(recurring.series_bookings(series, [BookingStatus.PENDING]).filter(live_at(current))),))
        _may_decide(pending)
        if not pending:
            raise InvalidTransition("This series has no pending occurrences to confirm.",
                                    params={"from": series.status, "to": SeriesStatus.ACTIVE})
        fields = {"decided_by_id": actor_id(actor), "decided_at": current, "expires_at": None}
        transitions.move_rows(recurring.series_bookings(series, [BookingStatus.PENDING]).filter(
            live_at(current), pk__in=[b.pk for b in pending]), BookingStatus.CONFIRMED, current, **fields)
        transitions.move(series, SeriesStatus.ACTIVE, current, queryset=BookingSeries.objects.using(db.alias()))
        for booking in pending:
            transitions.apply(booking, BookingStatus.CONFIRMED, current, **fields)
            send_after_commit(signals.booking_confirmed, type(booking), booking=booking)
    return series


@keeps_arguments_on_refusal
def decline_series(series: BookingSeries, *, actor: Actor, reason: str = "",
                   now: dt.datetime | None = None) -> BookingSeries:
    """Decline every pending occurrence of the series at once, freeing their slots (as ``confirm_series`` for who)."""
    inputs.series(series)
    reason = inputs.text(reason, "reason")
    require_actor(actor)
    current = inputs.resolve_now(now)
    _may_decide = lambda found: require(  # noqa: E731
        is_system(actor) or get_adapter().can_decide_series(actor, series, found),
        "Only the teacher or a manager may decline this series.")
    _may_decide(list(recurring.series_bookings(series, [BookingStatus.PENDING]).filter(live_at(current))))
    with db.atomic():
        (pending,) = recurring.read_under_locks(
            lambda: (list(recurring.series_bookings(series, [BookingStatus.PENDING]).filter(live_at(current))),))
        _may_decide(pending)
        if not pending:
            raise InvalidTransition("This series has no pending occurrences to decline.",
                                    params={"from": series.status, "to": SeriesStatus.DECLINED})
        lifecycle.end_bookings(pending, BookingStatus.DECLINED, signals.booking_declined, current,
                               decided_by_id=actor_id(actor), decided_at=current, reason=reason)
        transitions.move(series, SeriesStatus.DECLINED, current, queryset=BookingSeries.objects.using(db.alias()))
    return series


@keeps_arguments_on_refusal
def cancel_series(series: BookingSeries, *, actor: Actor, from_start: dt.datetime | None = None, reason: str = "",
                  now: dt.datetime | None = None) -> int:
    """Cancel the series' upcoming bookings: all, or this-and-following from ``from_start``.

    Returns the number of bookings cancelled. Whoever the adapter's ``can_cancel_series`` allows (by
    default: whoever may cancel each of its bookings) or ``SYSTEM``. A student is bound by the
    cancellation cutoff per occurrence: one inside the cutoff is flagged ``late_cancellation``, or,
    when the teacher does not allow late cancellations, stays booked (and is not counted). Freed
    seats go to waitlists.
    """
    inputs.series(series)
    reason = inputs.text(reason, "reason")
    require_actor(actor)
    current = inputs.resolve_now(now)
    since = current if from_start is None else max(current, inputs.aware(from_start, "from_start"))
    _may_cancel = lambda found: require(  # noqa: E731
        is_system(actor) or get_adapter().can_cancel_series(actor, series, found),
        "Only the student, the teacher or a manager may cancel this series.")
    _may_cancel(list(recurring.series_bookings(series, ACTIVE_BOOKING_STATUSES).filter(live_at(current),
                                                                                       start_at_utc__gte=since)))
    as_student = not is_system(actor) and actor.pk == series.student_id != series.teacher_id
    with db.atomic():
        upcoming, entries = recurring.read_under_locks(lambda: (
            list(recurring.series_bookings(series, ACTIVE_BOOKING_STATUSES).filter(live_at(current),
                                                                                 start_at_utc__gte=since)),
            list(recurring.waiting_entries(series, since)),
        ))
        _may_cancel(upcoming)
        on_time: list[Any] = []
        late: list[Any] = []
        for booking in upcoming:
            is_late, refusal = lifecycle.student_cutoff(booking, current) if as_student else (False, None)
            if refusal is None:
                (late if is_late else on_time).append(booking)
        for group, flag in ((on_time, False), (late, True)):
            if group:
                lifecycle.end_bookings(group, BookingStatus.CANCELLED, signals.booking_cancelled, current,
                                       cancelled_by_id=actor_id(actor), cancelled_at=current, reason=reason,
                                       late_cancellation=flag)
        recurring.leave_lines(series, entries, current)
        if from_start is None:
            recurring.close_if_done(series, current)
    return len(on_time) + len(late)
