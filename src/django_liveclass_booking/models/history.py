"""What happened to a booking: one row per change, written in the change's own transaction."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import BookingEventKind


class BookingEvent(models.Model):
    """One change of a booking: its creation, a status move, a reschedule, a move to another session.

    Written only by the services (never for a refused call), so the events of a booking, in order,
    are its whole history. ``data`` holds what the change was about: the statuses it moved between,
    the previous and new times, a reason, the outcome recorded.
    """

    Kind = BookingEventKind

    booking = models.ForeignKey(
        settings.LIVECLASS_BOOKING_BOOKING_MODEL, on_delete=models.CASCADE, related_name="events",
        verbose_name=_("booking"),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=BookingEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("by"), help_text=_("Empty for a change made by the system (a sweep, an import)."),
    )
    at = models.DateTimeField(_("at"))
    data = models.JSONField(_("details"), default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = _("booking event")
        verbose_name_plural = _("booking events")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["booking", "at"], name="lcb_event_booking_idx")]

    def __str__(self) -> str:
        return f"{self.kind} of booking #{self.booking_id} at {self.at:%Y-%m-%d %H:%M}"
