"""What the HTTP API answered to a creating POST sent with an ``Idempotency-Key`` header.

The row is written in the same transaction as the change the request made, under a unique
(user, key) constraint: of two requests racing with one key, the second waits for the first to
commit, finds its row and answers with the stored response. A refused request leaves no row, so
its retry runs again.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` a user sent with a creating POST, and the response it got.

    ``fingerprint`` is a hash of the method, path and body: the same key sent with another request
    is refused (``idempotency_key_reused``) instead of answered with the first request's result.
    Rows older than ``IDEMPOTENCY_KEY_HOURS`` are deleted by ``process_due()``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user"),
    )
    key = models.CharField(_("key"), max_length=255)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("response status"))
    response = models.JSONField(_("response body"), default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("created at"), db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="lcb_idempotency_user_key_uniq")]

    def __str__(self) -> str:
        return f"{self.key} of user #{self.user_id}"
