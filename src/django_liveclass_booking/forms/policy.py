"""The teacher's booking policy as a page form: grouped, in human units, every problem shown at once.

Each field keeps the name of the policy field it sets (so a refusal of ``set_policy`` lands next to
it); a span of time is typed as an amount and a unit (minutes, hours or days) and stored in the
policy's own unit. Every bound the model knows is checked here, so one submission shows every
problem together instead of one round at a time.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import ApprovalMode
from ..models.policy import PER_PERIOD_LIMIT, TEN_YEARS_OF_DAYS, YEAR_OF_HOURS, YEAR_OF_MINUTES
from ..models.validators import MAX_LESSON_DURATIONS, MAX_LESSON_MINUTES, validate_lesson_durations
from ..services._engine.timezones import find_zone
from ..zones import canonical_zone_name

MINUTES, HOURS, DAYS = 1, 60, 24 * 60
UNIT_NAMES = {MINUTES: gettext_lazy("minutes"), HOURS: gettext_lazy("hours"), DAYS: gettext_lazy("days")}
TIMEZONE_INPUT = {"list": "lcb-timezones", "autocomplete": "off"}  # the datalist base.html renders


class SpanWidget(forms.MultiWidget):
    """An amount and its unit, side by side: the field's label names the amount, "in" the unit."""

    template_name = "liveclass_booking/widgets/span.html"

    def id_for_label(self, id_: str) -> str:
        return f"{id_}_0" if id_ else id_

    def __init__(self, units: list[int]) -> None:
        choices = [(str(u), UNIT_NAMES[u]) for u in units]
        super().__init__([forms.NumberInput(attrs={"min": "0"}),
                          forms.Select(choices=choices)])
        self.units = units

    def decompress(self, value: Any) -> list[Any]:
        """A stored amount (in ``units[0]``) in the largest unit that divides it."""
        if value in (None, ""):
            return [None, str(self.units[0])]
        value = int(value) * self.units[0]
        for unit in reversed(self.units):
            if value and value % unit == 0:
                return [value // unit, str(unit)]
        return [value // self.units[0], str(self.units[0])]


class SpanField(forms.MultiValueField):
    """A span typed as amount + unit, cleaned to whole ``units[0]`` (the policy's stored unit)."""

    def __init__(self, *, units: list[int], maximum: int, required: bool = False, **kwargs: Any) -> None:
        self.units = units
        # A required span needs its amount: MultiValueField counts the unit, always sent, as a value.
        fields = (forms.IntegerField(min_value=0, required=required),
                  forms.TypedChoiceField(choices=[(str(u), "") for u in units], coerce=int, required=False))
        kwargs.setdefault("error_messages", {"incomplete": gettext_lazy("This field is required.")})
        super().__init__(fields, require_all_fields=False, required=required, widget=SpanWidget(units),
                         validators=[MaxValueValidator(maximum)], **kwargs)

    def compress(self, data_list: list[Any]) -> int | None:
        if not data_list or data_list[0] in (None, ""):
            return None
        # Every unit offered is a whole multiple of the stored one (units[0]).
        return int(data_list[0] * (data_list[1] or self.units[0]) // self.units[0])


def _limit(label: Any, help_text: Any = "") -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, min_value=1, max_value=PER_PERIOD_LIMIT,
                              help_text=help_text or gettext_lazy("Empty: no limit."))


class PolicyForm(forms.Form):
    """The teacher's booking policy, in the groups ``fieldsets`` lists."""

    approval_mode = forms.ChoiceField(label=gettext_lazy("Who confirms bookings"), choices=ApprovalMode.choices,
                                      widget=forms.RadioSelect)
    request_ttl_hours = SpanField(
        label=gettext_lazy("Requests expire after"), units=[HOURS, DAYS], maximum=YEAR_OF_HOURS,
        help_text=gettext_lazy("A request you have not answered by then (or by the start) expires. "
                               "Empty: only at the start."))
    timezone = forms.CharField(
        label=gettext_lazy("Your timezone"), max_length=64, widget=forms.TextInput(attrs=TIMEZONE_INPUT),
        help_text=gettext_lazy("Daily and weekly limits count days and weeks (from Monday) in it."))
    min_notice_minutes = SpanField(
        label=gettext_lazy("Minimum notice"), units=[MINUTES, HOURS, DAYS], maximum=YEAR_OF_MINUTES,
        required=True, help_text=gettext_lazy("How long before the start a booking must be made. 0: until the start."))
    max_advance_days = forms.IntegerField(
        label=gettext_lazy("Book at most this many days ahead"), required=False, min_value=0,
        max_value=TEN_YEARS_OF_DAYS, help_text=gettext_lazy("Empty: no limit."))
    cancellation_cutoff_hours = SpanField(
        label=gettext_lazy("Free cancellation until"), units=[HOURS, DAYS], maximum=YEAR_OF_HOURS, required=True,
        help_text=gettext_lazy("How long before the start students may still cancel freely. 0: until the start."))
    allow_late_cancellation = forms.BooleanField(
        label=gettext_lazy("Accept later cancellations (recorded as late)"), required=False,
        help_text=gettext_lazy("Unticked: after the deadline a booking can no longer be cancelled by the student."))
    max_bookings_per_day = _limit(gettext_lazy("Bookings per student per day"))
    max_bookings_per_week = _limit(gettext_lazy("Bookings per student per week"))
    max_pending_requests = _limit(gettext_lazy("Requests waiting for your answer, per student"))
    lesson_durations = forms.CharField(
        label=gettext_lazy("Allowed 1:1 lesson lengths (minutes)"), required=False, max_length=200,
        help_text=format_lazy(gettext_lazy("Comma-separated, e.g. 30, 45, 60: at most {count}, each from 1 to {max}. "
                                           "Empty: any length."), count=MAX_LESSON_DURATIONS, max=MAX_LESSON_MINUTES))
    buffer_minutes = forms.IntegerField(
        label=gettext_lazy("Break around 1:1 lessons (minutes)"), min_value=0, max_value=DAYS,
        help_text=gettext_lazy("Kept free before and after each 1:1 lesson."))
    allow_recurring = forms.BooleanField(label=gettext_lazy("Students may book weekly series"), required=False)
    max_series_occurrences = _limit(gettext_lazy("Lessons per weekly series at most"))
    waitlist_enabled = forms.BooleanField(label=gettext_lazy("Keep a waitlist for full classes"), required=False)
    waitlist_offer_ttl_minutes = SpanField(
        label=gettext_lazy("A freed seat is offered for"), units=[MINUTES, HOURS, DAYS], maximum=YEAR_OF_MINUTES,
        required=True, help_text=gettext_lazy("Then it goes to the next person waiting."))

    #: The page's groups: (legend, field names).
    FIELDSETS = [
        (gettext_lazy("Booking approval"), ["approval_mode", "request_ttl_hours"]),
        (gettext_lazy("Notice and deadlines"), ["timezone", "min_notice_minutes", "max_advance_days",
                                                 "cancellation_cutoff_hours", "allow_late_cancellation"]),
        (gettext_lazy("Limits per student"), ["max_bookings_per_day", "max_bookings_per_week",
                                              "max_pending_requests"]),
        (gettext_lazy("1:1 lessons and weekly series"), ["lesson_durations", "buffer_minutes", "allow_recurring",
                                                         "max_series_occurrences"]),
        (gettext_lazy("Waitlist and seat offers"), ["waitlist_enabled", "waitlist_offer_ttl_minutes"]),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].widget.attrs.update(TIMEZONE_INPUT)

    @property
    def fieldsets(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [(legend, [self[name] for name in names]) for legend, names in self.FIELDSETS]

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        found = canonical_zone_name(name) or (name if find_zone(name) is not None else None)
        if found is None:
            raise forms.ValidationError(_("%(name)s is not a known IANA timezone."), code="invalid_timezone",
                                        params={"name": name})
        return found

    def clean_lesson_durations(self) -> list[int]:
        parts = [p for p in self.cleaned_data["lesson_durations"].replace(",", " ").split() if p]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise forms.ValidationError(_("Write whole minutes separated by commas, e.g. 30, 60."),
                                        code="invalid_lesson_durations") from None
        # A length typed twice is meant once; the bounds are the model's, checked here to show them by the field.
        values = sorted(set(values))
        validate_lesson_durations(values)
        return values
