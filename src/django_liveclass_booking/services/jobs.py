"""The background sweep: everything that falls due with time alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction

from ..models import SessionWaitlist, WaitlistStatus, get_booking_model, get_session_model
from . import expiry
from ._common import resolve_now

#: Sessions handled per transaction: bounds lock time and memory, keeps queries per row constant.
BATCH_SIZE = 200


def _lock_sessions(pks: list[Any]) -> list[Any]:
    qs = get_session_model().objects.filter(pk__in=pks).order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        # Several workers may sweep at once: each takes the sessions nobody holds and leaves the
        # rest to their holder (who touches them anyway) or to the next sweep.
        qs = qs.select_for_update(skip_locked=True)
    elif connection.features.has_select_for_update:
        qs = qs.select_for_update()
    return list(qs.values_list("pk", flat=True))


def process_due(now: dt.datetime | None = None) -> dict[str, int]:
    """Expire requests and waitlist offers past their expiry; offer freed seats to the next in line.

    Returns ``{"expired_requests": n, "expired_offers": n, "offers_made": n}``. Idempotent and safe to
    run in several processes at once; a constant number of queries per batch of sessions.
    """
    current = resolve_now(now)
    counts = {"expired_requests": 0, "expired_offers": 0, "offers_made": 0}
    skipped: set[Any] = set()
    Booking = get_booking_model()
    while True:
        with transaction.atomic():
            requests = (Booking.objects.due_to_expire(current).exclude(session_id__in=skipped)
                        .order_by("session_id").values_list("session_id", flat=True).distinct()[:BATCH_SIZE])
            offers = (SessionWaitlist.objects.filter(status=WaitlistStatus.OFFERED, offer_expires_at__lte=current)
                      .exclude(session_id__in=skipped).order_by("session_id")
                      .values_list("session_id", flat=True).distinct()[:BATCH_SIZE])
            found = sorted(set(requests) | set(offers))
            due_sessions = found[:BATCH_SIZE]
            if not due_sessions:
                break
            locked = _lock_sessions(due_sessions)
            skipped.update(set(due_sessions) - set(locked))
            for key, value in expiry.refresh_sessions(locked, current).items():
                counts[key] += value
        if len(found) < BATCH_SIZE:
            break
    return counts
