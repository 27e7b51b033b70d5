from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from model_utils.fields import MonitorField
from model_utils.models import TimeStampedModel

from .choices import OnConflict, SeriesItemStatus, SeriesStatus, SessionKind
from .validators import validate_timezone_name


class BookingSeries(TimeStampedModel):
    """A student's recurring booking: weekly 1:1 lessons, or a seat in every session of a recurring class.

    The wall-clock anchor (``first_start_date`` + ``first_start_time`` in ``timezone``) is what the
    rule repeats, so a 17:00 lesson stays at 17:00 local time across DST changes.
    """

    Status = SeriesStatus
    OnConflict = OnConflict

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("student")
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("teacher")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=SessionKind.choices, default=SessionKind.ONE_ON_ONE)
    rrule = models.TextField(_("recurrence rule (RFC 5545)"), blank=True)
    first_start_date = models.DateField(_("first date (local)"))
    first_start_time = models.TimeField(_("start time (local)"))
    timezone = models.CharField(_("timezone"), max_length=64, validators=[validate_timezone_name])
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"))
    status = models.CharField(_("status"), max_length=16, choices=SeriesStatus.choices, default=SeriesStatus.ACTIVE)
    status_changed = MonitorField(_("status changed"), monitor="status")
    on_conflict = models.CharField(_("on conflict"), max_length=8, choices=OnConflict.choices, default=OnConflict.SKIP)
    # NULL, not "", as on the session: a 1:1 series follows no recurring class.
    recurrence_key = models.CharField(  # noqa: DJ001
        _("recurrence key"), max_length=64, null=True, blank=True, db_index=True
    )

    class Meta:
        verbose_name = _("booking series")
        verbose_name_plural = _("booking series")
        ordering = ["-created", "-pk"]
        indexes = [models.Index(fields=["student", "teacher"], name="lcb_series_stud_idx")]

    def __str__(self) -> str:
        return f"Series #{self.pk} ({self.rrule or self.recurrence_key})"

    @property
    def first_start_local(self) -> dt.datetime:
        """The naive local wall-clock time of the first occurrence."""
        return dt.datetime.combine(self.first_start_date, self.first_start_time)


class BookingSeriesItem(TimeStampedModel):
    """One occurrence of a series, and what became of it."""

    Status = SeriesItemStatus

    series = models.ForeignKey(BookingSeries, on_delete=models.CASCADE, related_name="items", verbose_name=_("series"))
    index = models.PositiveIntegerField(_("index"))
    start_at_utc = models.DateTimeField(_("starts at (UTC)"))
    end_at_utc = models.DateTimeField(_("ends at (UTC)"))
    status = models.CharField(_("status"), max_length=16, choices=SeriesItemStatus.choices)
    skip_reason = models.CharField(_("skip reason"), max_length=64, blank=True, help_text=_("A violation code."))
    booking = models.OneToOneField(
        settings.LIVECLASS_BOOKING_BOOKING_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="series_item", verbose_name=_("booking"),
    )

    class Meta:
        verbose_name = _("series occurrence")
        verbose_name_plural = _("series occurrences")
        ordering = ["series", "index"]
        constraints = [
            models.UniqueConstraint(fields=["series", "index"], name="%(app_label)s_%(class)s_unique_index"),
            models.CheckConstraint(
                condition=models.Q(end_at_utc__gt=models.F("start_at_utc")),
                name="%(app_label)s_%(class)s_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Occurrence {self.index} of series #{self.series_id} ({self.status})"
