"""Free slots for 1:1 lessons: weekly wall-clock windows turned into UTC intervals, minus what is taken.

Pure: no database, no models. Every datetime going in must be timezone-aware; everything coming out is UTC.
Intervals are half-open ``(start, end)`` pairs.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .intervals import Interval, IntervalSet, merge
from .timezones import find_zone

__all__ = ["Window", "free_slots", "is_within_availability", "window_intervals"]

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """A weekly availability window in local wall-clock time.

    ``weekday`` is 0 for Monday (as ``date.weekday()``), ``timezone`` an IANA name. Windows never cross
    midnight: ``end_time`` must be after ``start_time``.
    """

    weekday: int
    start_time: dt.time
    end_time: dt.time
    timezone: str

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, not {self.weekday!r}")
        if self.start_time.tzinfo is not None or self.end_time.tzinfo is not None:
            raise ValueError("window times are wall-clock times and take no tzinfo")
        if self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time (windows never cross midnight)")
        if find_zone(self.timezone) is None:  # an unknown name fails here, not at the first query
            raise ValueError(f"unknown time zone {self.timezone!r}")


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    # astimezone() would read a naive datetime as the server's local time: refuse it instead.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(dt.UTC)


def _wall_to_utc(day: dt.date, wall: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    # fold=0 takes the first occurrence of an ambiguous time. For a time in a spring-forward gap zoneinfo
    # applies the offset from before the change, which is the wall time moved forward by the gap. Times
    # compare equal whatever their fold, so it is forced rather than read from the window.
    return dt.datetime.combine(day, wall.replace(fold=0), tzinfo=tz).astimezone(dt.UTC)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    found = find_zone(name)
    if found is None:
        raise ValueError(f"unknown time zone {name!r}")
    return found


def _local_days(tz: zoneinfo.ZoneInfo, range_start: dt.datetime, range_end: dt.datetime) -> tuple[dt.date, dt.date]:
    # One day beyond each side: a local date and its UTC date differ by up to a day either way.
    return range_start.astimezone(tz).date() - _DAY, range_end.astimezone(tz).date() + _DAY


def _blocks(intervals: Iterable[Interval], name: str) -> IntervalSet:
    return IntervalSet((_utc(a, name), _utc(b, name)) for a, b in intervals)


def window_intervals(windows: Iterable[Window], range_start: dt.datetime, range_end: dt.datetime) -> list[Interval]:
    """The UTC intervals of ``windows`` that intersect ``[range_start, range_end)``, merged and sorted.

    Windows keep their wall-clock time, so their UTC time moves at DST changes. A start or end in a
    spring-forward gap moves forward by the gap; an ambiguous one takes its first occurrence. Overlapping or
    touching intervals (also of different windows and timezones) are merged; empty ones are dropped.
    Intervals are not clipped to the range.
    """
    range_start, range_end = _utc(range_start, "range_start"), _utc(range_end, "range_end")
    found: list[Interval] = []
    for window in windows:
        tz = _zone(window.timezone)
        first, last = _local_days(tz, range_start, range_end)
        day = first + dt.timedelta(days=(window.weekday - first.weekday()) % 7)
        while day <= last:
            start, end = _wall_to_utc(day, window.start_time, tz), _wall_to_utc(day, window.end_time, tz)
            if start < range_end and range_start < end:
                found.append((start, end))
            day += dt.timedelta(days=7)
    return merge(found)


def free_slots(
    *,
    range_start: dt.datetime,
    range_end: dt.datetime,
    duration: dt.timedelta,
    step: dt.timedelta,
    windows: Sequence[Window] | None,
    day_timezone: str,
    time_off: Iterable[Interval],
    busy: Iterable[Interval],
    buffer: dt.timedelta,
    earliest: dt.datetime,
    latest: dt.datetime | None,
) -> list[Interval]:
    """The bookable ``(start, end)`` UTC pairs of length ``duration`` in ``[range_start, range_end)``, sorted.

    Starts lie on a grid of ``step`` anchored at the start of each merged availability interval
    (``windows=None``: every local day of ``day_timezone``, so slots may run past local midnight). A slot
    is kept if it starts no earlier than ``earliest`` and no later than ``latest`` (if given), overlaps
    nothing in ``time_off``, and keeps ``buffer`` clear on both sides of everything in ``busy``.
    """
    if duration <= dt.timedelta(0) or step <= dt.timedelta(0):
        raise ValueError("duration and step must be positive")
    if buffer < dt.timedelta(0):
        raise ValueError("buffer must not be negative")
    range_start, range_end = _utc(range_start, "range_start"), _utc(range_end, "range_end")
    first = max(range_start, _utc(earliest, "earliest"))
    last = range_end - duration
    if latest is not None:
        last = min(last, _utc(latest, "latest"))
    if windows is None:
        tz = _zone(day_timezone)
        first_day, last_day = _local_days(tz, range_start, range_end)
        intervals = [(_wall_to_utc(first_day, dt.time(), tz), _wall_to_utc(last_day + _DAY, dt.time(), tz))]
    else:
        # A day's margin so that a window touching one inside the range still anchors the merged grid,
        # whatever the range's edges.
        intervals = window_intervals(windows, range_start - _DAY, range_end + _DAY)
    off, taken = _blocks(time_off, "time_off"), _blocks(busy, "busy")

    slots: list[Interval] = []
    for interval_start, interval_end in intervals:
        k = max(0, -((interval_start - first) // step))  # the first grid point not before `first`
        start = interval_start + k * step
        while start <= last and start + duration <= interval_end:
            end = start + duration
            if not off.meets(start, end) and not taken.meets(start - buffer, end + buffer):
                slots.append((start, end))
            start += step
    return slots


def is_within_availability(start: dt.datetime, end: dt.datetime, windows: Sequence[Window] | None) -> bool:
    """Whether ``[start, end)`` lies wholly inside one merged interval of ``window_intervals``.

    ``windows=None`` means no availability is required: always true.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        raise ValueError("end must be after start")
    if windows is None:
        return True
    return IntervalSet(window_intervals(windows, start, end)).covers(start, end)
