"""RFC 5545 RRULE values: parsed into a bounded rule, and walked period by period in wall-clock time.

The walk is bounded by the calendar it examines, never by a clock: it walks the rule's periods (years,
months, weeks or days) up to a given stop and no further, so a rule that can never match costs a few
thousand day checks at most. Pure: no database, no models.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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
FIRST_YEAR, LAST_YEAR = dt.MINYEAR + 1, dt.MAXYEAR - MAX_SPAN_YEARS - 1



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
class Rule:
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


def invalid(text: Any, reason: str, **params: Any) -> RecurrenceError:
    return RecurrenceError(
        f"{text!r} is not a usable recurrence rule: {reason}.", code="invalid_rrule",
        params={"rrule": text, "reason": reason, **params},
    )



def parts(text: Any) -> dict[str, str]:
    if not isinstance(text, str):
        raise invalid(text, f"give the rule as text, not {type(text).__name__}")
    if len(text) > MAX_RULE_LENGTH:
        raise invalid(text, f"it is longer than {MAX_RULE_LENGTH} characters")
    body = text.strip().upper()
    body = body.removeprefix("RRULE:")
    if not body:
        raise invalid(text, "it is empty")
    if "DTSTART" in body:
        raise invalid(text, "the start comes from the series' first lesson, so leave DTSTART out")
    if re.search(r"[\s:]", body):
        raise invalid(text, "give a single RRULE value, without RDATE, EXDATE or other lines")
    parts: dict[str, str] = {}
    for part in body.split(";"):
        name, _, value = part.partition("=")
        if name not in _NAMES:
            raise invalid(text, f"{part!r} is not a known NAME=VALUE part" if part else "it has an empty part")
        if name in parts:
            raise invalid(text, f"{name} is given twice")  # RFC 5545 3.3.10: each part at most once
        if not (_UNTIL if name == "UNTIL" else _VALUE).fullmatch(value):
            raise invalid(text, f"{name}={value} has a malformed value")
        if name in ("COUNT", "INTERVAL") and not _POSITIVE.fullmatch(value):
            raise invalid(text, f"{name} must be a whole number of at least 1")
        parts[name] = value
    if "FREQ" not in parts:
        raise invalid(text, "FREQ is required")
    if "COUNT" in parts and "UNTIL" in parts:
        raise invalid(text, "use COUNT or UNTIL, not both")  # RFC 5545 3.3.10
    return parts


def _numbers(text: str, parts: Mapping[str, str], name: str) -> frozenset[int]:
    if name not in parts:
        return frozenset()
    low, high = _RANGES[name]
    values = parts[name].split(",")
    if len(values) > MAX_VALUES:
        raise invalid(text, f"{name} lists more than {MAX_VALUES} values")
    allowed = f"{low} to {high}" if low >= 0 else f"1 to {high} or -{high} to -1"
    for value in values:
        if not _NUMBER.fullmatch(value) or not low <= int(value) <= high or (low < 0 and int(value) == 0):
            raise invalid(text, f"{name} takes whole numbers from {allowed}, not {value!r}")
    return frozenset(int(value) for value in values)


def _weekdays(text: str, parts: Mapping[str, str], freq: str) -> tuple[frozenset[int], frozenset[tuple[int, int]]]:
    if "BYDAY" not in parts:
        return frozenset(), frozenset()
    values = parts["BYDAY"].split(",")
    if len(values) > MAX_VALUES:
        raise invalid(text, f"BYDAY lists more than {MAX_VALUES} values")
    # A numbered weekday counts within the month, or within the year for a YEARLY rule without BYMONTH.
    most = 53 if freq == "YEARLY" and "BYMONTH" not in parts else 5
    plain, nth = set(), set()
    for value in values:
        match = _WEEKDAY.fullmatch(value)
        if not match:
            raise invalid(text, f"BYDAY takes weekdays such as MO or 2TU, not {value!r}")
        number, weekday = match.group(1), _WEEKDAYS.index(match.group(2))
        if number is None:
            plain.add(weekday)
        elif freq not in ("MONTHLY", "YEARLY") or "BYWEEKNO" in parts:  # RFC 5545 3.3.10
            raise invalid(text, f"a numbered weekday such as {value} needs FREQ=MONTHLY or YEARLY without BYWEEKNO")
        elif not 1 <= abs(int(number)) <= most:
            raise invalid(text, f"the number in BYDAY={value} must be from 1 to {most} or -{most} to -1")
        else:
            nth.add((weekday, int(number)))
    return frozenset(plain), frozenset(nth)


def rule(text: str, parts: Mapping[str, str], first: dt.datetime) -> Rule:
    """The checked rule, with the parts RFC 5545 takes from the first start when they are left out."""
    freq = parts["FREQ"]
    if freq == "SECONDLY":
        raise invalid(text, "lessons do not repeat by the second; use MINUTELY or a longer FREQ")
    if freq not in _FREQS:
        raise invalid(text, f"FREQ must be one of {', '.join(_FREQS)}")
    by = sorted(name for name in parts if name.startswith("BY"))
    if freq in _STEP and by:
        raise invalid(text, f"FREQ={freq} takes no {by[0]}; for several lessons a day use FREQ=DAILY or "
                             "WEEKLY with BYHOUR and BYMINUTE")
    for name in by:
        if name in _ONLY_WITH and freq not in _ONLY_WITH[name]:
            raise invalid(text, f"{name} needs FREQ={' or '.join(_ONLY_WITH[name])}")
    if by == ["BYSETPOS"]:
        raise invalid(text, "BYSETPOS picks among the dates of other BY parts, so give one")  # RFC 5545 3.3.10
    if parts.get("WKST", "MO") not in _WEEKDAYS:
        raise invalid(text, "WKST takes a weekday such as MO")
    months, monthdays = _numbers(text, parts, "BYMONTH"), _numbers(text, parts, "BYMONTHDAY")
    if months and monthdays and not any(abs(day) <= _LONGEST_MONTH[month - 1] for month in months
                                        for day in monthdays):
        raise invalid(text, f"no month in BYMONTH={parts['BYMONTH']} has a day BYMONTHDAY={parts['BYMONTHDAY']}")
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
        raise invalid(text, f"BYHOUR, BYMINUTE and BYSECOND give more than {MAX_STARTS_PER_DAY} start times a day")
    return Rule(
        freq=freq, interval=int(parts.get("INTERVAL", "1")), wkst=_WEEKDAYS.index(parts.get("WKST", "MO")),
        months=months, weeknos=weeknos, yeardays=yeardays, monthdays=monthdays, weekdays=weekdays, nth=nth,
        setpos=_numbers(text, parts, "BYSETPOS"),
        times=tuple(sorted(dt.time(h, m, s, first.microsecond) for h in hours for m in minutes for s in seconds)),
    )


def _periods(rule: Rule, first: dt.date, last: dt.date) -> Iterator[list[dt.date]]:
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


def _numbered(rule: Rule, days: list[dt.date]) -> set[dt.date]:
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


def _keeps(rule: Rule, day: dt.date, numbered: set[dt.date]) -> bool:
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


def walk(rule: Rule, first: dt.datetime, stop: dt.datetime) -> Iterator[dt.datetime]:
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


def until(text: str, value: str, tz: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime | None]:
    """The naive local bound for the walk, and the exact UTC bound when UNTIL was given in UTC."""
    day, time, utc = _UNTIL.fullmatch(value).groups()  # type: ignore[union-attr]
    try:
        # A date-only UNTIL would be read as midnight and drop that day's own lesson: keep the whole day.
        until = dt.datetime.strptime(day + (time or "235959"), "%Y%m%d%H%M%S")
    except ValueError:
        raise invalid(text, f"UNTIL={value} is not a real date and time") from None
    if not utc:
        return until, None
    # The local wall clock of a UTC instant is ambiguous in the repeated hour after a fall-back, so the walk
    # gets a day's margin and the exact bound is applied to the UTC starts.
    until_utc = until.replace(tzinfo=dt.UTC)
    try:
        return until_utc.astimezone(tz).replace(tzinfo=None) + dt.timedelta(days=1), until_utc
    except OverflowError:
        return dt.datetime.max, until_utc


