"""Recurring series: expanding a rule, planning every occurrence at once, writing them in bulk.

One read of the calendar over the whole range, then ``bulk_create`` for sessions, bookings and
items, so the cost does not grow with the occurrences.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from ...conf import booking_settings
from ...exceptions import BookingError, PolicyViolation
from ...models import (
    ACTIVE_BOOKING_STATUSES,
    BookingSeries,
    BookingSeriesItem,
    BookingStatus,
    OnConflict,
    SeriesItemStatus,
    SessionWaitlist,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from ...policy import Violation
from ...policy.rules import local_day_and_week
from . import availability, db, inputs, locks, recurrence, seats, transitions
from .intervals import IntervalSet
from .timezones import zone, zone_name


def expand(rrule: Any, first_start: Any, timezone: Any, length: int) -> tuple[str, list[recurrence.Occurrence]]:
    """The series' zone name and occurrences; every refusal a ``BookingError`` with the rule's code."""
    start_utc = inputs.aware(first_start, "first_start")
    tz = zone_name(timezone)
    if not isinstance(rrule, str):
        raise BookingError("The recurrence rule must be text such as 'FREQ=WEEKLY;COUNT=10'.", code="invalid_rrule",
                           params={"rrule": inputs.shown(rrule, 80)})
    local = start_utc.astimezone(zone(tz))
    try:
        return tz, recurrence.expand(rrule, first_start_local=local, timezone=tz,
                                     duration=dt.timedelta(minutes=length),
                                     max_occurrences=booking_settings.MAX_OCCURRENCES)
    except recurrence.RecurrenceError as exc:
        raise BookingError(exc.message, code=exc.code, params=exc.params) from exc


def on_conflict(value: Any) -> str:
    return inputs.choice(value, "on_conflict", OnConflict.values, "invalid_on_conflict")


def counter(policy: Any, existing: list[tuple[dt.datetime, str]]) -> Callable[[dt.datetime, list[dt.datetime]],
                                                                               dict[str, int]]:
    """Counts for the limit rules from rows read once, plus the series' own earlier occurrences."""
    pending = sum(1 for _, status in existing if status == BookingStatus.PENDING)

    def counts(start: dt.datetime, planned: list[dt.datetime]) -> dict[str, int]:
        (d0, d1), (w0, w1) = local_day_and_week(start, policy.timezone)
        starts = [s for s, _ in existing] + planned
        return {"day": sum(d0 <= s < d1 for s in starts), "week": sum(w0 <= s < w1 for s in starts),
                "pending": pending}

    return counts


def refuse_series(policy: Any, count: int) -> None:
    if not policy.allow_recurring:
        raise PolicyViolation([Violation("recurring_not_allowed", "This teacher does not take recurring bookings.")])
    cap = policy.max_series_occurrences
    if cap is not None and count > cap:
        raise PolicyViolation([Violation("too_many_occurrences",
                                         f"This teacher takes series of at most {cap} lessons.",
                                         {"count": count, "max": cap})])


def calendar_problems(o: recurrence.Occurrence, windows: Any, time_off: IntervalSet, busy: IntervalSet,
                      buffer: dt.timedelta) -> list[Violation]:
    if not availability.is_within_availability(o.start, o.end, windows) or time_off.meets(o.start, o.end):
        return [Violation("outside_availability", "That time is outside the teacher's availability.")]
    if busy.meets(o.start - buffer, o.end + buffer):
        return [Violation("teacher_unavailable", "The teacher already has a session at that time.")]
    return []


def write_items(series: BookingSeries, occurrences: Sequence[recurrence.Occurrence], bookings: dict[int, Any],
                skipped: dict[int, str], waitlisted: dict[int, str] | None = None, *, now: dt.datetime) -> None:
    waitlisted = waitlisted or {}
    items = []
    for o in occurrences:
        item = BookingSeriesItem(series=series, index=o.index, start_at_utc=o.start, end_at_utc=o.end,
                                 booking=bookings.get(o.index),
                                 skip_reason=skipped.get(o.index) or waitlisted.get(o.index, ""))
        transitions.begin(item, SeriesItemStatus.BOOKED if o.index in bookings else
                          SeriesItemStatus.WAITLISTED if o.index in waitlisted else SeriesItemStatus.SKIPPED, now)
        items.append(item)
    BookingSeriesItem.objects.using(db.alias()).bulk_create(items)


def series_bookings(series: BookingSeries, statuses: Any) -> Any:
    # The reverse relation from BookingSeriesItem.booking is not on the abstract model that types it.
    return get_booking_model().objects.using(db.alias()).filter(
        series_item__series=series, status__in=list(statuses)).select_related("session")  # type: ignore[misc]


def read_under_locks(read: Callable[[], tuple[list[Any], ...]]) -> tuple[list[Any], ...]:
    """Lock the sessions of what ``read()`` returns, then read again: under the locks the set is exact.

    Every booking or waitlist change locks its session first, so the second read cannot change
    under us; the first one only tells which rows to lock.
    """
    locks.lock_sessions({row.session_id for rows in read() for row in rows})
    return read()


def waiting_entries(series: BookingSeries, since: dt.datetime) -> Any:
    """The series' student's open places in the lines of its waitlisted occurrences from ``since``."""
    if not series.recurrence_key:
        return SessionWaitlist.objects.none()
    using = db.alias()
    sessions = BookingSeriesItem.objects.using(using).filter(series=series, status=SeriesItemStatus.WAITLISTED,
                                                             start_at_utc__gte=since)
    return SessionWaitlist.objects.using(using).open().select_related("session").filter(
        student_id=series.student_id,
        session__in=get_session_model().objects.using(using).filter(
            recurrence_key=series.recurrence_key, start_at_utc__in=sessions.values("start_at_utc")),
    )


def leave_lines(series: BookingSeries, entries: list[SessionWaitlist], now: dt.datetime) -> None:
    """Cancelling a subscription also leaves its waitlists; a held offer passes to the next in line."""
    if not entries:
        return
    using = db.alias()
    transitions.move_rows(SessionWaitlist.objects.using(using).filter(pk__in=[e.pk for e in entries]),
                          WaitlistStatus.LEFT, now)
    transitions.move_rows(BookingSeriesItem.objects.using(using).filter(
        series=series, start_at_utc__in=[e.session.start_at_utc for e in entries],
        status=SeriesItemStatus.WAITLISTED), SeriesItemStatus.CANCELLED, now)
    seats.free_seats({pk: n for pk, n in _count(e.session_id for e in entries
                                                if e.status == WaitlistStatus.OFFERED).items()}, now)


def close_if_done(series: BookingSeries, now: dt.datetime) -> None:
    """A series with no active booking left from ``now`` on is cancelled."""
    if not series_bookings(series, ACTIVE_BOOKING_STATUSES).filter(start_at_utc__gte=now).exists():
        from ...models import SeriesStatus

        transitions.move(series, SeriesStatus.CANCELLED, now, queryset=BookingSeries.objects.using(db.alias()))


def _count(values: Any) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
