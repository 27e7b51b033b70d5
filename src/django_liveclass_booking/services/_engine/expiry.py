"""Requests and waitlist offers expire: lazily when something touches their session, and in the sweep.

The caller holds the locks of the sessions involved (teacher row first, then sessions by ascending
pk). Every booking transition locks its session first, so under those locks the set of due
requests read here is exactly the set the UPDATE changes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from ... import signals
from ...models import (
    BookingStatus,
    SessionWaitlist,
    WaitlistStatus,
    get_booking_model,
)
from . import db, lifecycle, seats, transitions
from .events import send_after_commit


def request_expiry(ttl_hours: int | None, now: dt.datetime, start: dt.datetime) -> dt.datetime:
    """A pending request lives ``ttl_hours`` (no limit when None), and never past the session start."""
    return start if ttl_hours is None else min(start, now + dt.timedelta(hours=ttl_hours))


def expire_requests(due: list[Any], now: dt.datetime) -> tuple[int, int]:
    """Expire these due pending bookings: hand group seats on, cancel 1:1 lessons, signal each.

    Returns (requests expired, offers made with their seats).
    """
    if not due:
        return 0, 0
    offered = lifecycle.end_bookings(due, BookingStatus.EXPIRED, signals.booking_expired, now, close_items=False)
    return len(due), len(offered)


def expire_offers(due: list[SessionWaitlist], now: dt.datetime) -> tuple[int, int]:
    """Expire these due offers and pass each seat to the next in line. Returns (expired, offers made)."""
    if not due:
        return 0, 0
    transitions.move_rows(SessionWaitlist.objects.using(db.alias()).filter(pk__in=[e.pk for e in due]),
                          WaitlistStatus.EXPIRED, now)
    for entry in due:
        transitions.apply(entry, WaitlistStatus.EXPIRED, now)
        send_after_commit(signals.waitlist_offer_expired, SessionWaitlist, entry=entry)
    offered = seats.free_seats(Counter(e.session_id for e in due), now)
    return len(due), len(offered)


def refresh_sessions(session_pks: list[Any], now: dt.datetime) -> dict[str, int]:
    """Apply everything due in sessions whose rows the caller has locked: requests, then offers.

    Whatever touches a session calls this first, so nothing past its expiry ever holds a seat
    against anyone, even before a sweep runs.
    """
    using = db.alias()
    requests = list(get_booking_model().objects.using(using).due_to_expire(now).filter(session_id__in=session_pks)
                    .select_related("session"))
    expired_requests, offers_a = expire_requests(requests, now)
    offers = list(SessionWaitlist.objects.using(using).filter(session_id__in=session_pks,
                                                              status=WaitlistStatus.OFFERED,
                                                              offer_expires_at__lte=now))
    expired_offers, offers_b = expire_offers(offers, now)
    return {"expired_requests": expired_requests, "expired_offers": expired_offers, "offers_made": offers_a + offers_b}


def expire_due_in_sessions(session_pks: list[Any], now: dt.datetime) -> int:
    """Refresh sessions whose rows the caller has locked; the number of seats or slots it freed."""
    counts = refresh_sessions(session_pks, now)
    return counts["expired_requests"] + counts["expired_offers"]
