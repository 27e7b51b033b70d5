"""Calendar feed tokens: issue (and thereby rotate), revoke, and resolve a token to its user.

The plain token exists only in the return value of ``issue_feed_token`` and in the feed address
the user copies into a calendar program; the database keeps its SHA-256 digest.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.db import router, transaction

from ..models.calendar import CalendarFeedToken, hash_feed_token
from ._engine.actors import require_user
from ._engine.guard import keeps_arguments_on_refusal
from ._engine.inputs import resolve_now

__all__ = ["issue_feed_token", "revoke_feed_token", "feed_user"]

#: Bytes of randomness per token: 256 bits (the floor for an unguessable bearer secret is 128).
TOKEN_BYTES = 32

#: ``token_urlsafe(32)`` is 43 characters; anything far longer is not ours and is refused before hashing.
MAX_TOKEN_LENGTH = 128

#: ``last_used_at`` is refreshed at most this often, so that a calendar polling every few minutes
#: does not turn every read into a write.
LAST_USED_RESOLUTION = dt.timedelta(hours=1)


@keeps_arguments_on_refusal
def issue_feed_token(user: Any, *, now: dt.datetime | None = None) -> str:
    """Create a new feed token for ``user``, revoking any live one, and return it in plain text.

    The plain token is returned once and never stored: show it to the user now (in the feed
    address) or lose it. Calling it again regenerates the address and invalidates the old one.
    """
    require_user(user, "user")
    current = resolve_now(now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    using = router.db_for_write(CalendarFeedToken)
    with transaction.atomic(using=using):
        # Two issues for one user at once (a double click on "regenerate") would each revoke the
        # old token and then collide on the one-live-token constraint. Locking the user's row
        # serialises them: the second then sees, and revokes, the first one's new token.
        list(get_user_model().objects.using(using).select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        # Revoke and create in one transaction: a reader never sees two live tokens, and a failed
        # insert leaves the old token working.
        CalendarFeedToken.objects.using(using).filter(user=user).live().update(revoked_at=current, modified=current)
        CalendarFeedToken.objects.using(using).create(user=user, token_hash=hash_feed_token(token))
    return token


@keeps_arguments_on_refusal
def revoke_feed_token(user: Any, *, now: dt.datetime | None = None) -> int:
    """Revoke ``user``'s live feed token; return how many were revoked (0 or 1).

    The feed address stops working at once; revoked rows are kept for the record.
    """
    require_user(user, "user")
    current = resolve_now(now)
    return CalendarFeedToken.objects.filter(user=user).live().update(revoked_at=current, modified=current)


@keeps_arguments_on_refusal
def feed_user(token: str, *, now: dt.datetime | None = None) -> Any | None:
    """The user whose live feed token is ``token``, or ``None`` (unknown, revoked, inactive user).

    Records the use in ``last_used_at`` at most once per ``LAST_USED_RESOLUTION``.
    """
    if not token or not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = (
        CalendarFeedToken.objects.live().select_related("user")
        .filter(token_hash=hash_feed_token(token)).first()
    )
    if row is None:
        return None
    user = row.user
    # A deactivated account's calendar is not served, but its token is left alone: reactivating
    # the account brings the feed back without the user resubscribing.
    if not getattr(user, "is_active", True):
        return None
    current = resolve_now(now)
    if row.last_used_at is None or current - row.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional on the row still being live so that a concurrent revocation is not undone
        # or raced; a plain UPDATE, no save(), so no other field is rewritten.
        CalendarFeedToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(last_used_at=current)
    return user
