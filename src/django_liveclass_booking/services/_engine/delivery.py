"""Delivery of the outbox: each row sent at most once, however many workers run.

A worker *claims* due rows in a short transaction of its own: on PostgreSQL and MariaDB it picks
them with ``SELECT ... FOR UPDATE SKIP LOCKED`` (rows another worker is claiming are passed over,
not waited for); everywhere, one conditional ``UPDATE`` stamps them with the worker's token and
moves ``next_attempt_at`` a lease ahead, so no other worker sees them as due. Then, outside any
transaction (a slow mail server holds no lock and blocks no booking), it sends them one by one and
marks each ``sent_at`` as soon as it is sent. A send that fails records ``last_error`` and is due
again after a backoff that doubles up to an hour; a worker that dies mid-batch leaves its rows to
come due again when the lease ends. A worker that runs out of its lease stops and gives back the
rows it has not sent, so no row is sent by two workers.

Reminders are checked once more just before they go: one whose booking is no longer confirmed,
has moved, or has started is deleted instead of sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import F
from django.utils import timezone

from ...models import BookingStatus, Notification, NotificationKind, SessionStatus, get_booking_model
from . import db

logger = logging.getLogger("django_liveclass_booking.notifications")

#: Rows one worker claims at a time.
BATCH_SIZE = 100
#: How long claimed rows stay a worker's: longer than any send takes.
LEASE = dt.timedelta(minutes=5)
#: The first retry's delay; each further failure doubles it, up to MAX_BACKOFF.
FIRST_BACKOFF = dt.timedelta(minutes=1)
MAX_BACKOFF = dt.timedelta(hours=1)
#: Longest kept ``last_error``.
ERROR_LENGTH = 2000


def backoff(attempts: int) -> dt.timedelta:
    """The delay before the next try after ``attempts`` failed ones."""
    return min(FIRST_BACKOFF * (2 ** min(max(attempts - 1, 0), 20)), MAX_BACKOFF)


def _due(now: dt.datetime, pks: Iterable[Any] | None) -> Any:
    rows = Notification.objects.using(db.alias()).filter(sent_at__isnull=True, next_attempt_at__lte=now)
    return rows if pks is None else rows.filter(pk__in=list(pks))


def claim(now: dt.datetime, *, pks: Iterable[Any] | None = None, limit: int = BATCH_SIZE) -> tuple[str, list[Any]]:
    """Take up to ``limit`` due rows for this worker; its token and the rows' keys."""
    token = uuid.uuid4().hex
    pks = None if pks is None else list(pks)
    with db.atomic():
        due = _due(now, pks).order_by("next_attempt_at", "pk")
        if db.connection().features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        candidates = list(due.values_list("pk", flat=True)[:limit])
        if not candidates:
            return token, []
        # Conditional: a row another worker took meanwhile (SQLite has no SKIP LOCKED) is not due any more.
        # The lease runs on the wall clock, not on ``now`` (a sweep's ``now`` may be minutes old by now).
        lease_end = max(now, timezone.now()) + LEASE
        _due(now, candidates).update(claim_token=token, next_attempt_at=lease_end, attempts=F("attempts") + 1)
    claimed = list(Notification.objects.using(db.alias()).filter(claim_token=token).values_list("pk", flat=True))
    return token, claimed


def _mine(pk: Any, token: str) -> Any:
    return Notification.objects.using(db.alias()).filter(pk=pk, claim_token=token, sent_at__isnull=True)


def _loaded(pks: list[Any]) -> list[Notification]:
    """The claimed rows with everything their messages show, in a constant number of queries."""
    from ...notifications import load_actors

    rows = list(Notification.objects.using(db.alias()).filter(pk__in=pks).order_by("pk").select_related(
        "recipient", "booking__session", "booking__student", "booking__teacher", "session__teacher", "entry",
        "reschedule"))
    load_actors(rows)
    return rows


