"""Forms of the teacher pages. They parse input only; the services decide and write.

Times typed here are wall-clock times in the viewer's timezone (see ``WallClockField``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..conf import booking_settings
from ..models import Weekday
from ..services._engine.timezones import find_zone
from ..zones import canonical_zone_name
from .student import local_datetime

MAX_DURATION_MINUTES = 24 * 60
MAX_CAPACITY = 10_000
TIMEZONE_INPUT = {"list": "lcb-timezones", "autocomplete": "off"}  # the datalist base.html renders

# Only these fixed patterns reach the recurrence engine: users never type an RRULE, whose
# expansion a crafted rule could make arbitrarily expensive. Repeat choice: (rule, classes a week).
REPEATS = {"weekly": ("FREQ=WEEKLY", 1), "weekdays": ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", 5)}
POLICY_FIELDS = (
    "timezone", "approval_mode", "min_notice_minutes", "max_advance_days", "max_bookings_per_day",
    "max_bookings_per_week", "max_pending_requests", "request_ttl_hours", "cancellation_cutoff_hours",
    "allow_late_cancellation", "buffer_minutes", "lesson_durations", "allow_recurring", "max_series_occurrences",
    "waitlist_enabled", "waitlist_offer_ttl_minutes",
)


# ----------------------------------------------------------------------------------


class WallClockField(forms.DateTimeField):
    """A date and time typed in ``<input type="datetime-local">``, read in the viewer's timezone ``tz``.

    Django would read it in the server's current timezone; the form sets ``tz`` to the viewer's.
    A wall-clock time skipped by a DST change is refused rather than guessed.
    """

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    tz: zoneinfo.ZoneInfo = zoneinfo.ZoneInfo("UTC")

    def to_python(self, value: Any) -> dt.datetime | None:
        if value in self.empty_values:
            return None
        result: dt.datetime | None
        if isinstance(value, dt.datetime):
            result = value
        else:
            try:
                result = parse_datetime(str(value).strip())
            except ValueError:
                result = None
            # Not ISO: the locale's input formats, as DateTimeField would try them.
            result = result or forms.fields.BaseTemporalField.to_python(self, value)
        # One year of margin, so that moving it to UTC cannot overflow.
        if result is None or not dt.MINYEAR < result.year < dt.MAXYEAR:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        if result.tzinfo is not None:  # an explicit offset says which instant it is
            return result
        # combine(..., tzinfo=tz), i.e. replace(tzinfo=tz), plus the refusal of skipped times.
        return local_datetime(result.date(), result.time(), self.tz)


def _read_times_in(form: forms.Form, tz: zoneinfo.ZoneInfo) -> None:
    for field in form.fields.values():
        if isinstance(field, WallClockField):
            field.tz = tz


class ReasonForm(forms.Form):
    """The optional reason given with a decline or a cancellation."""

    reason = forms.CharField(label=gettext_lazy("Reason (optional)"), required=False, max_length=1000)


class ScheduleForm(forms.Form):
    """A group session, once or on a fixed weekly pattern."""

    title = forms.CharField(label=gettext_lazy("Title"), max_length=200, required=False)
    # The zone first: the start below is a wall-clock time in it.
    timezone = forms.CharField(
        label=gettext_lazy("Timezone of the class"), max_length=64, widget=forms.TextInput(attrs=TIMEZONE_INPUT),
        help_text=gettext_lazy("The start below is a time in this timezone; a repeating class keeps that local "
                               "start time across DST changes."),
    )
    start = WallClockField(label=gettext_lazy("Starts at (in the timezone of the class)"))
    duration = forms.IntegerField(label=gettext_lazy("Duration (minutes)"), min_value=1,
                                  max_value=MAX_DURATION_MINUTES)
    capacity = forms.IntegerField(label=gettext_lazy("Seats"), min_value=1, max_value=MAX_CAPACITY)
    meeting_provider = forms.CharField(label=gettext_lazy("Meeting provider"), max_length=64, required=False)
    meeting_url = forms.URLField(label=gettext_lazy("Meeting URL"), max_length=500, required=False,
                                 assume_scheme="https")
    meeting_passcode = forms.CharField(label=gettext_lazy("Meeting passcode"), max_length=128, required=False)
    repeat = forms.ChoiceField(label=gettext_lazy("Repeat"), choices=[
        ("none", gettext_lazy("Does not repeat")),
        ("weekly", gettext_lazy("Every week, for N weeks")),
        ("weekdays", gettext_lazy("Every weekday (Monday to Friday), for N weeks")),
    ])
    weeks = forms.IntegerField(label=gettext_lazy("Number of weeks (N)"), min_value=2, max_value=52, required=False)

    def __init__(self, *args: Any, tz: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _read_times_in(self, tz)
        self.tz = tz
        self.fields["start"].help_text = _("Date and time in the timezone of the class above, which may differ "
                                             "from yours (%(tz)s).") % {"tz": tz.key}

    def clean_timezone(self) -> str:
        name = canonical_zone_name(self.cleaned_data["timezone"])
        if name is None:
            raise ValidationError(_("%(name)s is not a known IANA timezone."), code="invalid_timezone",
                                  params={"name": self.cleaned_data["timezone"]})
        return name

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        zone, start = find_zone(data.get("timezone")), data.get("start")
        if zone is not None and start is not None and zone.key != self.tz.key:
            # The field read the typed wall-clock time in the viewer's zone: read it in the class's.
            typed = start.astimezone(self.tz)
            try:
                data["start"] = local_datetime(typed.date(), typed.time(), zone)
            except ValidationError as exc:
                self.add_error("start", exc)
        repeat, start = data.get("repeat"), data.get("start")
        weeks, cap = data.get("weeks"), booking_settings.MAX_OCCURRENCES
        if repeat in REPEATS:
            if weeks is None:
                self.add_error("weeks", _("Say for how many weeks the class repeats."))
            elif weeks * REPEATS[repeat][1] > cap:
                # Said here in weeks: the service's refusal would speak of the rule's COUNT.
                self.add_error("weeks", _("That makes %(count)d classes; at most %(max)d can be scheduled at once.")
                               % {"count": weeks * REPEATS[repeat][1], "max": cap})
        # The rule would silently move a Saturday start to the next Monday.
        if repeat == "weekdays" and start is not None and _local_weekday(start, data.get("timezone")) >= 5:
            self.add_error("start", _("A class repeating every weekday must start on a Monday to Friday."))
        return data


def _local_weekday(start: dt.datetime, zone: str | None) -> int:
    """The weekday of ``start`` where the class repeats (the viewer's zone if that one is unknown)."""
    found = find_zone(zone)
    return start.astimezone(found).weekday() if found is not None else start.weekday()


class WindowForm(forms.Form):
    """A weekly availability window."""

    weekday = forms.TypedChoiceField(label=gettext_lazy("Day"), choices=Weekday.choices, coerce=int)
    start_time = forms.TimeField(label=gettext_lazy("From"), widget=forms.TimeInput(attrs={"type": "time"}))
    end_time = forms.TimeField(label=gettext_lazy("Until"), widget=forms.TimeInput(attrs={"type": "time"}))
    timezone = forms.CharField(label=gettext_lazy("Timezone"), max_length=64, required=False,
                               widget=forms.TextInput(attrs=TIMEZONE_INPUT),
                               help_text=gettext_lazy("Empty: the timezone of your booking policy."))

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        if not name:
            return ""
        found = canonical_zone_name(name) or (name if find_zone(name) is not None else None)
        if found is None:
            raise ValidationError(_("%(name)s is not a known IANA timezone."), code="invalid_timezone",
                                  params={"name": name})
        return found


class TimeOffForm(forms.Form):
    """A period without 1:1 lessons, typed in the viewer's timezone."""

    start = WallClockField(label=gettext_lazy("From"))
    end = WallClockField(label=gettext_lazy("Until"))
    reason = forms.CharField(label=gettext_lazy("Reason (optional)"), max_length=200, required=False)

    def __init__(self, *args: Any, tz: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _read_times_in(self, tz)


