"""Recurring series: an RFC 5545 RRULE expanded in local wall-clock time, each start then placed in UTC.

Pure: no database, no models. A weekly 17:00 lesson stays at 17:00 local time across DST changes, so its
UTC time moves. Every refusal is a :class:`RecurrenceError` with a stable ``code``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dateutil.rrule import rrulestr

__all__ = ["Occurrence", "RecurrenceError", "expand"]

_NAMES = frozenset(
    {"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY",
     "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"}
)
_VALUE = re.compile(r"[A-Z0-9,+-]+")
_POSITIVE = re.compile(r"0*[1-9][0-9]*")  # int() would also take "1_000" and " 7"
_UNTIL = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
_DAY = dt.timedelta(days=1)


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


def _invalid(text: str, reason: str) -> RecurrenceError:
    return RecurrenceError(
        f"{text!r} is not a usable recurrence rule: {reason}.", code="invalid_rrule",
        params={"rrule": text, "reason": reason},
    )


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise RecurrenceError(
            f"{name!r} is not a known time zone; use an IANA name such as 'Europe/London'.",
            code="invalid_timezone", params={"timezone": name},
        ) from None


def _parts(text: str) -> dict[str, str]:
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


def _until(text: str, value: str, tz: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime | None]:
    """The naive local UNTIL to hand to dateutil, and the exact UTC bound when UNTIL was given in UTC."""
    day, time, utc = _UNTIL.fullmatch(value).groups()  # type: ignore[union-attr]
    try:
        # A date-only UNTIL would be read as midnight and drop that day's own lesson: keep the whole day.
        until = dt.datetime.strptime(day + (time or "235959"), "%Y%m%d%H%M%S")
    except ValueError:
        raise _invalid(text, f"UNTIL={value} is not a real date and time") from None
    if not utc:
        return until, None
    # dateutil refuses a UTC UNTIL with a naive DTSTART. The local wall clock of a UTC instant is ambiguous
    # in the repeated hour after a fall-back, so dateutil gets a day's margin and the exact bound is applied
    # to the UTC starts.
    until_utc = until.replace(tzinfo=dt.UTC)
    try:
        return until_utc.astimezone(tz).replace(tzinfo=None) + _DAY, until_utc
    except OverflowError:
        return dt.datetime.max, until_utc


def _in_utc(local_starts: Iterable[dt.datetime], tz: zoneinfo.ZoneInfo) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    last: dt.datetime | None = None
    for local in local_starts:
        # fold=0: an ambiguous time takes its first occurrence; a time in a spring-forward gap gets the
        # offset from before the change, which moves it forward by the gap.
        start = local.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)
        # A sub-daily rule crossing a gap produces wall times that land on instants already produced
        # (London 01:30 and 02:30 are both 01:30 UTC): keep UTC starts strictly increasing.
        if last is None or start > last:
            last = start
            yield local, start


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
    the wall-clock time of the first lesson (an aware datetime is first turned into the wall clock of
    ``timezone``); it counts as an occurrence only if the rule matches it, as RFC 5545 leaves an
    unsynchronised start undefined. UNTIL may be a UTC date-time (``Z``), a local date-time or a date (the
    whole local day counts). Each ``end`` is ``start + duration`` in real time. A sub-daily rule crossing
    a spring-forward gap yields each instant once, so it may yield fewer than its COUNT.

    Raises :class:`RecurrenceError` if the rule is malformed or produces nothing (``invalid_rrule``), if
    it would produce more than ``max_occurrences`` (``too_many_occurrences``, decided from COUNT before
    any expansion), if ``timezone`` is unknown or ``duration`` not positive.
    """
    if max_occurrences < 1:
        raise ValueError(f"max_occurrences must be at least 1, not {max_occurrences!r}")
    if duration <= dt.timedelta(0):
        raise RecurrenceError(
            f"A lesson must last longer than zero; got {duration}.", code="invalid_duration",
            params={"duration": duration},
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
        if first_start_local.utcoffset() is not None:
            first_start_local = first_start_local.astimezone(tz)
        dtstart = first_start_local.replace(tzinfo=None, fold=0)
        until_utc = None
        if "UNTIL" in parts:
            local_until, until_utc = _until(rrule, parts["UNTIL"], tz)
            parts["UNTIL"] = f"{local_until:%Y%m%dT%H%M%S}"
        rule = rrulestr(";".join(f"{name}={value}" for name, value in parts.items()), dtstart=dtstart)
        starts = _in_utc(rule, tz)
        if until_utc is not None:
            starts = itertools.takewhile(lambda pair: pair[1] <= until_utc, starts)
        # One past the cap is enough to refuse: an endless rule is never materialised.
        found = list(itertools.islice(starts, max_occurrences + 1))
        occurrences = [Occurrence(i, local, start, start + duration) for i, (local, start) in enumerate(found)]
    except RecurrenceError:
        raise
    except OverflowError:
        raise _invalid(rrule, "it reaches dates outside the calendar's range") from None
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise _invalid(rrule, str(exc) or type(exc).__name__) from None
    if len(occurrences) > max_occurrences:
        raise RecurrenceError(
            f"The series would have more than {max_occurrences} occurrences; end it sooner with COUNT or UNTIL.",
            code="too_many_occurrences", params={"max": max_occurrences},
        )
    if not occurrences:
        raise _invalid(rrule, "the rule produces no occurrences (is UNTIL before the first start?)")
    return occurrences
