from __future__ import annotations

from typing import Any, Self

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from model_utils.fields import MonitorField
from model_utils.models import TimeStampedModel

from .choices import OPEN_WAITLIST_STATUSES, WaitlistStatus
from .fields import active_flag


class SessionWaitlistQuerySet(models.QuerySet["SessionWaitlist"]):
    def open(self) -> Self:
        return self.filter(status__in=OPEN_WAITLIST_STATUSES)

    def waiting(self) -> Self:
        return self.filter(status=WaitlistStatus.WAITING)

    def in_line_order(self) -> Self:
        return self.order_by("position", "pk")


class SessionWaitlist(TimeStampedModel):
    """One student waiting for a seat in one group session, first come, first served.

    An ``offered`` entry holds a seat (it counts in the session's ``seats_taken``) until it is
    accepted, declined, or expires at ``offer_expires_at``.
    """

    Status = WaitlistStatus

    session = models.ForeignKey(
        settings.LIVECLASS_BOOKING_SESSION_MODEL, on_delete=models.CASCADE, related_name="waitlist_entries",
        verbose_name=_("session"),
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("student")
    )
    position = models.PositiveIntegerField(_("position"))
    status = models.CharField(
        _("status"), max_length=16, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    status_changed = MonitorField(_("status changed"), monitor="status")
    offered_at = models.DateTimeField(_("offered at"), null=True, blank=True)
    offer_expires_at = models.DateTimeField(_("offer expires at"), null=True, blank=True, db_index=True)
    booking = models.OneToOneField(
        settings.LIVECLASS_BOOKING_BOOKING_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="waitlist_entry", verbose_name=_("booking"),
    )
    # 1 while waiting/offered: one open entry per (session, student) on every backend.
    open_key = active_flag(OPEN_WAITLIST_STATUSES)

    objects = SessionWaitlistQuerySet.as_manager()

    class Meta:
        verbose_name = _("waitlist entry")
        verbose_name_plural = _("waitlist entries")
        ordering = ["session", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "student", "open_key"], name="%(app_label)s_%(class)s_one_open_per_student"
            ),
        ]
        indexes = [models.Index(fields=["session", "status", "position"], name="lcb_waitlist_line_idx")]

    def __str__(self) -> str:
        return f"Waitlist #{self.position} for session #{self.session_id} ({self.status})"

    def offer_seat(self, now: Any = None) -> SessionWaitlist:
        from .. import services

        return services.offer_seat(self, now=now)

    def accept_offer(self, actor: Any, now: Any = None) -> Any:
        from .. import services

        return services.accept_offer(self, actor=actor, now=now)

    def expire_offer(self, now: Any = None) -> SessionWaitlist:
        from .. import services

        return services.expire_offer(self, now=now)
