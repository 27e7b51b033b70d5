"""A proposal to move a 1:1 lesson to another time, waiting for the other party's answer."""

from __future__ import annotations

from typing import Any, Self

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from model_utils.fields import MonitorField
from model_utils.models import TimeStampedModel

from .choices import RescheduleStatus
from .fields import active_flag
from .validators import no_nul_bytes


class RescheduleRequestQuerySet(models.QuerySet["RescheduleRequest"]):
    def pending(self) -> Self:
        return self.filter(status=RescheduleStatus.PENDING)

    def due_to_expire(self, now: Any) -> Self:
        return self.filter(status=RescheduleStatus.PENDING, expires_at__lte=now)


class RescheduleRequest(TimeStampedModel):
    """The student or the teacher of a 1:1 lesson proposes a new time; the other party answers.

    At most one pending proposal per booking. A pending proposal does not hold the proposed time: it
    is checked again when accepted. It expires at ``expires_at`` (the teacher's request time to
    live, or the earlier of the two starts).
    """

    Status = RescheduleStatus

    booking = models.ForeignKey(
        settings.LIVECLASS_BOOKING_BOOKING_MODEL, on_delete=models.CASCADE, related_name="reschedule_requests",
        verbose_name=_("booking"),
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("proposed by"),
    )
    start_at_utc = models.DateTimeField(_("proposed start (UTC)"))
    end_at_utc = models.DateTimeField(_("proposed end (UTC)"))
    previous_start_at_utc = models.DateTimeField(_("start when proposed (UTC)"))
    previous_end_at_utc = models.DateTimeField(_("end when proposed (UTC)"))
    status = models.CharField(_("status"), max_length=16, choices=RescheduleStatus.choices,
                              default=RescheduleStatus.PENDING)
    status_changed = MonitorField(_("status changed"), monitor="status")
    message = models.TextField(_("message"), blank=True, validators=[no_nul_bytes])
    expires_at = models.DateTimeField(_("expires at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("answered by"),
    )
    decided_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True, validators=[no_nul_bytes])
    # 1 while pending, NULL otherwise: one pending proposal per booking on every backend.
    pending_key = active_flag([RescheduleStatus.PENDING])

    objects = RescheduleRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("reschedule request")
        verbose_name_plural = _("reschedule requests")
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["booking", "pending_key"], name="lcb_reschedule_one_pending"),
            models.CheckConstraint(condition=models.Q(end_at_utc__gt=models.F("start_at_utc")),
                                   name="lcb_reschedule_end_after_start"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="lcb_reschedule_due_idx")]

    def __str__(self) -> str:
        return f"Reschedule of booking #{self.booking_id} to {self.start_at_utc:%Y-%m-%d %H:%M} UTC ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == RescheduleStatus.PENDING

    def accept(self, actor: Any, *, now: Any = None) -> Any:
        from .. import services

        return services.accept_reschedule(self, actor=actor, now=now)

    def decline(self, actor: Any, *, reason: str = "", now: Any = None) -> RescheduleRequest:
        from .. import services

        return services.decline_reschedule(self, actor=actor, reason=reason, now=now)

    def withdraw(self, actor: Any, *, now: Any = None) -> RescheduleRequest:
        from .. import services

        return services.withdraw_reschedule(self, actor=actor, now=now)
