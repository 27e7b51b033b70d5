"""The background sweep: everything that falls due with time alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..conf import booking_settings
from ..models import IdempotencyKey, SessionWaitlist, WaitlistStatus, get_booking_model
from ._engine import db, delivery, expiry, inputs, locks, outbox, outcomes, reschedule
from ._engine.guard import keeps_arguments_on_refusal

__all__ = ["process_due", "BATCH_SIZE"]

#: Sessions handled per transaction: bounds lock time and memory, keeps queries per row constant.
BATCH_SIZE = 200


@keeps_arguments_on_refusal
def process_due(now: dt.datetime | None = None) -> dict[str, int]:
    """Expire requests, waitlist offers and reschedule proposals past their expiry; offer freed seats to the
    next in line; complete the confirmed bookings whose session ended more than ``OUTCOME_WINDOW_HOURS`` ago;
    send the notifications that are due (each at most once, however many workers run); forget the HTTP
    API's idempotency keys older than ``IDEMPOTENCY_KEY_HOURS``.

    Returns ``{"expired_requests": n, "expired_offers": n, "offers_made": n, "completed": n,
    "expired_reschedules": n, "notifications_sent": n, "idempotency_keys_deleted": n}``. Idempotent and safe
    to run in several processes at once (sessions another worker holds are skipped, not waited for); a
    constant number of queries per batch.
    """
    current = inputs.resolve_now(now)
    counts = {"expired_requests": 0, "expired_offers": 0, "offers_made": 0}
    skipped: set[Any] = set()
    using = db.alias()
    Booking = get_booking_model()
    # The sweep's own messages are sent at its end, in batches, with every other row now due.
    with outbox.deferred():
        while True:
            with db.atomic():
                requests = (Booking.objects.using(using).due_to_expire(current).exclude(session_id__in=skipped)
                            .order_by("session_id").values_list("session_id", flat=True).distinct()[:BATCH_SIZE])
                offers = (SessionWaitlist.objects.using(using).filter(status=WaitlistStatus.OFFERED,
                                                                      offer_expires_at__lte=current)
                          .exclude(session_id__in=skipped).order_by("session_id")
                          .values_list("session_id", flat=True).distinct()[:BATCH_SIZE])
                found = sorted(set(requests) | set(offers))
                due_sessions = found[:BATCH_SIZE]
                if not due_sessions:
                    break
                locked = locks.lock_sessions(due_sessions, skip_locked=True)
                skipped.update(set(due_sessions) - set(locked))
                for key, value in expiry.refresh_sessions(locked, current).items():
                    counts[key] += value
            if len(found) < BATCH_SIZE:
                break
        counts["completed"] = outcomes.complete_due(current)
        counts["expired_reschedules"] = reschedule.sweep(current)
    counts["notifications_sent"] = delivery.deliver_due(current) if outbox.enabled() else 0
    kept_since = current - dt.timedelta(hours=booking_settings.IDEMPOTENCY_KEY_HOURS)
    counts["idempotency_keys_deleted"] = IdempotencyKey.objects.using(using).filter(
        created_at__lt=kept_since).delete()[0]
    return counts
