from __future__ import annotations

import copy
import uuid
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from model_utils.models import TimeStampedModel

from .choices import ApprovalMode
from .validators import (
    MAX_LESSON_DURATIONS,
    MAX_LESSON_MINUTES,
    validate_lesson_durations,
    validate_timezone_name,
)

#: Upper bounds that keep every policy value inside what date arithmetic can add to a time.
YEAR_OF_MINUTES, YEAR_OF_HOURS, TEN_YEARS_OF_DAYS, PER_PERIOD_LIMIT = 60 * 24 * 366, 24 * 366, 3660, 10_000


class TeacherBookingPolicy(TimeStampedModel):
    """A teacher's booking rules. Teachers without a row get ``LIVECLASS_BOOKING["DEFAULT_POLICY"]``.

    The row is also the teacher's lock: services that check a teacher's calendar lock it first
    (``select_for_update``), so it is created with the current defaults the first time one runs.
    """

    ApprovalMode = ApprovalMode

    teacher = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="liveclass_policy", verbose_name=_("teacher")
    )
    timezone = models.CharField(
        _("timezone"), max_length=64, default="UTC", validators=[validate_timezone_name],
        help_text=_("The teacher's home IANA timezone: booking limits count days and weeks (from Monday) in it."),
    )
    approval_mode = models.CharField(
        _("approval mode"), max_length=32, choices=ApprovalMode.choices, default=ApprovalMode.AUTO
    )
    min_notice_minutes = models.PositiveIntegerField(
        _("minimum notice (minutes)"), default=0, validators=[MaxValueValidator(YEAR_OF_MINUTES)]
    )
    max_advance_days = models.PositiveIntegerField(
        _("maximum advance (days)"), null=True, blank=True, validators=[MaxValueValidator(TEN_YEARS_OF_DAYS)]
    )
    max_bookings_per_day = models.PositiveIntegerField(
        _("bookings per student per day"), null=True, blank=True, validators=[MaxValueValidator(PER_PERIOD_LIMIT)]
    )
    max_bookings_per_week = models.PositiveIntegerField(
        _("bookings per student per week"), null=True, blank=True, validators=[MaxValueValidator(PER_PERIOD_LIMIT)]
    )
    max_pending_requests = models.PositiveIntegerField(
        _("pending requests per student"), null=True, blank=True, validators=[MaxValueValidator(PER_PERIOD_LIMIT)]
    )
    request_ttl_hours = models.PositiveIntegerField(
        _("request time to live (hours)"), null=True, blank=True, default=48,
        validators=[MaxValueValidator(YEAR_OF_HOURS)],
        help_text=_("A pending request expires after this, or at the session start, whichever is first."),
    )
    cancellation_cutoff_hours = models.PositiveIntegerField(
        _("cancellation cutoff (hours)"), default=0, validators=[MaxValueValidator(YEAR_OF_HOURS)]
    )
    allow_late_cancellation = models.BooleanField(
        _("allow late cancellation"), default=True,
        help_text=_("Accept cancellations after the cutoff and flag them, instead of refusing them."),
    )
    buffer_minutes = models.PositiveIntegerField(
        _("buffer around 1:1 lessons (minutes)"), default=0, validators=[MaxValueValidator(24 * 60)]
    )
    lesson_durations = models.JSONField(
        _("allowed 1:1 lesson durations (minutes)"), default=list, blank=True, validators=[validate_lesson_durations],
        help_text=format_lazy(_("A list of different whole minutes, e.g. [30, 60]: at most {count}, each from 1 to "
                                "{max}. Empty: any length."), count=MAX_LESSON_DURATIONS, max=MAX_LESSON_MINUTES),
    )
    allow_recurring = models.BooleanField(_("allow recurring bookings"), default=True)
    max_series_occurrences = models.PositiveIntegerField(
        _("maximum occurrences per series"), null=True, blank=True, validators=[MaxValueValidator(PER_PERIOD_LIMIT)]
    )
    waitlist_enabled = models.BooleanField(_("waitlist enabled"), default=True)
    waitlist_offer_ttl_minutes = models.PositiveIntegerField(
        _("waitlist offer time to live (minutes)"), default=60, validators=[MaxValueValidator(YEAR_OF_MINUTES)]
    )
    revision = models.UUIDField(
        _("revision"), default=uuid.uuid4, editable=False,
        help_text=_("A new value with every save: a booking made with a remembered copy of the policy checks, "
                    "in its seat claim, that the copy is still this revision."),
    )

    class Meta:
        verbose_name = _("teacher booking policy")
        verbose_name_plural = _("teacher booking policies")
        permissions = [("manage_bookings", _("Can confirm, decline and cancel any booking"))]

    def __str__(self) -> str:
        return f"Booking policy of {self.teacher}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save with a new ``revision``, so that no process books with a copy of the old rules."""
        update_fields = kwargs.get("update_fields")
        if update_fields is None or update_fields:  # an empty update_fields saves nothing
            self.revision = uuid.uuid4()
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "revision"}
        super().save(*args, **kwargs)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        from ..conf import booking_settings

        # A deep copy: the defaults hold a list (lesson_durations) no two teachers may share.
        return copy.deepcopy(booking_settings.DEFAULT_POLICY)

    @classmethod
    def for_teacher(cls, teacher: Any) -> TeacherBookingPolicy:
        """The teacher's policy row, or an unsaved one holding the defaults. Takes a user or a pk."""
        from ..services._engine import copies, db

        teacher_id = getattr(teacher, "pk", teacher)
        # Read where the services write and lock it: the services call this inside their transaction,
        # where a read replica (the router's db_for_read) would be outside it and may lag behind.
        if cls is TeacherBookingPolicy:
            policy = copies.stored_row(teacher_id)  # a statement built once, not compiled per call
        else:
            policy = next(iter(cls.objects.using(db.alias()).filter(teacher_id=teacher_id).order_by()[:1]), None)
        return policy if policy is not None else cls(teacher_id=teacher_id, **cls.defaults())