def _booked_classes(rows: list[Notification]) -> set[Any]:
    """Of the classes these rows remind their teachers of, those someone is still booked in (one query)."""
    wanted = {row.session_id for row in rows if row.kind == NotificationKind.REMINDER and row.booking_id is None}
    if not wanted:
        return set()
    return set(get_booking_model().objects.using(db.alias()).filter(
        session_id__in=wanted, status=BookingStatus.CONFIRMED).values_list("session_id", flat=True).distinct())


def _stale(row: Notification, now: dt.datetime, booked_classes: set[Any]) -> bool:
    """A reminder whose booking (or class) is no longer on at the time it was planned for."""
    if row.kind != NotificationKind.REMINDER:
        return False
    from ...notifications import planned_start

    start = planned_start(row)
    if row.booking is not None:
        current, live = row.booking.start_at_utc, row.booking.status == BookingStatus.CONFIRMED
    elif row.session is not None:
        # A class's reminder to its teacher: only while someone is still booked in it.
        current = row.session.start_at_utc
        live = row.session.status == SessionStatus.SCHEDULED and row.session_id in booked_classes
    else:
        return True
    return not live or start is None or abs((current - start).total_seconds()) >= 1 or current <= now


def _after_commit(send: Any) -> bool:
    """Inside a transaction (a host's own, a request's): leave the sending to its commit; whether it was left.

    A message sent from inside a transaction that then rolls back would tell of a change that never
    happened, and its row, unmarked again, would be sent a second time.
    """
    if not db.in_transaction():
        return False
    db.on_commit(send)
    return True


def deliver(now: dt.datetime, *, pks: Iterable[Any] | None = None, limit: int = BATCH_SIZE) -> int:
    """Claim and send one batch of due rows (``pks``: only these); how many were sent (0 when called inside a
    transaction: they are sent once it commits)."""
    pks = None if pks is None else list(pks)
    if _after_commit(lambda: deliver(now, pks=pks, limit=limit)):
        return 0
    return _batch(now, pks, limit)[1]


def _batch(now: dt.datetime, pks: Iterable[Any] | None, limit: int) -> tuple[int, int]:
    """One batch: how many rows were claimed, and how many of them sent (over one email connection)."""
    from ...notifications import one_connection

    started = time.monotonic()
    token, claimed = claim(now, pks=pks, limit=limit)
    if not claimed:
        return 0, 0
    rows = _loaded(claimed)
    booked_classes = _booked_classes(rows)
    with one_connection():
        return len(claimed), _send(rows, now, token, started, booked_classes)


def _send(rows: list[Notification], now: dt.datetime, token: str, started: float, booked_classes: set[Any]) -> int:
    """Send claimed rows one by one, marking each; how many were sent."""
    from ...adapter import get_adapter

    sent = 0
    adapter = get_adapter()
    for index, row in enumerate(rows):
        if time.monotonic() - started > LEASE.total_seconds() / 2:
            # Out of lease soon: give the rest back rather than risk a second worker sending them too.
            rest = [r.pk for r in rows[index:]]
            Notification.objects.using(db.alias()).filter(pk__in=rest, claim_token=token).update(
                claim_token="", next_attempt_at=now, attempts=F("attempts") - 1)
            break
        if _stale(row, now, booked_classes):
            _mine(row.pk, token).delete()
            continue
        try:
            adapter.send_notification(row)
        except Exception as exc:
            logger.warning("Notification %s (%s) to user %s failed: %s", row.pk, row.kind, row.recipient_id, exc)
            error = f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]
            _mine(row.pk, token).update(claim_token="", last_error=error,
                                        next_attempt_at=now + backoff(row.attempts))
            continue
        sent += _mine(row.pk, token).update(sent_at=now, claim_token="")
    return sent


def deliver_due(now: dt.datetime) -> int:
    """Send every row due at ``now``, batch after batch, until none is left to claim; how many were sent.

    Failed rows come due again only after their backoff, so a run always ends.
    """
    if _after_commit(lambda: deliver_due(now)):
        return 0
    total = 0
    while True:
        claimed, sent = _batch(now, None, BATCH_SIZE)
        total += sent
        if not claimed:
            return total
