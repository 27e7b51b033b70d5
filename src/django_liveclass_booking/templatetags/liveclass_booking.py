"""One date and time style for every page, in the active language's formats, each time with its zone.

``{% load liveclass_booking %}``, then:

* ``{{ value|when }}``: weekday, then ``DATETIME_FORMAT``, then the zone, e.g.
  "Thu, Nov. 26, 2026, 6 p.m. (America/New_York)";
* ``{{ start|span:end }}``: a start and an end: "Thu, Nov. 26, 2026, 6 p.m.–7 p.m. (America/New_York)";
  an end on another day is written in full;
* ``{{ value|day }}``: weekday and ``DATE_FORMAT``, e.g. "Thursday, Nov. 26, 2026";
* ``{{ value|clock }}``: ``TIME_FORMAT`` alone (a wall-clock time whose zone the page states).

Aware datetimes are shown in the current time zone (the pages' ``{% timezone %}``: the viewer's).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import formats, timezone

register = template.Library()


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def _zone() -> str:
    return timezone.get_current_timezone_name()


def _datetime(value: dt.datetime) -> str:
    return f'{formats.date_format(value, "D")}, {formats.date_format(value, "DATETIME_FORMAT")}'


@register.filter
def when(value: Any) -> str:
    """A date and time with its weekday and zone; "" for anything else."""
    if not isinstance(value, dt.datetime):
        return ""
    return f"{_datetime(_local(value))} ({_zone()})"


@register.filter
def span(start: Any, end: Any) -> str:
    """From ``start`` to ``end``, with the zone once."""
    if not isinstance(start, dt.datetime):
        return ""
    if not isinstance(end, dt.datetime):
        return when(start)
    start, end = _local(start), _local(end)
    until = formats.time_format(end, "TIME_FORMAT") if end.date() == start.date() else _datetime(end)
    return f"{_datetime(start)}–{until} ({_zone()})"


@register.filter
def day(value: Any) -> str:
    """A date with its weekday."""
    if isinstance(value, dt.datetime):
        value = _local(value)
    if not isinstance(value, dt.date):
        return ""
    return f'{formats.date_format(value, "l")}, {formats.date_format(value, "DATE_FORMAT")}'


@register.filter
def clock(value: Any) -> str:
    """A time of day alone."""
    if isinstance(value, dt.datetime):
        value = _local(value)
    if not isinstance(value, dt.datetime | dt.time):
        return ""
    return formats.time_format(value, "TIME_FORMAT")
