"""What the HTTP API answered to a creating POST sent with an ``Idempotency-Key`` header.

The row is written in the same transaction as the change the request made, under a unique
(user, key) constraint: of two requests racing with one key, the second waits for the first to
commit, finds its row and answers with the stored response. A refused request leaves no row, so
its retry runs again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` a user sent with a creating POST, and the response it got.

    ``digest`` is the SHA-256 of ``key`` and carries the uniqueness: keys are compared exactly,
    whatever the database's collation (MariaDB's default one ignores case and trailing spaces).
    ``fingerprint`` is a hash of the method, path and parsed body: the same key sent with another
    request is refused (``idempotency_key_reused``) instead of answered with the first request's
    result. ``response`` is the JSON body as it was sent, byte for byte. Rows older than
    ``IDEMPOTENCY_KEY_HOURS`` are deleted by ``process_due()``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user"),
    )
    key = models.CharField(_("key"), max_length=255)
    digest = models.CharField(_("key digest"), max_length=64)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("response status"))
    response = models.TextField(_("response body"))
    created_at = models.DateTimeField(_("created at"), db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["user", "digest"], name="lcb_idempotency_user_key_uniq")]

    def __str__(self) -> str:
        return f"{self.key} of user #{self.user_id}"
