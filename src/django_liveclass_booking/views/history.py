"""A booking's history as its page shows it: each ``BookingEvent`` with what its ``data`` says, in words.

The services write ``data`` (see ``services/_engine/history.py`` and its callers): the status and
source of a new booking, the reason of a cancellation or decline, the previous and new times of a
reschedule or a move (ISO strings), the outcome recorded with its note. Here each becomes a
(label, text) pair, times in the viewer's zone; keys a reader has no use for (row numbers) are left
out, and a status the event's kind already names is not repeated.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import BookingSource, BookingStatus
from ..templatetags.liveclass_booking import span

#: Free text kept with a change.
TEXT_DETAILS = {"reason": _("Reason"), "note": _("Note"), "message": _("Message"),
                "legacy_ref": _("Imported from"), "legacy_status": _("Status before the import")}
#: Statuses named by a change (shown only where the kind of the event does not say it already).
STATUS_DETAILS = {"status": _("Status"), "outcome": _("Outcome recorded"), "recorded": _("Replaces")}
#: The (start, end) keys of the times before and after a reschedule or a move.
TIME_DETAILS = ((_("Old time"), "previous_start", "previous_end"), (_("New time"), "start", "end"))
#: Written by the model's older rows under these names.
TIME_ALIASES = {"previous_start_at_utc": "previous_start", "previous_end_at_utc": "previous_end",
                "start_at_utc": "start", "end_at_utc": "end"}


def instant(value: Any) -> dt.datetime | None:
    """An aware datetime from an ISO string (as the JSON column keeps one) or a datetime; else None."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return parsed if parsed.tzinfo is not None else None


def time_range(start: Any, end: Any, tz: zoneinfo.ZoneInfo) -> str | None:
    """``Sun, Nov. 29, 2026, 10 a.m.–11 a.m. (UTC)`` in ``tz``, as every page writes times (``span``)."""
    begins, ends = instant(start), instant(end)
    if begins is None:
        return None
    with timezone.override(tz):
        return span(begins, ends)


def status_label(value: Any) -> str:
    try:
        return str(BookingStatus(value).label)
    except ValueError:
        return str(value)


def event_details(event: Any, tz: zoneinfo.ZoneInfo) -> list[tuple[Any, str]]:
    """What an event's ``data`` says that a reader cares about, as (label, text) pairs: times in ``tz``."""
    raw = event.data if isinstance(event.data, Mapping) else {}
    data = {TIME_ALIASES.get(key, key): value for key, value in raw.items()}
    details: list[tuple[Any, str]] = []
    for label, start_key, end_key in TIME_DETAILS:
        text = time_range(data.get(start_key), data.get(end_key), tz)
        if text is not None:
            details.append((label, text))
    for key, label in STATUS_DETAILS.items():
        value = data.get(key)
        if value and value != event.kind:
            details.append((label, status_label(value)))
    source = data.get("source")
    if source and source != BookingSource.DIRECT:
        try:
            details.append((_("Booked through"), str(BookingSource(source).label)))
        except ValueError:
            details.append((_("Booked through"), str(source)))
    if data.get("late_cancellation"):
        details.append((_("Late cancellation"), str(_("inside the teacher's cancellation window"))))
    if data.get("automatic"):
        details.append((_("Recorded"), str(_("automatically: no outcome was recorded in time"))))
    for key, label in TEXT_DETAILS.items():
        if data.get(key):
            details.append((label, str(data[key])))
    return details


def history(booking: Any, tz: zoneinfo.ZoneInfo) -> list[tuple[Any, list[tuple[Any, str]]]]:
    """The booking's events in order, each with its details."""
    events = booking.events.select_related("actor").order_by("at", "pk")
    return [(event, event_details(event, tz)) for event in events]

