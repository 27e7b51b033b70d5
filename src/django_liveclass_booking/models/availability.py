from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from model_utils.models import TimeStampedModel

from .validators import no_nul_bytes, validate_timezone_name


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class TeacherAvailability(TimeStampedModel):
    """A weekly window, in the teacher's local time, in which 1:1 lessons may be requested."""

    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="liveclass_availability",
        verbose_name=_("teacher"),
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start_time = models.TimeField(_("from"))
    end_time = models.TimeField(_("until"))
    timezone = models.CharField(_("timezone"), max_length=64, default="UTC", validators=[validate_timezone_name])

    class Meta:
        verbose_name = _("availability window")
        verbose_name_plural = _("availability windows")
        ordering = ["teacher", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")),
                name="%(app_label)s_%(class)s_end_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="%(app_label)s_%(class)s_weekday_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M} ({self.timezone})"


class TeacherTimeOff(TimeStampedModel):
    """A period in which the teacher takes no 1:1 lessons."""

    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="liveclass_time_off", verbose_name=_("teacher")
    )
    start_at_utc = models.DateTimeField(_("from (UTC)"))
    end_at_utc = models.DateTimeField(_("until (UTC)"))
    reason = models.CharField(_("reason"), max_length=200, blank=True, validators=[no_nul_bytes])

    class Meta:
        verbose_name = _("time off")
        verbose_name_plural = _("time off")
        ordering = ["teacher", "start_at_utc"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_at_utc__gt=models.F("start_at_utc")),
                name="%(app_label)s_%(class)s_end_after_start",
            ),
        ]
        indexes = [models.Index(fields=["teacher", "start_at_utc"], name="lcb_timeoff_teach_idx")]

    def __str__(self) -> str:
        return f"{self.teacher} off {self.start_at_utc:%Y-%m-%d %H:%M}-{self.end_at_utc:%Y-%m-%d %H:%M} UTC"
