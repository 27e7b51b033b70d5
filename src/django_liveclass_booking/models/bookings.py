from __future__ import annotations

from typing import Any, Self

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from model_utils.fields import MonitorField
from model_utils.models import TimeStampedModel

from .choices import ACTIVE_BOOKING_STATUSES, BookingSource, BookingStatus, SessionKind
from .fields import active_flag
from .validators import no_nul_bytes


def live_at(now: Any) -> models.Q:
    """Bookings active as of ``now``: a pending request past ``expires_at`` no longer counts."""
    return models.Q(status=BookingStatus.CONFIRMED) | models.Q(
        models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now), status=BookingStatus.PENDING
    )


class LiveClassBookingQuerySet(models.QuerySet["AbstractLiveClassBooking"]):
    def active(self) -> Self:
        """Pending or confirmed, as stored (a pending request past its expiry still counts)."""
        return self.filter(status__in=ACTIVE_BOOKING_STATUSES)

    def live(self, now: Any) -> Self:
        """Active as of ``now``: confirmed, or pending and not yet past its expiry."""
        return self.filter(live_at(now))

    def due_to_expire(self, now: Any) -> Self:
        return self.filter(status=BookingStatus.PENDING, expires_at__lte=now)

    def pending(self) -> Self:
        return self.filter(status=BookingStatus.PENDING)

    def confirmed(self) -> Self:
        return self.filter(status=BookingStatus.CONFIRMED)

    def for_student(self, student: Any) -> Self:
        return self.filter(student=student)

    def for_teacher(self, teacher: Any) -> Self:
        return self.filter(teacher=teacher)

    def between(self, start: Any, end: Any) -> Self:
        return self.filter(start_at_utc__lt=end, end_at_utc__gt=start)


class AbstractLiveClassBooking(TimeStampedModel):
    """One student's place in one session: the unified booking for group seats and 1:1 lessons.

    ``teacher``, ``kind``, ``start_at_utc`` and ``end_at_utc`` copy the session's so that
    per-student and per-teacher range queries need no join. Status changes go through the services
    (or the ``confirm``/``decline``/``cancel`` methods), which keep seat counters and signals right.
    """

    Status = BookingStatus
    Source = BookingSource

    session = models.ForeignKey(
        settings.LIVECLASS_BOOKING_SESSION_MODEL, on_delete=models.CASCADE, related_name="bookings",
        verbose_name=_("session"),
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("student")
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("teacher")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=SessionKind.choices)
    start_at_utc = models.DateTimeField(_("starts at (UTC)"))
    end_at_utc = models.DateTimeField(_("ends at (UTC)"))
    status = models.CharField(_("status"), max_length=16, choices=BookingStatus.choices, default=BookingStatus.PENDING)
    status_changed = MonitorField(_("status changed"), monitor="status")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("cancelled by"),
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True, validators=[no_nul_bytes])
    message = models.TextField(_("message from the student"), blank=True, validators=[no_nul_bytes])
    expires_at = models.DateTimeField(
        _("request expires at"), null=True, blank=True,
        help_text=_("A pending request expires then: its time to live or the session start, whichever is first."),
    )
    late_cancellation = models.BooleanField(_("late cancellation"), default=False)
    source = models.CharField(_("source"), max_length=16, choices=BookingSource.choices, default=BookingSource.DIRECT)
    external_ref = models.CharField(_("external reference"), max_length=100, null=True, blank=True, unique=True)
    # 1 while pending/confirmed, NULL otherwise: the unique constraint below then allows one
    # active booking per (session, student) on every backend (see fields.active_flag).
    active_key = active_flag(ACTIVE_BOOKING_STATUSES)

    objects = LiveClassBookingQuerySet.as_manager()

    class Meta:
        abstract = True
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["start_at_utc", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "student", "active_key"], name="%(app_label)s_%(class)s_one_active_per_student"
            ),
            models.CheckConstraint(
                condition=models.Q(end_at_utc__gt=models.F("start_at_utc")),
                name="%(app_label)s_%(class)s_end_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["teacher", "start_at_utc"], name="%(class)s_teach_idx"),
            models.Index(fields=["student", "start_at_utc"], name="%(class)s_stud_idx"),
            models.Index(fields=["status", "created"], name="%(class)s_stat_idx"),
            models.Index(fields=["status", "expires_at"], name="%(class)s_due_idx"),
        ]

    def __str__(self) -> str:
        return f"Booking #{self.pk} ({self.status}) of session #{self.session_id}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_BOOKING_STATUSES

    def confirm(self, actor: Any, *, now: Any = None) -> AbstractLiveClassBooking:
        from .. import services

        return services.confirm_booking(self, actor=actor, now=now)

    def decline(self, actor: Any, *, reason: str = "", now: Any = None) -> AbstractLiveClassBooking:
        from .. import services

        return services.decline_booking(self, actor=actor, reason=reason, now=now)

    def cancel(self, actor: Any, *, reason: str = "", now: Any = None) -> AbstractLiveClassBooking:
        from .. import services

        return services.cancel_booking(self, actor=actor, reason=reason, now=now)

    def record_outcome(self, outcome: str, actor: Any, *, note: str = "", now: Any = None) -> AbstractLiveClassBooking:
        from .. import services

        return services.record_outcome(self, outcome=outcome, actor=actor, note=note, now=now)


class LiveClassBooking(AbstractLiveClassBooking):
    class Meta(AbstractLiveClassBooking.Meta):
        swappable = "LIVECLASS_BOOKING_BOOKING_MODEL"
