"""The adapter's transactional hooks: a place taken, a place given back.

Called inside the service's transaction, so a host's ledger (credits, payments) commits or rolls
back with the booking. A ``BookingError`` raised by ``on_place_taken`` refuses the whole call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...adapter import DefaultBookingAdapter, get_adapter

#: Why a place was given back: the ``reason`` passed to ``on_place_released``.
CANCELLED = "cancelled"
LATE_CANCELLED = "late_cancelled"
DECLINED = "declined"
EXPIRED = "expired"
MOVED = "moved"
SESSION_CANCELLED = "session_cancelled"
REASONS = (CANCELLED, LATE_CANCELLED, DECLINED, EXPIRED, MOVED, SESSION_CANCELLED)


def hooked() -> bool:
    """Whether the adapter does anything when a place is taken (its ``on_place_taken`` is its own)."""
    return type(get_adapter()).on_place_taken is not DefaultBookingAdapter.on_place_taken


def taken(bookings: Iterable[Any]) -> None:
    adapter = get_adapter()
    for booking in bookings:
        adapter.on_place_taken(booking)


def released(bookings: Iterable[Any], reason: str) -> None:
    if reason not in REASONS:
        raise ValueError(f"Unknown release reason {reason!r}")
    adapter = get_adapter()
    for booking in bookings:
        adapter.on_place_released(booking, reason)
