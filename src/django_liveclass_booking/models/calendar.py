"""Secret tokens for per-user calendar feeds (see ``services.calendar`` and ``docs/calendar.rst``)."""

from __future__ import annotations

import hashlib
from typing import Self

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from model_utils.models import TimeStampedModel


def hash_feed_token(token: str) -> str:
    """SHA-256 hex digest of a plain feed token: the only form of the token that is stored.

    A plain hash (no salt, no slow KDF) is enough because the token is 256 random bits, not a
    password: nobody can brute-force the preimage, and an unsalted digest keeps the lookup a
    single indexed equality query.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class CalendarFeedTokenQuerySet(models.QuerySet["CalendarFeedToken"]):
    def live(self) -> Self:
        """Tokens not revoked."""
        return self.filter(revoked_at__isnull=True)


class CalendarFeedToken(TimeStampedModel):
    """The secret in one user's calendar feed address, stored only as its SHA-256 digest.

    A user has at most one live (not revoked) token; issuing a new one revokes the old one
    (``services.issue_feed_token``). Revoked rows stay as an audit trail.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    # unique=True already gives the column an index; the feed looks tokens up by this value.
    token_hash = models.CharField(_("token hash (SHA-256)"), max_length=64, unique=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    # 1 while live, NULL once revoked: with the unique constraint below, at most one live token per
    # user on every backend (a partial unique index would be ignored by MySQL/MariaDB; see
    # fields.active_flag for the same device).
    live_key = models.GeneratedField(
        expression=models.Case(
            models.When(revoked_at__isnull=True, then=models.Value(1)),
            default=None,
            output_field=models.SmallIntegerField(null=True),
        ),
        output_field=models.SmallIntegerField(null=True),
        db_persist=True,
        editable=False,
    )

    objects = CalendarFeedTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("calendar feed token")
        verbose_name_plural = _("calendar feed tokens")
        constraints = [
            models.UniqueConstraint(fields=["user", "live_key"], name="%(app_label)s_%(class)s_one_live_per_user"),
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "live"
        return f"Calendar feed token #{self.pk} of user #{self.user_id} ({state})"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None
