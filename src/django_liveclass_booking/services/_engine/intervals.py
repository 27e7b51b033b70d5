"""The one interval set: half-open [start, end) intervals of datetimes, kept merged and sorted.

Availability windows, time off, a teacher's busy sessions, a series being planned and the legacy
import all ask it the same questions: does [s, e) meet anything, and is [s, e) wholly covered.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable

Interval = tuple[dt.datetime, dt.datetime]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same instants (touching ones joined, empty dropped)."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class IntervalSet:
    """Merged intervals: each question is one bisect, whatever their number or length."""

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        merged = merge(intervals)
        self._starts = [a for a, _ in merged]
        self._ends = [b for _, b in merged]

    def __len__(self) -> int:
        return len(self._starts)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(zip(self._starts, self._ends, strict=True))

    def meets(self, start: dt.datetime, end: dt.datetime) -> bool:
        """Whether some interval shares an instant with [start, end)."""
        i = bisect.bisect_right(self._ends, start)  # the first interval still running after `start`
        return i < len(self._starts) and self._starts[i] < end

    def covers(self, start: dt.datetime, end: dt.datetime) -> bool:
        """Whether one interval contains all of [start, end)."""
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and end <= self._ends[i]

    def add(self, start: dt.datetime, end: dt.datetime) -> None:
        if end <= start:
            return
        lo = bisect.bisect_left(self._ends, start)  # first interval ending at or after `start`
        hi = bisect.bisect_right(self._starts, end)  # intervals from here start after `end`
        if lo < hi:
            start, end = min(start, self._starts[lo]), max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]


class LabelledIntervals:
    """Intervals that keep their own identity (a label each), for reports that must say what clashed.

    Unmerged, sorted by start; a question costs O(log n) plus the intervals that may meet it.
    """

    def __init__(self, entries: Iterable[tuple[dt.datetime, dt.datetime, str]] = ()) -> None:
        self._entries = sorted(entries)
        self._longest = max((end - start for start, end, _ in self._entries), default=dt.timedelta(0))

    def first_meeting(self, start: dt.datetime, end: dt.datetime,
                      buffer: dt.timedelta = dt.timedelta(0)) -> str | None:
        """The label of the first interval within ``buffer`` of [start, end), or None (half-open)."""
        low, high = start - buffer, end + buffer
        # Entries that may reach ``low`` start after low - longest; those from ``high`` on cannot meet it.
        i = bisect.bisect_right(self._entries, (low - self._longest,))
        j = bisect.bisect_left(self._entries, (high,))
        for other_start, other_end, label in self._entries[i:j]:
            if other_start < high and other_end > low:
                return label
        return None

    def add(self, start: dt.datetime, end: dt.datetime, label: str) -> None:
        bisect.insort(self._entries, (start, end, label))
        self._longest = max(self._longest, end - start)
