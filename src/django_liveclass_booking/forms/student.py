"""Forms of the optional views. They parse input only; the services decide and write.

Times typed into a form are wall-clock times in the viewer's timezone; a slot picked from a list
carries its UTC instant, so it never depends on the zone it was shown in.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, cast

from django import forms
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..models import OnConflict
from ..zones import canonical_zone_name

#: Weekly series the views offer. Rule text is never taken from a form: a contradictory rule can
#: keep the recurrence library searching for years of dates.
MAX_WEEKS = 52


#: Dates the forms accept: far enough from year 1 and 9999 that time arithmetic cannot overflow.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def check_year(day: dt.date) -> None:
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise forms.ValidationError(_("Give a date between the years %(first)d and %(last)d."), code="invalid_date",
                                    params={"first": EARLIEST_YEAR, "last": LATEST_YEAR})


def parse_instant(value: str) -> dt.datetime:
    """An ISO 8601 instant with an offset (as the slot pickers send), as an aware datetime."""
    try:
        instant = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise forms.ValidationError(_("Pick one of the times offered."), code="invalid_start") from None
    if instant.tzinfo is None:
        raise forms.ValidationError(_("Pick one of the times offered."), code="naive_datetime")
    check_year(instant)
    return instant


class InstantField(forms.Field):
    """A hidden or radio value holding an ISO 8601 instant."""

    def to_python(self, value: Any) -> dt.datetime | None:
        # Read as CharField reads text: an empty value is none, any other is stripped.
        text = "" if value in self.empty_values else str(value).strip()
        return parse_instant(text) if text else None


def local_datetime(day: dt.date, time: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """A wall-clock date and time in ``tz``; a time skipped by a DST change is refused."""
    check_year(day)
    value = dt.datetime.combine(day, time, tzinfo=tz)
    # A wall time that does not exist round-trips to another wall time.
    if value.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != value.replace(tzinfo=None):
        raise forms.ValidationError(
            _("%(time)s does not exist on %(day)s in %(zone)s (the clocks change); pick another time."),
            code="nonexistent_time", params={"time": time.strftime("%H:%M"), "day": day.isoformat(), "zone": tz.key},
        )
    return value


class SlotSearchForm(forms.Form):
    """Which week and lesson length to list free slots for (GET)."""

    week = forms.DateField(label=_("Week starting"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    duration = forms.TypedChoiceField(label=_("Lesson length (minutes)"), coerce=int, required=False)

    def clean_week(self) -> dt.date | None:
        week = self.cleaned_data["week"]
        if week is not None:
            check_year(week)
        return week

    def __init__(self, *args: Any, durations: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["duration"]).choices = [(d, str(d)) for d in durations]


class LessonRequestForm(forms.Form):
    """A 1:1 request: one of the listed slots, its length and a note to the teacher."""

    start = InstantField(label=_("Start"))
    duration = forms.IntegerField(label=_("Lesson length (minutes)"), min_value=1, max_value=24 * 60)
    message = forms.CharField(label=_("Message to the teacher"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3}))


class PickedSlot(forms.HiddenInput):
    """A field the page renders itself (as the slot picker's radio buttons): no input of its own."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None,
               renderer: Any = None) -> SafeString:
        return SafeString("")


class SeriesForm(forms.Form):
    """A weekly 1:1 series: a first lesson (a free slot picked, or a date and time typed in the
    viewer's timezone), repeated for a number of weeks."""

    start = InstantField(label=_("Free time"), required=False, widget=PickedSlot)
    first_date = forms.DateField(label=_("First lesson on"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text=_("Or type the first lesson's date and time, when no free time is picked."))
    start_time = forms.TimeField(label=_("At (your time)"), required=False,
                                 widget=forms.TimeInput(attrs={"type": "time"}))
    duration = forms.IntegerField(label=_("Lesson length (minutes)"), min_value=1, max_value=24 * 60)
    weeks = forms.IntegerField(label=_("Number of weeks"), min_value=2, max_value=MAX_WEEKS, initial=4)
    on_conflict = forms.ChoiceField(
        label=_("If a week is not free"), choices=OnConflict.choices, initial=OnConflict.SKIP,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, tz: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz
        self.fields["start_time"].label = _("At (your time, %(tz)s)") % {"tz": tz.key}

    def clean_first_date(self) -> dt.date | None:
        day = self.cleaned_data["first_date"]
        if day is not None:
            check_year(day)
        return day

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("start"):
            # A picked slot is the first lesson; it recurs at that wall-clock time in the viewer's zone.
            data["first_start"] = data["start"].astimezone(self.tz)
        elif data.get("first_date") and data.get("start_time"):
            try:
                data["first_start"] = local_datetime(data["first_date"], data["start_time"], self.tz)
            except forms.ValidationError as exc:
                self.add_error("start_time", exc)
        elif not self.has_error("first_date") and not self.has_error("start_time") and not self.has_error("start"):
            self.add_error("first_date", forms.ValidationError(
                _("Pick one of the free times, or give the date and time of the first lesson."),
                code="first_lesson_missing"))
        return data

    @property
    def rrule(self) -> str:
        return f"FREQ=WEEKLY;COUNT={self.cleaned_data['weeks']}"


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))


#: What a series cancellation covers, least destructive first (the form's default).
SERIES_CANCEL_SCOPES = [
    ("one", _("Only this lesson")),
    ("following", _("This lesson and every later one")),
    ("all", _("Every future lesson of the series")),
]


class SeriesCancelForm(CancelForm):
    """Which lessons of a series to cancel. Without ``scope`` (an older form): from ``from_start`` on."""

    scope = forms.ChoiceField(label=_("Cancel"), choices=SERIES_CANCEL_SCOPES, required=False, initial="one",
                              widget=forms.RadioSelect)
    from_start = InstantField(label=_("Lesson"), required=False,
                              help_text=_("Empty: every future lesson of the series."))


class TimezoneForm(forms.Form):
    timezone = forms.CharField(label=_("Times in"), max_length=64)

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        found = canonical_zone_name(name)
        if found is None:
            raise forms.ValidationError(_("%(name)s is not a known IANA timezone."), code="invalid_timezone",
                                        params={"name": name})
        return found
