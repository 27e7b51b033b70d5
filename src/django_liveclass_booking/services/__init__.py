"""The public Python API: the only code that changes booking state and sends signals.

Every function runs in one transaction (lock/claim, check, write, signals after commit) and
either succeeds or raises a ``BookingError`` subclass with a stable ``code`` having written nothing.
"""

from ._common import SYSTEM
from .booking import book_seat, cancel_booking, check_booking, confirm_booking, decline_booking
from .sessions import cancel_session, schedule_session

__all__ = [
    "SYSTEM",
    "book_seat",
    "cancel_booking",
    "cancel_session",
    "check_booking",
    "confirm_booking",
    "decline_booking",
    "schedule_session",
]
