"""The public Python API: the only code that changes booking state and sends signals.

Every function runs in one transaction (lock/claim, check, write, signals after commit) and
either succeeds or raises a ``BookingError`` subclass with a stable ``code`` having written nothing
and changed no field of the objects passed in.
"""

from ._engine.actors import SYSTEM
from ._engine.types import Actor, User
from .booking import (
    book_seat,
    cancel_booking,
    check_booking,
    confirm_booking,
    decline_booking,
)
from .calendar import issue_feed_token, revoke_feed_token
from .jobs import process_due
from .lessons import available_slots, request_lesson
from .moves import move_seat
from .outcomes import record_outcome
from .reschedule import (
    accept_reschedule,
    decline_reschedule,
    request_reschedule,
    withdraw_reschedule,
)
from .series import (
    cancel_series,
    confirm_series,
    create_series,
    decline_series,
    schedule_recurring_sessions,
    subscribe_to_recurring_sessions,
)
from .sessions import cancel_session, reschedule_session, schedule_session, update_session
from .teachers import (
    add_availability,
    add_time_off,
    remove_availability,
    remove_time_off,
    set_policy,
)
from .waitlist import (
    accept_offer,
    decline_offer,
    expire_offer,
    join_waitlist,
    leave_waitlist,
    offer_seat,
)

__all__ = [
    "SYSTEM",
    "Actor",
    "User",
    "accept_offer",
    "accept_reschedule",
    "add_availability",
    "add_time_off",
    "available_slots",
    "book_seat",
    "cancel_booking",
    "cancel_series",
    "cancel_session",
    "check_booking",
    "confirm_booking",
    "confirm_series",
    "create_series",
    "decline_booking",
    "decline_offer",
    "decline_reschedule",
    "decline_series",
    "expire_offer",
    "issue_feed_token",
    "join_waitlist",
    "leave_waitlist",
    "move_seat",
    "offer_seat",
    "process_due",
    "record_outcome",
    "remove_availability",
    "remove_time_off",
    "request_lesson",
    "reschedule_session",
    "request_reschedule",
    "revoke_feed_token",
    "schedule_recurring_sessions",
    "schedule_session",
    "set_policy",
    "subscribe_to_recurring_sessions",
    "update_session",
    "withdraw_reschedule",
]
