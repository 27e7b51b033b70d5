"""Forms of the lifecycle pages: a new time for a lesson, a session's time and details, an outcome.

They parse input only; the services decide and write.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .student import InstantField
from .teacher import MAX_CAPACITY, MAX_DURATION_MINUTES, WallClockField

#: The outcomes the pages offer, with the button text each gets.
OUTCOME_CHOICES = [
    ("completed", _("Attended")),
    ("no_show", _("Did not attend")),
    ("teacher_no_show", _("The teacher did not come")),
]


class RescheduleForm(forms.Form):
    """A new time for a 1:1 lesson: one of the listed free times, or a date and time typed in the viewer's zone."""

    start = InstantField(label=_("Free time"), required=False)
    when = WallClockField(label=_("Or another date and time"), required=False)
    message = forms.CharField(label=_("Message"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, tz: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        when = self.fields["when"]
        assert isinstance(when, WallClockField)
        when.tz = tz
        when.help_text = _("In your timezone (%(tz)s); leave empty to use the free time picked above.") % {
            "tz": tz.key}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        # A typed time is the more deliberate of the two; it wins over a radio left checked.
        new_start: dt.datetime | None = data.get("when") or data.get("start")
        if new_start is None and not self.errors:
            # A form error, not a service refusal: it needs no registered code.
            self.add_error("when", _("Pick one of the free times or type a date and time."))
        data["new_start"] = new_start
        return data


class AnswerForm(forms.Form):
    """The optional reason given with a declined proposal."""

    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=1000)


class MoveForm(forms.Form):
    """The session a group booking moves to."""

    session = forms.IntegerField(min_value=1, max_value=2**31 - 1)


class OutcomeForm(forms.Form):
    """What happened in a lesson, with an optional note."""

    outcome = forms.ChoiceField(choices=OUTCOME_CHOICES)
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=1000)


class SessionTimeForm(forms.Form):
    """A group session's new start and length, typed in the viewer's timezone."""

    start = WallClockField(label=_("Starts at"))
    duration = forms.IntegerField(label=_("Duration (minutes)"), min_value=1, max_value=MAX_DURATION_MINUTES)

    def __init__(self, *args: Any, tz: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        start = self.fields["start"]
        assert isinstance(start, WallClockField)
        start.tz = tz
        start.help_text = _("Date and time in your timezone (%(tz)s).") % {"tz": tz.key}


class SessionDetailsForm(forms.Form):
    """A session's title, seats and meeting details (a 1:1 lesson has the meeting details only)."""

    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    capacity = forms.IntegerField(label=_("Seats"), min_value=1, max_value=MAX_CAPACITY)
    meeting_provider = forms.CharField(label=_("Meeting provider"), max_length=64, required=False)
    meeting_url = forms.URLField(label=_("Meeting URL"), max_length=500, required=False, assume_scheme="https")
    meeting_passcode = forms.CharField(label=_("Meeting passcode"), max_length=128, required=False)

    #: The fields a 1:1 lesson's form keeps.
    LESSON_FIELDS = ("meeting_provider", "meeting_url", "meeting_passcode")

    def __init__(self, *args: Any, group: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not group:
            for name in [n for n in self.fields if n not in self.LESSON_FIELDS]:
                del self.fields[name]

    def changes(self, session: Any) -> dict[str, Any]:
        """The cleaned values that differ from ``session``'s."""
        return {name: value for name, value in self.cleaned_data.items() if value != getattr(session, name)}
