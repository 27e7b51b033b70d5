"""Recurring series: an RFC 5545 RRULE expanded in local wall-clock time, each start then placed in UTC.

Pure: no database, no models. A weekly 17:00 lesson stays at 17:00 local time across DST changes, so its
UTC time moves. Every refusal is a :class:`RecurrenceError` with a stable ``code``; the rule itself is
parsed and walked by :mod:`.rrule`, within bounded work.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from . import rrule as rules
from .rrule import (
    MAX_DURATION,
    MAX_RULE_LENGTH,
    MAX_SPAN_YEARS,
    MAX_STARTS_PER_DAY,
    MAX_VALUES,
    RecurrenceError,
)
from .timezones import find_zone

__all__ = [
    "MAX_DURATION", "MAX_RULE_LENGTH", "MAX_SPAN_YEARS", "MAX_STARTS_PER_DAY", "MAX_VALUES", "Occurrence",
    "RecurrenceError", "expand",
]


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a series: ``index`` counts from 0, ``start`` and ``end`` are aware UTC.

    ``local_start`` is the naive wall-clock time the rule produced; for a time inside a spring-forward gap
    it is that non-existent time, while ``start`` is the instant it was moved to.
    """

    index: int
    local_start: dt.datetime
    start: dt.datetime
    end: dt.datetime



def _zone(name: str) -> zoneinfo.ZoneInfo:
    found = find_zone(name)
    if found is None:
        raise RecurrenceError(
            f"{str(name)[:80]!r} is not a known time zone; use an IANA name such as 'Europe/London'.",
            code="invalid_timezone", params={"timezone": str(name)[:80]},
        )
    return found


