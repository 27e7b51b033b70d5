"""Recurring bookings: weekly 1:1 lessons, recurring group classes, and seats in every one of them.

A series is checked and written in bulk: one read of the calendar over the whole range, then
``bulk_create`` for sessions, bookings and items, so the cost does not grow with the occurrences.
"""

from __future__ import annotations

import bisect
import datetime as dt
import uuid
import zoneinfo
from collections import Counter
from typing import Any

from django.db import IntegrityError, transaction

from .. import availability, recurrence, signals
from ..adapter import get_adapter
from ..conf import booking_settings
from ..exceptions import BookingError, InvalidTransition, PolicyViolation, SessionFull, SlotUnavailable
from ..models import (
    ACTIVE_BOOKING_STATUSES,
    ApprovalMode,
    BookingSeries,
    BookingSeriesItem,
    BookingSource,
    BookingStatus,
    OnConflict,
    SeriesItemStatus,
    SeriesStatus,
    SessionKind,
    SessionStatus,
    SessionWaitlist,
    TeacherTimeOff,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from ..models.bookings import live_at
from ..policy import BookingRequest, Violation, evaluate
from ..policy.rules import local_day_and_week
from . import expiry, seats
from ._common import (
    aware,
    is_system,
    lock_teacher,
    minutes,
    raise_if_overlap,
    require,
    require_actor,
    resolve_now,
    send_after_commit,
    timezone_name,
)
from .lessons import _busy_sessions, _windows, expire_due_lessons_near
from .sessions import _clean, _validate_capacity


def _expand(rrule: str, first_start: dt.datetime, timezone: Any, length: int) -> tuple[str, list[recurrence.Occurrence]]:
    try:
        aware(first_start, "first_start")
    except OverflowError:  # year 1 or 9999 pushed off the calendar by its UTC offset
        raise BookingError("first_start is too close to the ends of the calendar.", code="invalid_datetime",
                           params={"field": "first_start"}) from None
    try:
        duration = dt.timedelta(minutes=length)
    except OverflowError:
        raise BookingError(f"A lesson may last at most {recurrence.MAX_DURATION}; got {length} minutes.",
                           code="invalid_duration",
                           params={"duration": length, "max": recurrence.MAX_DURATION}) from None
    tz = timezone_name(timezone)
    try:
        # The aware first start goes in as it is, so the first occurrence keeps that very instant, even the
        # second of two equal wall-clock times on a fall-back night.
        return tz, recurrence.expand(rrule, first_start_local=first_start, timezone=tz, duration=duration,
                                     max_occurrences=booking_settings.MAX_OCCURRENCES)
    except recurrence.RecurrenceError as exc:
        raise BookingError(exc.message, code=exc.code, params=exc.params) from exc


def _on_conflict(value: str) -> str:
    if value not in OnConflict.values:
        raise BookingError(f"on_conflict must be 'skip' or 'fail', not {value!r}.", code="invalid_on_conflict")
    return value


class _Intervals:
    """Sorted half-open intervals answering "does [s, e) meet any?" with one bisect."""

    def __init__(self, pairs: list[tuple[dt.datetime, dt.datetime]]) -> None:
        self.pairs = sorted(pairs)
        self.starts = [s for s, _ in self.pairs]
        self.max_len = max((e - s for s, e in self.pairs), default=dt.timedelta(0))

    def meets(self, start: dt.datetime, end: dt.datetime) -> bool:
        i = bisect.bisect_left(self.starts, end)
        j = bisect.bisect_left(self.starts, start - self.max_len)
        return any(s < end and start < e for s, e in self.pairs[j:i])

    def add(self, start: dt.datetime, end: dt.datetime) -> None:
        i = bisect.bisect_left(self.starts, start)
        self.pairs.insert(i, (start, end))
        self.starts.insert(i, start)
        self.max_len = max(self.max_len, end - start)


# --- teachers: recurring group sessions -------------------------------------------------------


def schedule_recurring_sessions(
    teacher: Any, *, first_start: dt.datetime, duration: dt.timedelta | int, capacity: int, rrule: str,
    timezone: Any, title: str = "", now: dt.datetime | None = None, **meeting: str,
) -> list[Any]:
    """One group session per occurrence of ``rrule`` (wall-clock in ``timezone``), sharing a ``recurrence_key``.

    All or nothing: an occurrence overlapping the teacher's calendar raises ``SlotUnavailable``
    (``teacher_unavailable``, with every conflicting start in ``params["starts"]``) and writes nothing.
    """
    current = resolve_now(now)
    length = minutes(duration)
    seats_n = _validate_capacity(capacity)
    tz, occurrences = _expand(rrule, first_start, timezone, length)
    unknown = sorted(set(meeting) - {"meeting_provider", "meeting_url", "meeting_passcode"})
    if unknown:
        raise BookingError(f"Unknown session fields: {', '.join(unknown)}.", code="invalid_session",
                           params={"fields": unknown})
    if occurrences[0].start <= current:
        raise BookingError("A session cannot start in the past.", code="start_in_past")
    Session = get_session_model()
    key = uuid.uuid4().hex
    sessions = [
        Session(teacher=teacher, kind=SessionKind.GROUP, title=title, start_at_utc=o.start, end_at_utc=o.end,
                duration_minutes=length, capacity=seats_n, timezone_snapshot=tz, recurrence_key=key, **meeting)
        for o in occurrences
    ]
    _clean(sessions[0])
    lo, hi = occurrences[0].start, occurrences[-1].end
    try:
        with transaction.atomic():
            lock_teacher(teacher)
            expire_due_lessons_near(teacher, lo, hi, current)
            busy = _Intervals(list(Session.objects.filter(teacher=teacher, status=SessionStatus.SCHEDULED)
                                   .overlapping(lo, hi).values_list("start_at_utc", "end_at_utc")))
            clashes = []
            for o in occurrences:
                if busy.meets(o.start, o.end):
                    clashes.append(o.start.isoformat())
                # A rule may repeat faster than the session lasts: occurrences must not meet each other.
                busy.add(o.start, o.end)
            if clashes:
                raise SlotUnavailable(f"The teacher already has a session at {len(clashes)} of those times.",
                                      code="teacher_unavailable", params={"starts": clashes})
            return Session.objects.bulk_create(sessions)
    except IntegrityError as exc:
        raise_if_overlap(exc, "The teacher already has a session at one of those times.")
        raise


# --- students: recurring 1:1 lessons ----------------------------------------------------------


def _counter(policy: Any, existing: list[tuple[dt.datetime, str]]) -> Any:
    """Counts for the limit rules from rows read once, plus the series' own earlier occurrences."""
    pending = sum(1 for _, status in existing if status == BookingStatus.PENDING)

    def counts(start: dt.datetime, planned: list[dt.datetime]) -> dict[str, int]:
        (d0, d1), (w0, w1) = local_day_and_week(start, policy.timezone)
        starts = [s for s, _ in existing] + planned
        return {"day": sum(d0 <= s < d1 for s in starts), "week": sum(w0 <= s < w1 for s in starts),
                "pending": pending}

    return counts


def create_series(
    student: Any, teacher: Any, *, first_start: dt.datetime, duration: dt.timedelta | int, rrule: str,
    timezone: Any, on_conflict: str = "skip", now: dt.datetime | None = None,
) -> BookingSeries:
    """Recurring 1:1 lessons: every occurrence checked against availability, overlap and policy, then booked in bulk.

    ``on_conflict="skip"`` books the free occurrences and records the others as ``skipped`` items
    with the violation code; ``"fail"`` raises ``PolicyViolation`` listing every conflict and writes
    nothing. When the policy asks for approval, every booking is ``pending`` and one decision
    (``confirm_series`` / ``decline_series``) answers them all.
    """
    current = resolve_now(now)
    length = minutes(duration)
    mode = _on_conflict(on_conflict)
    tz, occurrences = _expand(rrule, first_start, timezone, length)
    require(student is not None and getattr(student, "is_authenticated", False), "Only a signed-in student may book.")
    if student.pk == teacher.pk:
        raise BookingError("A teacher cannot book lessons with themselves.", code="own_session")
    Session, Booking = get_session_model(), get_booking_model()
    try:
        with transaction.atomic():
            policy = lock_teacher(teacher)
            _refuse_series(policy, len(occurrences))
            buffer = dt.timedelta(minutes=policy.buffer_minutes)
            lo, hi = occurrences[0].start, occurrences[-1].end
            expire_due_lessons_near(teacher, lo - buffer, hi + buffer, current)
            windows = _windows(teacher)
            time_off = _Intervals(list(TeacherTimeOff.objects.filter(teacher=teacher, start_at_utc__lt=hi,
                                                                     end_at_utc__gt=lo)
                                       .values_list("start_at_utc", "end_at_utc")))
            busy = _Intervals(list(_busy_sessions(teacher, lo - buffer, hi + buffer, current)
                                   .values_list("start_at_utc", "end_at_utc")))
            existing = list(Booking.objects.filter(live_at(current), student=student, teacher_id=teacher.pk)
                            .values_list("start_at_utc", "status"))
            counts = _counter(policy, existing)
            known = None
            if policy.approval_mode == ApprovalMode.MANUAL_FOR_NEW_STUDENTS:
                known = Booking.objects.filter(student=student, teacher_id=teacher.pk,
                                               status=BookingStatus.CONFIRMED).exists()
            booked, skipped, needs_approval = [], [], False
            for o in occurrences:
                request = BookingRequest(student=student, teacher_id=teacher.pk, kind=SessionKind.ONE_ON_ONE,
                                         start=o.start, end=o.end, now=current, policy=policy, _teacher=teacher,
                                         planned=[(b.start, b.end) for b in booked])
                request._cache["student_counts"] = counts(o.start, [b.start for b in booked])
                if known is not None:
                    request._cache["student_known"] = known
                decision = evaluate(request)
                problems = list(decision.violations) or _calendar_problems(o, windows, time_off, busy, buffer)
                if problems:
                    skipped.append((o, [Violation(v.code, v.message, {**v.params, "index": o.index,
                                                                       "start": o.start.isoformat()})
                                        for v in problems]))
                    continue
                needs_approval = needs_approval or decision.requires_approval
                booked.append(o)
                busy.add(o.start - buffer, o.end + buffer)
            conflicts = [v for _, found in skipped for v in found]
            if conflicts and (mode == OnConflict.FAIL or not booked):
                raise PolicyViolation(conflicts)
            series = BookingSeries.objects.create(
                student=student, teacher=teacher, kind=SessionKind.ONE_ON_ONE, rrule=rrule,
                first_start_date=occurrences[0].local_start.date(), first_start_time=occurrences[0].local_start.time(),
                timezone=tz, duration_minutes=length, on_conflict=mode,
                status=SeriesStatus.PENDING if needs_approval else SeriesStatus.ACTIVE,
            )
            sessions = Session.objects.bulk_create([
                Session(teacher=teacher, kind=SessionKind.ONE_ON_ONE, start_at_utc=o.start, end_at_utc=o.end,
                        duration_minutes=length, capacity=1, seats_taken=1, timezone_snapshot=tz)
                for o in booked
            ])
            status = BookingStatus.PENDING if needs_approval else BookingStatus.CONFIRMED
            bookings = Booking.objects.bulk_create([
                Booking(session=session, student=student, teacher=teacher, kind=SessionKind.ONE_ON_ONE,
                        start_at_utc=o.start, end_at_utc=o.end, status=status, status_changed=current,
                        source=BookingSource.SERIES, decided_at=None if needs_approval else current,
                        expires_at=expiry.request_expiry(policy.request_ttl_hours, current, o.start)
                        if needs_approval else None)
                for o, session in zip(booked, sessions, strict=True)
            ])
            _write_items(series, occurrences, dict(zip([o.index for o in booked], bookings, strict=True)),
                         {o.index: found[0].code for o, found in skipped})
            send_after_commit(signals.series_created, BookingSeries, series=series)
            signal = signals.booking_requested if needs_approval else signals.booking_confirmed
            for booking in bookings:
                send_after_commit(signal, Booking, booking=booking)
    except IntegrityError as exc:
        raise_if_overlap(exc, "The teacher already has a session at one of those times.")
        raise
    return series


def _refuse_series(policy: Any, count: int) -> None:
    if not policy.allow_recurring:
        raise PolicyViolation([Violation("recurring_not_allowed", "This teacher does not take recurring bookings.")])
    cap = policy.max_series_occurrences
    if cap is not None and count > cap:
        raise PolicyViolation([Violation("too_many_occurrences",
                                         f"This teacher takes series of at most {cap} lessons.",
                                         {"count": count, "max": cap})])


def _calendar_problems(o: recurrence.Occurrence, windows: Any, time_off: _Intervals, busy: _Intervals,
                       buffer: dt.timedelta) -> list[Violation]:
    if not availability.is_within_availability(o.start, o.end, windows) or time_off.meets(o.start, o.end):
        return [Violation("outside_availability", "That time is outside the teacher's availability.")]
    if busy.meets(o.start - buffer, o.end + buffer):
        return [Violation("teacher_unavailable", "The teacher already has a session at that time.")]
    return []


def _write_items(series: BookingSeries, occurrences: list[recurrence.Occurrence], bookings: dict[int, Any],
                 skipped: dict[int, str], waitlisted: dict[int, str] | None = None) -> None:
    waitlisted = waitlisted or {}
    BookingSeriesItem.objects.bulk_create([
        BookingSeriesItem(
            series=series, index=o.index, start_at_utc=o.start, end_at_utc=o.end, booking=bookings.get(o.index),
            status=(SeriesItemStatus.BOOKED if o.index in bookings else
                    SeriesItemStatus.WAITLISTED if o.index in waitlisted else SeriesItemStatus.SKIPPED),
            skip_reason=skipped.get(o.index) or waitlisted.get(o.index, ""),
        )
        for o in occurrences
    ])


# --- students: a seat in every session of a recurring class -----------------------------------


def subscribe_to_recurring_sessions(student: Any, recurrence_key: str, *, on_conflict: str = "skip",
                                    now: dt.datetime | None = None) -> BookingSeries:
    """A seat in every future session sharing ``recurrence_key``.

    ``on_conflict="skip"``: a full session puts the student on its waitlist (item ``waitlisted``),
    any other refusal is recorded as ``skipped`` with its code. ``"fail"``: the first refusal is
    raised and nothing is written.
    """
    from .booking import _book_seat
    from .waitlist import join_waitlist

    current = resolve_now(now)
    mode = _on_conflict(on_conflict)
    Session = get_session_model()
    sessions = list(Session.objects.filter(recurrence_key=recurrence_key, status=SessionStatus.SCHEDULED,
                                           start_at_utc__gt=current).order_by("start_at_utc", "pk"))
    if not sessions:
        raise BookingError("No upcoming sessions share that recurrence key.", code="no_sessions",
                           params={"recurrence_key": recurrence_key})
    first = sessions[0]

    def local(session: Any) -> dt.datetime:
        return session.start_at_utc.astimezone(zoneinfo.ZoneInfo(session.timezone_snapshot)).replace(tzinfo=None)

    occurrences = [recurrence.Occurrence(i, local(s), s.start_at_utc, s.end_at_utc) for i, s in enumerate(sessions)]
    with transaction.atomic():
        # The one lock order: the teacher row, then the sessions by ascending pk; each booking
        # below then only re-takes locks this transaction already holds.
        policy = lock_teacher(first.teacher_id)
        _refuse_series(policy, len(sessions))
        list(Session.objects.select_for_update().filter(pk__in=[s.pk for s in sessions]).order_by("pk")
             .values_list("pk", flat=True))
        bookings: dict[int, Any] = {}
        skipped: dict[int, str] = {}
        waitlisted: dict[int, str] = {}
        for o, session in zip(occurrences, sessions, strict=True):
            try:
                with transaction.atomic():
                    bookings[o.index] = _book_seat(student, session, actor=student, now=current,
                                                   source=BookingSource.SERIES)
            except SessionFull:
                if mode == OnConflict.FAIL:
                    raise
                try:
                    with transaction.atomic():
                        join_waitlist(student, session, now=current)
                    waitlisted[o.index] = "session_full"
                except BookingError as exc:
                    skipped[o.index] = exc.code
            except BookingError as exc:
                if mode == OnConflict.FAIL:
                    raise
                skipped[o.index] = exc.code
        if not bookings and not waitlisted:
            raise BookingError("No session of this class could be booked or waited for.", code=skipped[0],
                               params={"codes": sorted(set(skipped.values()))})
        series = BookingSeries.objects.create(
            student=student, teacher_id=first.teacher_id, kind=SessionKind.GROUP, rrule="",
            first_start_date=local(first).date(), first_start_time=local(first).time(),
            timezone=first.timezone_snapshot,
            duration_minutes=first.duration_minutes, on_conflict=mode, recurrence_key=recurrence_key,
            status=SeriesStatus.ACTIVE,
        )
        _write_items(series, occurrences, bookings, skipped, waitlisted)
        send_after_commit(signals.series_created, BookingSeries, series=series)
    return series


# --- one decision for a whole series ----------------------------------------------------------


def _series_bookings(series: BookingSeries, statuses: Any) -> Any:
    return get_booking_model().objects.filter(series_item__series=series, status__in=list(statuses))


def _lock_sessions_of(rows: list[Any]) -> None:
    pks = sorted({r.session_id for r in rows})
    list(get_session_model().objects.select_for_update().filter(pk__in=pks).order_by("pk").values_list("pk", flat=True))


def _read_under_locks(read: Any) -> Any:
    """Lock the sessions of what ``read()`` returns, then read again: under the locks the set is exact.

    Every booking or waitlist change locks its session first, so the second read cannot change
    under us; the first one only tells which rows to lock.
    """
    _lock_sessions_of([row for rows in read() for row in rows])
    return read()


def _may_decide(actor: Any, series: BookingSeries) -> bool:
    return is_system(actor) or actor.pk == series.teacher_id or get_adapter().is_staff_manager(actor)


def confirm_series(series: BookingSeries, *, actor: Any, now: dt.datetime | None = None) -> BookingSeries:
    """Confirm every pending occurrence of the series at once (teacher, manager or SYSTEM)."""
    require_actor(actor)
    require(_may_decide(actor, series), "Only the teacher or a manager may confirm this series.")
    current = resolve_now(now)
    Booking = get_booking_model()
    with transaction.atomic():
        (pending,) = _read_under_locks(
            lambda: (list(_series_bookings(series, [BookingStatus.PENDING]).filter(live_at(current))),))
        if not pending:
            raise InvalidTransition("This series has no pending occurrences to confirm.",
                                    params={"from": series.status, "to": SeriesStatus.ACTIVE})
        actor_id = None if is_system(actor) else actor.pk
        Booking.objects.filter(live_at(current), pk__in=[b.pk for b in pending], status=BookingStatus.PENDING).update(
            status=BookingStatus.CONFIRMED, status_changed=current, decided_by_id=actor_id, decided_at=current,
            expires_at=None)
        BookingSeries.objects.filter(pk=series.pk).update(status=SeriesStatus.ACTIVE, status_changed=current)
        series.status = SeriesStatus.ACTIVE
        for booking in pending:
            booking.status, booking.decided_by_id, booking.decided_at = BookingStatus.CONFIRMED, actor_id, current
            send_after_commit(signals.booking_confirmed, Booking, booking=booking)
    return series


def _end_bookings(bookings: list[Any], status: str, signal: Any, now: dt.datetime, **fields: Any) -> None:
    """Move bookings (sessions locked) to a final status, free their seats or slots, signal each."""
    Booking, Session = get_booking_model(), get_session_model()
    Booking.objects.filter(pk__in=[b.pk for b in bookings], status__in=ACTIVE_BOOKING_STATUSES).update(
        status=status, status_changed=now, **fields)
    BookingSeriesItem.objects.filter(booking_id__in=[b.pk for b in bookings]).update(status=SeriesItemStatus.CANCELLED)
    lessons = [b.session_id for b in bookings if b.kind == SessionKind.ONE_ON_ONE]
    if lessons:
        Session.objects.filter(pk__in=lessons, status=SessionStatus.SCHEDULED).update(
            status=SessionStatus.CANCELLED, status_changed=now, seats_taken=0)
    for booking in bookings:
        booking.status = status
        for name, value in fields.items():
            setattr(booking, name, value)
        send_after_commit(signal, Booking, booking=booking)
    seats.free_seats(Counter(b.session_id for b in bookings if b.kind == SessionKind.GROUP), now)


def decline_series(series: BookingSeries, *, actor: Any, reason: str = "",
                   now: dt.datetime | None = None) -> BookingSeries:
    """Decline every pending occurrence of the series at once, freeing their slots."""
    require_actor(actor)
    require(_may_decide(actor, series), "Only the teacher or a manager may decline this series.")
    current = resolve_now(now)
    with transaction.atomic():
        (pending,) = _read_under_locks(
            lambda: (list(_series_bookings(series, [BookingStatus.PENDING]).filter(live_at(current))),))
        if not pending:
            raise InvalidTransition("This series has no pending occurrences to decline.",
                                    params={"from": series.status, "to": SeriesStatus.DECLINED})
        actor_id = None if is_system(actor) else actor.pk
        _end_bookings(pending, BookingStatus.DECLINED, signals.booking_declined, current, decided_by_id=actor_id,
                      decided_at=current, reason=reason)
        BookingSeries.objects.filter(pk=series.pk).update(status=SeriesStatus.DECLINED, status_changed=current)
        series.status = SeriesStatus.DECLINED
    return series


def _waiting_entries(series: BookingSeries, since: dt.datetime) -> Any:
    """The series' student's open places in the lines of its waitlisted occurrences from ``since``."""
    sessions = BookingSeriesItem.objects.filter(series=series, status=SeriesItemStatus.WAITLISTED,
                                                start_at_utc__gte=since)
    return SessionWaitlist.objects.open().select_related("session").filter(
        student_id=series.student_id,
        session__in=get_session_model().objects.filter(recurrence_key=series.recurrence_key,
                                                       start_at_utc__in=sessions.values("start_at_utc")),
    ) if series.recurrence_key else SessionWaitlist.objects.none()


def _leave_lines(series: BookingSeries, entries: list[SessionWaitlist], now: dt.datetime) -> None:
    """Cancelling a subscription also leaves its waitlists; a held offer passes to the next in line."""
    if not entries:
        return
    SessionWaitlist.objects.filter(pk__in=[e.pk for e in entries], status__in=[WaitlistStatus.WAITING,
                                   WaitlistStatus.OFFERED]).update(status=WaitlistStatus.LEFT, status_changed=now)
    BookingSeriesItem.objects.filter(series=series, status=SeriesItemStatus.WAITLISTED,
                                     start_at_utc__in=[e.session.start_at_utc for e in entries]).update(
        status=SeriesItemStatus.CANCELLED)
    seats.free_seats(Counter(e.session_id for e in entries if e.status == WaitlistStatus.OFFERED), now)


def cancel_series(series: BookingSeries, *, actor: Any, from_start: dt.datetime | None = None, reason: str = "",
                  now: dt.datetime | None = None) -> int:
    """Cancel the series' upcoming bookings: all, or this-and-following from ``from_start``.

    Returns the number of bookings cancelled. A student is bound by the cancellation cutoff per
    occurrence: one inside the cutoff is flagged ``late_cancellation``, or, when the teacher does
    not allow late cancellations, stays booked (and is not counted). Freed seats go to waitlists.
    """
    from .booking import _student_cutoff

    require_actor(actor)
    require(is_system(actor) or actor.pk in (series.student_id, series.teacher_id)
            or get_adapter().is_staff_manager(actor), "Only the student, the teacher or a manager may cancel this series.")
    current = resolve_now(now)
    since = current if from_start is None else max(current, aware(from_start, "from_start"))
    as_student = not is_system(actor) and actor.pk == series.student_id != series.teacher_id
    with transaction.atomic():
        upcoming, lines = _read_under_locks(lambda: (
            list(_series_bookings(series, ACTIVE_BOOKING_STATUSES).filter(live_at(current), start_at_utc__gte=since)),
            list(_waiting_entries(series, since)),
        ))
        on_time, late = [], []
        for booking in upcoming:
            is_late, refusal = _student_cutoff(booking, current) if as_student else (False, None)
            if refusal is None:
                (late if is_late else on_time).append(booking)
        actor_id = None if is_system(actor) else actor.pk
        for group, flag in ((on_time, False), (late, True)):
            if group:
                _end_bookings(group, BookingStatus.CANCELLED, signals.booking_cancelled, current,
                              cancelled_by_id=actor_id, cancelled_at=current, reason=reason, late_cancellation=flag)
        _leave_lines(series, lines, current)
        if from_start is None and not _series_bookings(series, ACTIVE_BOOKING_STATUSES).filter(
                start_at_utc__gte=current).exists():
            BookingSeries.objects.filter(pk=series.pk).update(status=SeriesStatus.CANCELLED, status_changed=current)
            series.status = SeriesStatus.CANCELLED
    return len(on_time) + len(late)
