from __future__ import annotations

from typing import Any, Self

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from model_utils.fields import MonitorField
from model_utils.models import TimeStampedModel

from .choices import SessionKind, SessionStatus
from .validators import no_nul_bytes


class LiveClassSessionQuerySet(models.QuerySet["AbstractLiveClassSession"]):
    def scheduled(self) -> Self:
        return self.filter(status=SessionStatus.SCHEDULED)

    def upcoming(self, now: Any) -> Self:
        return self.scheduled().filter(start_at_utc__gt=now)

    def for_teacher(self, teacher: Any) -> Self:
        return self.filter(teacher=teacher)

    def overlapping(self, start: Any, end: Any) -> Self:
        """Sessions whose [start, end) intersects [start, end)."""
        return self.filter(start_at_utc__lt=end, end_at_utc__gt=start)


class AbstractLiveClassSession(TimeStampedModel):
    """A time on a teacher's calendar: a group class with seats, or a 1:1 lesson (capacity 1).

    Subclass it to add fields and point ``LIVECLASS_BOOKING_SESSION_MODEL`` at the subclass.
    ``seats_taken`` is a counter kept by the services (active bookings + open waitlist offers);
    never write it yourself.
    """

    Kind = SessionKind
    Status = SessionStatus

    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("teacher")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=SessionKind.choices, default=SessionKind.GROUP)
    title = models.CharField(_("title"), max_length=200, blank=True, validators=[no_nul_bytes])
    start_at_utc = models.DateTimeField(_("starts at (UTC)"))
    end_at_utc = models.DateTimeField(_("ends at (UTC)"))
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"))
    timezone_snapshot = models.CharField(
        _("timezone"), max_length=64, default="UTC", help_text=_("IANA timezone the session was planned in.")
    )
    meeting_provider = models.CharField(_("meeting provider"), max_length=64, blank=True, validators=[no_nul_bytes])
    meeting_url = models.URLField(_("meeting URL"), max_length=500, blank=True, validators=[no_nul_bytes])
    meeting_passcode = models.CharField(_("meeting passcode"), max_length=128, blank=True, validators=[no_nul_bytes])
    capacity = models.PositiveIntegerField(_("capacity"), default=1)
    seats_taken = models.PositiveIntegerField(_("seats taken"), default=0, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    status_changed = MonitorField(_("status changed"), monitor="status")
    cancellation_reason = models.TextField(_("cancellation reason"), blank=True, validators=[no_nul_bytes])
    # NULL, not "": a session scheduled on its own belongs to no recurring class (recurrence_key__isnull).
    recurrence_key = models.CharField(  # noqa: DJ001
        _("recurrence key"), max_length=64, null=True, blank=True, db_index=True,
        help_text=_("Shared by the sessions created from one recurrence rule."),
    )
    external_ref = models.CharField(_("external reference"), max_length=100, null=True, blank=True, unique=True)

    objects = LiveClassSessionQuerySet.as_manager()

    class Meta:
        abstract = True
        verbose_name = _("live class session")
        verbose_name_plural = _("live class sessions")
        ordering = ["start_at_utc", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_at_utc__gt=models.F("start_at_utc")),
                name="%(app_label)s_%(class)s_end_after_start",
            ),
            models.CheckConstraint(condition=models.Q(capacity__gte=1), name="%(app_label)s_%(class)s_capacity_min_1"),
            models.CheckConstraint(
                condition=models.Q(seats_taken__gte=0, seats_taken__lte=models.F("capacity")),
                name="%(app_label)s_%(class)s_seats_within_capacity",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=1), name="%(app_label)s_%(class)s_duration_min_1"
            ),
        ]
        indexes = [
            models.Index(fields=["teacher", "start_at_utc"], name="%(class)s_teach_idx"),
            models.Index(fields=["status", "start_at_utc"], name="%(class)s_stat_idx"),
        ]

    def __str__(self) -> str:
        label = self.title or self.get_kind_display()
        return f"{label} @ {self.start_at_utc:%Y-%m-%d %H:%M} UTC"

    @property
    def seats_free(self) -> int:
        return max(self.capacity - self.seats_taken, 0)

    @property
    def is_group(self) -> bool:
        return self.kind == SessionKind.GROUP

    def cancel(self, actor: Any, reason: str = "", *, now: Any = None) -> AbstractLiveClassSession:
        from .. import services

        return services.cancel_session(self, actor=actor, reason=reason, now=now)


class LiveClassSession(AbstractLiveClassSession):
    class Meta(AbstractLiveClassSession.Meta):
        swappable = "LIVECLASS_BOOKING_SESSION_MODEL"