def _years_later(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # February 29
        return moment.replace(year=moment.year + years, day=28)


def _in_utc(local_starts: Iterable[dt.datetime], tz: zoneinfo.ZoneInfo,
            first: tuple[dt.datetime, dt.datetime]) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    last: dt.datetime | None = None
    for local in local_starts:
        # The first start keeps its instant. An ambiguous time takes its first occurrence (fold=0) unless that
        # is not after the previous start; a time in a spring-forward gap gets the offset from before the
        # change, which moves it forward by the gap. A sub-daily rule crossing a gap produces wall times that
        # land on instants already produced (London 01:30 and 02:30 are both 01:30 UTC): UTC starts stay
        # strictly increasing.
        instants = [first[1]] if local == first[0] else [local.replace(tzinfo=tz, fold=f).astimezone(dt.UTC)
                                                        for f in (0, 1)]
        start = next((instant for instant in instants if last is None or instant > last), None)
        if start is not None:
            last = start
            yield local, start


def _first(first_start: dt.datetime, tz: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The wall-clock time of the first start in ``tz``, and its instant in UTC."""
    if first_start.utcoffset() is not None:
        return first_start.astimezone(tz).replace(tzinfo=None, fold=0), first_start.astimezone(dt.UTC)
    local = first_start.replace(fold=0)
    early, late = (first_start.replace(tzinfo=tz, fold=fold).astimezone(dt.UTC) for fold in (0, 1))
    # fold=1 names the second of two equal wall-clock times; inside a gap it would move the time back.
    return local, late if first_start.fold and late > early else early


def expand(
    rrule: str,
    *,
    first_start_local: dt.datetime,
    timezone: str,
    duration: dt.timedelta,
    max_occurrences: int,
) -> list[Occurrence]:
    """The occurrences of ``rrule`` starting at ``first_start_local`` in ``timezone``, in order.

    ``rrule`` is one RFC 5545 RRULE value, with or without the ``RRULE:`` prefix. ``first_start_local`` is
    the wall-clock time of the first lesson, or an aware datetime, first turned into the wall clock of
    ``timezone``. It counts as an occurrence only if the rule matches it, as RFC 5545 leaves an
    unsynchronised start undefined, and then starts at exactly the instant given (a naive ``fold=1`` names
    the second of two equal wall-clock times). UNTIL may be a UTC date-time (``Z``), a local date-time or a
    date (the whole local day counts). Each ``end`` is ``start + duration`` in real time. A sub-daily rule
    crossing a spring-forward gap yields each instant once, so it may yield fewer than its COUNT.

    Limits, which bound the work: the text is at most :data:`MAX_RULE_LENGTH` characters; FREQ is YEARLY,
    MONTHLY, WEEKLY, DAILY, HOURLY or MINUTELY, the last two without BY parts; BYWEEKNO and BYYEARDAY need
    YEARLY, BYMONTHDAY is refused with WEEKLY, a numbered BYDAY needs MONTHLY or YEARLY, BYSETPOS needs
    YEARLY, MONTHLY or WEEKLY and another BY part; BY values stay in their RFC ranges (BYSECOND 0-59), at
    most :data:`MAX_VALUES` to a part and :data:`MAX_STARTS_PER_DAY` start times a day; ``duration`` is at
    most :data:`rules.MAX_DURATION`; the first start lies in the years 2 to 9988; every occurrence starts within
    :data:`rules.MAX_SPAN_YEARS` years of it, and the expansion looks no further.

    Raises :class:`RecurrenceError`: ``invalid_rrule`` if the rule is malformed, outside those limits,
    produces nothing or runs on past the span; ``too_many_occurrences`` if it would produce more than
    ``max_occurrences`` (decided from COUNT before any expansion); ``invalid_timezone`` for an unknown
    ``timezone``; ``invalid_duration`` if ``duration`` is not positive or too long.
    """
    if max_occurrences < 1:
        raise ValueError(f"max_occurrences must be at least 1, not {max_occurrences!r}")
    if not dt.timedelta(0) < duration <= rules.MAX_DURATION:
        raise RecurrenceError(
            f"A lesson must last longer than zero and at most {rules.MAX_DURATION}; got {duration}.",
            code="invalid_duration", params={"duration": duration, "max": rules.MAX_DURATION},
        )
    tz = _zone(timezone)
    parts = rules.parts(rrule)
    count = int(parts.get("COUNT", 0))
    if count > max_occurrences:
        raise RecurrenceError(
            f"COUNT={count} asks for more than the {max_occurrences} occurrences a series may have; lower it.",
            code="too_many_occurrences", params={"count": count, "max": max_occurrences},
        )
    try:
        first = _first(first_start_local, tz)
    except OverflowError:
        first = (dt.datetime.min, dt.datetime.min)
    if not rules.FIRST_YEAR <= first[0].year <= rules.LAST_YEAR:
        raise rules.invalid(rrule, f"the first start must lie in the years {rules.FIRST_YEAR} to {rules.LAST_YEAR}",
                       first_start=first_start_local)
    rule = rules.rule(rrule, parts, first[0])
    horizon = _years_later(first[0], rules.MAX_SPAN_YEARS)
    stop, until_utc, ends = horizon, None, False
    if "UNTIL" in parts:
        local_until, until_utc = rules.until(rrule, parts["UNTIL"], tz)
        stop = min(local_until, horizon)
        ends = until_utc <= horizon.replace(tzinfo=tz).astimezone(dt.UTC) if until_utc else local_until <= horizon
    walked: Iterable[dt.datetime] = rules.walk(rule, first[0], stop)
    if count:
        walked = list(itertools.islice(walked, count))  # at most max_occurrences: COUNT was checked above
        ends = len(walked) == count
    starts = _in_utc(walked, tz, first)
    if until_utc is not None:
        starts = itertools.takewhile(lambda pair: pair[1] <= until_utc, starts)
    # One past the cap is enough to refuse: an endless rule is never materialised.
    found = list(itertools.islice(starts, max_occurrences + 1))
    if len(found) > max_occurrences:
        raise RecurrenceError(
            f"The series would have more than {max_occurrences} occurrences; end it sooner with COUNT or UNTIL.",
            code="too_many_occurrences", params={"max": max_occurrences},
        )
    if not ends:
        reason = (f"the series runs on more than {rules.MAX_SPAN_YEARS} years after its first start; end it sooner "
                  "with COUNT or UNTIL") if found else f"it produces no occurrence within {rules.MAX_SPAN_YEARS} years"
        raise rules.invalid(rrule, reason, max_years=rules.MAX_SPAN_YEARS)
    if not found:
        raise rules.invalid(rrule, "the rule produces no occurrences (is UNTIL before the first start?)")
    return [Occurrence(i, local, start, start + duration) for i, (local, start) in enumerate(found)]
