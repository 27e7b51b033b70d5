"""The outbox: one row per message to one person, written in the transaction of the change it tells about."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import NotificationKind


class Notification(models.Model):
    """A message to ``recipient`` about a booking, a session, a waitlist entry or a proposed new time.

    The services write the rows in the same transaction as the change (so a rolled-back change tells
    nobody, and a committed one is never lost); ``process_due()`` and the after-commit delivery send
    each row at most once: a worker claims rows (``claim_token``, ``next_attempt_at`` as a lease),
    sends, and marks them ``sent_at``; a failed send records ``last_error`` and is retried later.
    ``data`` keeps what the message is about as it was when written (the times, a reason, the
    calendar sequence), so a late delivery still tells what happened then.
    """

    Kind = NotificationKind

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=NotificationKind.choices)
    booking = models.ForeignKey(
        settings.LIVECLASS_BOOKING_BOOKING_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="notifications", verbose_name=_("booking"),
    )
    session = models.ForeignKey(
        settings.LIVECLASS_BOOKING_SESSION_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="+", verbose_name=_("session"),
    )
    entry = models.ForeignKey(
        "liveclass_booking.SessionWaitlist", on_delete=models.CASCADE, null=True, blank=True,
        related_name="+", verbose_name=_("waitlist entry"),
    )
    reschedule = models.ForeignKey(
        "liveclass_booking.RescheduleRequest", on_delete=models.CASCADE, null=True, blank=True,
        related_name="+", verbose_name=_("proposed new time"),
    )
    scheduled_for = models.DateTimeField(_("scheduled for"))
    next_attempt_at = models.DateTimeField(
        _("next attempt at"),
        help_text=_("When a worker may take the row next: its schedule, a retry, or a lease's end."),
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    claim_token = models.CharField(_("claimed by"), max_length=32, blank=True, default="", editable=False)
    # NULL, not "": many rows have no key, and only NULLs may repeat under a unique constraint.
    dedupe_key = models.CharField(  # noqa: DJ001
        _("deduplication key"), max_length=190, null=True, blank=True, unique=True, editable=False,
        help_text=_("Set on rows planned more than once (a class's reminder to its teacher): the first one stays."),
    )
    data = models.JSONField(_("details"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-scheduled_for", "-pk"]
        indexes = [
            models.Index(fields=["sent_at", "next_attempt_at"], name="lcb_notification_due_idx"),
            models.Index(fields=["kind", "booking"], name="lcb_notification_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to user #{self.recipient_id} at {self.scheduled_for:%Y-%m-%d %H:%M}"

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None
