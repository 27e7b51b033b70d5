"""Recurring series: an RFC 5545 RRULE expanded in local wall-clock time, each start then placed in UTC.

Pure: no database, no models. A weekly 17:00 lesson stays at 17:00 local time across DST changes, so its
UTC time moves. Every refusal is a :class:`RecurrenceError` with a stable ``code``.

The expansion is bounded by the calendar it examines, never by a clock: it walks the rule's periods (years,
months, weeks or days) up to :data:`MAX_SPAN_YEARS` after the first start and stops there, so a rule that can
never match, or matches once in centuries, costs a few thousand day checks at most.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_DURATION", "MAX_RULE_LENGTH", "MAX_SPAN_YEARS", "MAX_STARTS_PER_DAY", "MAX_VALUES", "Occurrence",
    "RecurrenceError", "expand",
]

#: Longest rule text accepted, in characters.
MAX_RULE_LENGTH = 500
#: Every occurrence starts at most this many years after the first start.
MAX_SPAN_YEARS = 10
#: Longest lesson.
MAX_DURATION = dt.timedelta(hours=24)
#: Most values one BY part may list.
MAX_VALUES = 60
#: Most start times a day may get from BYHOUR x BYMINUTE x BYSECOND.
MAX_STARTS_PER_DAY = 96

_NAMES = frozenset(
    {"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY",
     "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"}
)
_VALUE = re.compile(r"[A-Z0-9,+-]+")
_POSITIVE = re.compile(r"0*[1-9][0-9]*")  # int() would also take "1_000" and " 7"
_NUMBER = re.compile(r"[+-]?[0-9]{1,3}")
_WEEKDAY = re.compile(r"([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY")
_STEP = {"HOURLY": dt.timedelta(hours=1), "MINUTELY": dt.timedelta(minutes=1)}
_RANGES = {"BYSECOND": (0, 59), "BYMINUTE": (0, 59), "BYHOUR": (0, 23), "BYMONTH": (1, 12), "BYMONTHDAY": (-31, 31),
           "BYYEARDAY": (-366, 366), "BYWEEKNO": (-53, 53), "BYSETPOS": (-366, 366)}
# RFC 5545 3.3.10 restricts these parts to some frequencies; BYSETPOS is kept to periods holding several days.
_ONLY_WITH = {"BYWEEKNO": ("YEARLY",), "BYYEARDAY": ("YEARLY",), "BYMONTHDAY": ("YEARLY", "MONTHLY", "DAILY"),
              "BYSETPOS": ("YEARLY", "MONTHLY", "WEEKLY")}
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Keeps the first start far enough from years 1 and 9999 for the span and the UTC offsets.
_FIRST_YEAR, _LAST_YEAR = dt.MINYEAR + 1, dt.MAXYEAR - MAX_SPAN_YEARS - 1


class RecurrenceError(ValueError):
    """A recurrence was refused. ``code`` is stable; ``str(error)`` is a message a person can act on.

    Codes: ``invalid_rrule``, ``too_many_occurrences``, ``invalid_timezone``, ``invalid_duration``.
    ``params`` holds the values the message was built from.
    """

    def __init__(self, message: str, *, code: str, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message: str = message
        self.code: str = code
        self.params: dict[str, Any] = dict(params or {})


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


@dataclass(frozen=True)
class _Rule:
    freq: str
    interval: int
    wkst: int
    months: frozenset[int]
    weeknos: frozenset[int]
    yeardays: frozenset[int]
    monthdays: frozenset[int]
    weekdays: frozenset[int]
    nth: frozenset[tuple[int, int]]
    setpos: frozenset[int]
    times: tuple[dt.time, ...]


def _invalid(text: Any, reason: str, **params: Any) -> RecurrenceError:
    return RecurrenceError(
        f"{text!r} is not a usable recurrence rule: {reason}.", code="invalid_rrule",
        params={"rrule": text, "reason": reason, **params},
    )


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise RecurrenceError(
            f"{name!r} is not a known time zone; use an IANA name such as 'Europe/London'.",
            code="invalid_timezone", params={"timezone": name},
        ) from None


def _parts(text: Any) -> dict[str, str]:
    if not isinstance(text, str):
        raise _invalid(text, f"give the rule as text, not {type(text).__name__}")
    if len(text) > MAX_RULE_LENGTH:
        raise _invalid(text, f"it is longer than {MAX_RULE_LENGTH} characters")
    body = text.strip().upper()
    body = body.removeprefix("RRULE:")
    if not body:
        raise _invalid(text, "it is empty")
    if "DTSTART" in body:
        raise _invalid(text, "the start comes from the series' first lesson, so leave DTSTART out")
    if re.search(r"[\s:]", body):
        raise _invalid(text, "give a single RRULE value, without RDATE, EXDATE or other lines")
    parts: dict[str, str] = {}
    for part in body.split(";"):
        name, _, value = part.partition("=")
        if name not in _NAMES:
            raise _invalid(text, f"{part!r} is not a known NAME=VALUE part" if part else "it has an empty part")
        if name in parts:
            raise _invalid(text, f"{name} is given twice")  # RFC 5545 3.3.10: each part at most once
        if not (_UNTIL if name == "UNTIL" else _VALUE).fullmatch(value):
            raise _invalid(text, f"{name}={value} has a malformed value")
        if name in ("COUNT", "INTERVAL") and not _POSITIVE.fullmatch(value):
            raise _invalid(text, f"{name} must be a whole number of at least 1")
        parts[name] = value
    if "FREQ" not in parts:
        raise _invalid(text, "FREQ is required")
    if "COUNT" in parts and "UNTIL" in parts:
        raise _invalid(text, "use COUNT or UNTIL, not both")  # RFC 5545 3.3.10
    return parts


def _numbers(text: str, parts: Mapping[str, str], name: str) -> frozenset[int]:
    if name not in parts:
        return frozenset()
    low, high = _RANGES[name]
    values = parts[name].split(",")
    if len(values) > MAX_VALUES:
        raise _invalid(text, f"{name} lists more than {MAX_VALUES} values")
    allowed = f"{low} to {high}" if low >= 0 else f"1 to {high} or -{high} to -1"
    for value in values:
        if not _NUMBER.fullmatch(value) or not low <= int(value) <= high or (low < 0 and int(value) == 0):
            raise _invalid(text, f"{name} takes whole numbers from {allowed}, not {value!r}")
    return frozenset(int(value) for value in values)


def _weekdays(text: str, parts: Mapping[str, str], freq: str) -> tuple[frozenset[int], frozenset[tuple[int, int]]]:
    if "BYDAY" not in parts:
        return frozenset(), frozenset()
    values = parts["BYDAY"].split(",")
    if len(values) > MAX_VALUES:
        raise _invalid(text, f"BYDAY lists more than {MAX_VALUES} values")
    # A numbered weekday counts within the month, or within the year for a YEARLY rule without BYMONTH.
    most = 53 if freq == "YEARLY" and "BYMONTH" not in parts else 5
    plain, nth = set(), set()
    for value in values:
        match = _WEEKDAY.fullmatch(value)
        if not match:
            raise _invalid(text, f"BYDAY takes weekdays such as MO or 2TU, not {value!r}")
        number, weekday = match.group(1), _WEEKDAYS.index(match.group(2))
        if number is None:
            plain.add(weekday)
        elif freq not in ("MONTHLY", "YEARLY") or "BYWEEKNO" in parts:  # RFC 5545 3.3.10
            raise _invalid(text, f"a numbered weekday such as {value} needs FREQ=MONTHLY or YEARLY without BYWEEKNO")
        elif not 1 <= abs(int(number)) <= most:
            raise _invalid(text, f"the number in BYDAY={value} must be from 1 to {most} or -{most} to -1")
        else:
            nth.add((weekday, int(number)))
    return frozenset(plain), frozenset(nth)


def _rule(text: str, parts: Mapping[str, str], first: dt.datetime) -> _Rule:
    """The checked rule, with the parts RFC 5545 takes from the first start when they are left out."""
    freq = parts["FREQ"]
    if freq == "SECONDLY":
        raise _invalid(text, "lessons do not repeat by the second; use MINUTELY or a longer FREQ")
    if freq not in _FREQS:
        raise _invalid(text, f"FREQ must be one of {', '.join(_FREQS)}")
    by = sorted(name for name in parts if name.startswith("BY"))
    if freq in _STEP and by:
        raise _invalid(text, f"FREQ={freq} takes no {by[0]}; for several lessons a day use FREQ=DAILY or "
                             "WEEKLY with BYHOUR and BYMINUTE")
    for name in by:
        if name in _ONLY_WITH and freq not in _ONLY_WITH[name]:
            raise _invalid(text, f"{name} needs FREQ={' or '.join(_ONLY_WITH[name])}")
    if by == ["BYSETPOS"]:
        raise _invalid(text, "BYSETPOS picks among the dates of other BY parts, so give one")  # RFC 5545 3.3.10
    if parts.get("WKST", "MO") not in _WEEKDAYS:
        raise _invalid(text, "WKST takes a weekday such as MO")
    months, monthdays = _numbers(text, parts, "BYMONTH"), _numbers(text, parts, "BYMONTHDAY")
    if months and monthdays and not any(abs(day) <= _LONGEST_MONTH[month - 1] for month in months
                                        for day in monthdays):
        raise _invalid(text, f"no month in BYMONTH={parts['BYMONTH']} has a day BYMONTHDAY={parts['BYMONTHDAY']}")
    weekdays, nth = _weekdays(text, parts, freq)
    weeknos, yeardays = _numbers(text, parts, "BYWEEKNO"), _numbers(text, parts, "BYYEARDAY")
    if not (weeknos or yeardays or monthdays or weekdays or nth):
        if freq == "YEARLY":
            months, monthdays = months or frozenset({first.month}), frozenset({first.day})
        elif freq == "MONTHLY":
            monthdays = frozenset({first.day})
        elif freq == "WEEKLY":
            weekdays = frozenset({first.weekday()})
    hours, minutes, seconds = (_numbers(text, parts, name) or frozenset({default}) for name, default in
                               (("BYHOUR", first.hour), ("BYMINUTE", first.minute), ("BYSECOND", first.second)))
    if len(hours) * len(minutes) * len(seconds) > MAX_STARTS_PER_DAY:
        raise _invalid(text, f"BYHOUR, BYMINUTE and BYSECOND give more than {MAX_STARTS_PER_DAY} start times a day")
    return _Rule(
        freq=freq, interval=int(parts.get("INTERVAL", "1")), wkst=_WEEKDAYS.index(parts.get("WKST", "MO")),
        months=months, weeknos=weeknos, yeardays=yeardays, monthdays=monthdays, weekdays=weekdays, nth=nth,
        setpos=_numbers(text, parts, "BYSETPOS"),
        times=tuple(sorted(dt.time(h, m, s, first.microsecond) for h in hours for m in minutes for s in seconds)),
    )


def _periods(rule: _Rule, first: dt.date, last: dt.date) -> Iterator[list[dt.date]]:
    """The days of each period of the rule, from the one holding ``first`` to the last starting by ``last``."""
    if rule.freq == "YEARLY":
        for year in range(first.year, last.year + 1, rule.interval):
            start = dt.date(year, 1, 1).toordinal()
            yield [dt.date.fromordinal(start + i) for i in range(365 + calendar.isleap(year))]
    elif rule.freq == "MONTHLY":
        for index in range(first.year * 12 + first.month - 1, last.year * 12 + last.month, rule.interval):
            year, month = divmod(index, 12)
            yield [dt.date(year, month + 1, day) for day in range(1, calendar.monthrange(year, month + 1)[1] + 1)]
    else:
        weekly = rule.freq == "WEEKLY"
        start = first.toordinal() - ((first.weekday() - rule.wkst) % 7 if weekly else 0)
        for day in range(start, last.toordinal() + 1, rule.interval * (7 if weekly else 1)):
            yield [dt.date.fromordinal(day + i) for i in range(7 if weekly else 1)]


def _week_one(year: int, wkst: int) -> dt.date:
    # Week 1 is the first week holding at least four days of the year, so it always holds January 4.
    jan4 = dt.date(year, 1, 4)
    return jan4 - dt.timedelta(days=(jan4.weekday() - wkst) % 7)


def _in_weeks(day: dt.date, weeknos: frozenset[int], wkst: int) -> bool:
    start = day - dt.timedelta(days=(day.weekday() - wkst) % 7)
    year = (start + dt.timedelta(days=3)).year  # a week belongs to the year holding most of its days
    one = _week_one(year, wkst)
    number, weeks = (start - one).days // 7 + 1, (_week_one(year + 1, wkst) - one).days // 7
    return number in weeknos or number - weeks - 1 in weeknos


def _numbered(rule: _Rule, days: list[dt.date]) -> set[dt.date]:
    """The days matching a numbered BYDAY (2TU, -1FR) in this period."""
    if rule.freq == "YEARLY" and rule.months:
        year = days[0].year
        spans = [(dt.date(year, m, 1), dt.date(year, m, calendar.monthrange(year, m)[1])) for m in rule.months]
    else:
        spans = [(days[0], days[-1])]
    found = set()
    for low, high in spans:
        for weekday, n in rule.nth:
            if n > 0:
                day = low + dt.timedelta(days=(n - 1) * 7 + (weekday - low.weekday()) % 7)
            else:
                day = high - dt.timedelta(days=(-n - 1) * 7 + (high.weekday() - weekday) % 7)
            if low <= day <= high:
                found.add(day)
    return found


def _keeps(rule: _Rule, day: dt.date, numbered: set[dt.date]) -> bool:
    if rule.months and day.month not in rule.months:
        return False
    if rule.monthdays:
        length = calendar.monthrange(day.year, day.month)[1]
        if day.day not in rule.monthdays and day.day - length - 1 not in rule.monthdays:
            return False
    if rule.yeardays:
        number, length = day.timetuple().tm_yday, 365 + calendar.isleap(day.year)
        if number not in rule.yeardays and number - length - 1 not in rule.yeardays:
            return False
    if rule.weeknos and not _in_weeks(day, rule.weeknos, rule.wkst):
        return False
    return not (rule.weekdays or rule.nth) or day.weekday() in rule.weekdays or day in numbered


def _walk(rule: _Rule, first: dt.datetime, stop: dt.datetime) -> Iterator[dt.datetime]:
    """The naive local starts of ``rule`` from ``first`` up to ``stop``, in order."""
    if rule.freq in _STEP:
        # A step longer than the span ends the walk either way; bounding it keeps the timedelta in range.
        step = _STEP[rule.freq] * min(rule.interval, (MAX_SPAN_YEARS + 1) * 366 * 24 * 60)
        at = first
        while at <= stop:
            yield at
            if stop - at < step:
                return
            at += step
        return
    times = rule.times
    for days in _periods(rule, first.date(), stop.date()):
        numbered = _numbered(rule, days) if rule.nth else set()
        if rule.setpos:  # positions count within the whole period, so every day of it is needed
            kept = [day for day in days if _keeps(rule, day, numbered)]
            size = len(kept) * len(times)
            picks = sorted({pos - 1 if pos > 0 else size + pos for pos in rule.setpos if abs(pos) <= size})
            starts: Iterable[dt.datetime] = [dt.datetime.combine(kept[i // len(times)], times[i % len(times)])
                                             for i in picks]
        else:
            kept = [day for day in days if day >= first.date() and _keeps(rule, day, numbered)]
            starts = (dt.datetime.combine(day, time) for day in kept for time in times)
        for start in starts:
            if start > stop:
                return
            if start >= first:
                yield start


def _until(text: str, value: str, tz: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime | None]:
    """The naive local bound for the walk, and the exact UTC bound when UNTIL was given in UTC."""
    day, time, utc = _UNTIL.fullmatch(value).groups()  # type: ignore[union-attr]
    try:
        # A date-only UNTIL would be read as midnight and drop that day's own lesson: keep the whole day.
        until = dt.datetime.strptime(day + (time or "235959"), "%Y%m%d%H%M%S")
    except ValueError:
        raise _invalid(text, f"UNTIL={value} is not a real date and time") from None
    if not utc:
        return until, None
    # The local wall clock of a UTC instant is ambiguous in the repeated hour after a fall-back, so the walk
    # gets a day's margin and the exact bound is applied to the UTC starts.
    until_utc = until.replace(tzinfo=dt.UTC)
    try:
        return until_utc.astimezone(tz).replace(tzinfo=None) + dt.timedelta(days=1), until_utc
    except OverflowError:
        return dt.datetime.max, until_utc


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
    most :data:`MAX_DURATION`; the first start lies in the years 2 to 9988; every occurrence starts within
    :data:`MAX_SPAN_YEARS` years of it, and the expansion looks no further.

    Raises :class:`RecurrenceError`: ``invalid_rrule`` if the rule is malformed, outside those limits,
    produces nothing or runs on past the span; ``too_many_occurrences`` if it would produce more than
    ``max_occurrences`` (decided from COUNT before any expansion); ``invalid_timezone`` for an unknown
    ``timezone``; ``invalid_duration`` if ``duration`` is not positive or too long.
    """
    if max_occurrences < 1:
        raise ValueError(f"max_occurrences must be at least 1, not {max_occurrences!r}")
    if not dt.timedelta(0) < duration <= MAX_DURATION:
        raise RecurrenceError(
            f"A lesson must last longer than zero and at most {MAX_DURATION}; got {duration}.",
            code="invalid_duration", params={"duration": duration, "max": MAX_DURATION},
        )
    tz = _zone(timezone)
    parts = _parts(rrule)
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
    if not _FIRST_YEAR <= first[0].year <= _LAST_YEAR:
        raise _invalid(rrule, f"the first start must lie in the years {_FIRST_YEAR} to {_LAST_YEAR}",
                       first_start=first_start_local)
    rule = _rule(rrule, parts, first[0])
    horizon = _years_later(first[0], MAX_SPAN_YEARS)
    stop, until_utc, ends = horizon, None, False
    if "UNTIL" in parts:
        local_until, until_utc = _until(rrule, parts["UNTIL"], tz)
        stop = min(local_until, horizon)
        ends = until_utc <= horizon.replace(tzinfo=tz).astimezone(dt.UTC) if until_utc else local_until <= horizon
    walked: Iterable[dt.datetime] = _walk(rule, first[0], stop)
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
        reason = (f"the series runs on more than {MAX_SPAN_YEARS} years after its first start; end it sooner "
                  "with COUNT or UNTIL") if found else f"it produces no occurrence within {MAX_SPAN_YEARS} years"
        raise _invalid(rrule, reason, max_years=MAX_SPAN_YEARS)
    if not found:
        raise _invalid(rrule, "the rule produces no occurrences (is UNTIL before the first start?)")
    return [Occurrence(i, local, start, start + duration) for i, (local, start) in enumerate(found)]
