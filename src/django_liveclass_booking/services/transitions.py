"""The booking state machine (DESIGN invariant 5). Terminal states never change."""

from __future__ import annotations

from ..exceptions import InvalidTransition
from ..models import BookingStatus

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    BookingStatus.PENDING: frozenset(
        {BookingStatus.CONFIRMED, BookingStatus.DECLINED, BookingStatus.CANCELLED, BookingStatus.EXPIRED}
    ),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELLED}),
    BookingStatus.DECLINED: frozenset(),
    BookingStatus.CANCELLED: frozenset(),
    BookingStatus.EXPIRED: frozenset(),
}


def sources_for(target: str) -> list[str]:
    """The statuses a booking may be in to move to ``target``."""
    return [status for status, targets in ALLOWED_TRANSITIONS.items() if target in targets]


def refuse(current: str, target: str, message: str | None = None) -> InvalidTransition:
    return InvalidTransition(
        message or f"A {current} booking cannot become {target}.", params={"from": current, "to": target}
    )
