"""Time intervals: when two of them overlap, and one teacher's busy intervals searched in order.

The planner refuses a group session or a 1:1 lesson that meets another of the same teacher's;
this is the only place that decides what "meets" means.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable


def overlaps(start: dt.datetime, end: dt.datetime, other_start: dt.datetime, other_end: dt.datetime,
             buffer: dt.timedelta = dt.timedelta(0)) -> bool:
    """Whether [other_start, other_end) comes within ``buffer`` of [start, end).

    Half-open: a lesson may start the minute the previous one ends, when there is no buffer.
    """
    return other_start < end + buffer and other_end > start - buffer


class TeacherCalendar:
    """One teacher's scheduled intervals with a label each, for overlap checks in O(log n) plus the matches."""

    def __init__(self, entries: Iterable[tuple[dt.datetime, dt.datetime, str]] = ()) -> None:
        self._entries = sorted(entries)
        self._longest = max((end - start for start, end, _ in self._entries), default=dt.timedelta(0))

    def clash(self, start: dt.datetime, end: dt.datetime, buffer: dt.timedelta) -> str | None:
        """The label of the first interval within ``buffer`` of [start, end), or None."""
        low, high = start - buffer, end + buffer
        # Entries that may reach ``low`` start after low - longest; those past ``high`` cannot meet it.
        i = bisect.bisect_right(self._entries, (low - self._longest,))
        j = bisect.bisect_left(self._entries, (high,))
        for other_start, other_end, label in self._entries[i:j]:
            if overlaps(start, end, other_start, other_end, buffer):
                return label
        return None

    def add(self, start: dt.datetime, end: dt.datetime, label: str) -> None:
        bisect.insort(self._entries, (start, end, label))
        self._longest = max(self._longest, end - start)
