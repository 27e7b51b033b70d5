"""What the weekly series page says: one message per problem, and an honest summary of what was booked.

A refusal of ``create_series`` lists one violation per week that is not free; the page groups them
by problem ("3 Dec, 10 Dec: The teacher does not teach at that time."), in the registered message
of each code, never the code itself. After booking, the summary counts what really happened:
booked, waiting for the teacher's approval, skipped and why.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import messages
from django.utils import timezone as dj_timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..errors import message_for
from ..exceptions import BookingError, PolicyViolation
from ..models import BookingSeries, BookingStatus, SeriesItemStatus
from ._common import add_booking_error


def _day(instant: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    return date_format(dj_timezone.localtime(instant, tz), "j M")


def add_series_problems(form: forms.BaseForm, error: BookingError, fields: Mapping[str, str],
                        tz: zoneinfo.ZoneInfo) -> None:
    """Put a refused series on ``form``: one message per problem, naming the weeks it concerns."""
    if not isinstance(error, PolicyViolation) or not error.violations:
        add_booking_error(form, error, fields)
        return
    grouped: dict[str, list[Any]] = {}
    for violation in error.violations:
        grouped.setdefault(violation.code, []).append(violation)
    for code, found in grouped.items():
        message = found[0].message or message_for(code, found[0].params)
        starts = sorted({v.params["start"] for v in found if (v.params or {}).get("start")})
        if starts:
            days = ", ".join(_day(dt.datetime.fromisoformat(s), tz) for s in starts)
            message = _("%(days)s: %(problem)s") % {"days": days, "problem": message}
        field = fields.get(code)
        form.add_error(field if field in form.fields else None, forms.ValidationError(message, code=code))


def series_summary(series: BookingSeries, tz: zoneinfo.ZoneInfo) -> tuple[int, str]:
    """The message level and text saying what became of each week of a new series."""
    items = list(series.items.select_related("booking").order_by("index"))
    booked = [i for i in items if i.status == SeriesItemStatus.BOOKED and i.booking is not None]
    pending = [i for i in booked if getattr(i.booking, "status", None) == BookingStatus.PENDING]
    skipped = [i for i in items if i.status == SeriesItemStatus.SKIPPED]
    if pending and len(pending) == len(booked) and not skipped:
        return messages.SUCCESS, ngettext(
            "%(count)d lesson requested, waiting for the teacher's approval.",
            "%(count)d lessons requested, waiting for the teacher's approval.", len(pending)) % {"count": len(pending)}
    parts = []
    confirmed = len(booked) - len(pending)
    if confirmed:
        parts.append(ngettext("%(count)d booked", "%(count)d booked", confirmed) % {"count": confirmed})
    if pending:
        parts.append(ngettext("%(count)d requested, waiting for the teacher's approval",
                              "%(count)d requested, waiting for the teacher's approval",
                              len(pending)) % {"count": len(pending)})
    if skipped:
        reasons: dict[str, list[str]] = {}
        for item in skipped:
            reason = (message_for(item.skip_reason) if item.skip_reason else _("not free")).rstrip(".")
            reasons.setdefault(reason, []).append(_day(item.start_at_utc, tz))
        listed = "; ".join(f"{', '.join(days)}: {reason}" for reason, days in reasons.items())
        parts.append(ngettext("%(count)d skipped (%(list)s)", "%(count)d skipped (%(list)s)", len(skipped))
                     % {"count": len(skipped), "list": listed})
    text = ", ".join(parts) + "."
    return (messages.WARNING if skipped else messages.SUCCESS), text[:1].upper() + text[1:]
