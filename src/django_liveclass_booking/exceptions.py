"""Errors raised by the services. Every one carries a stable ``code`` hosts can branch on.

``str(error)`` is a message a person can act on; ``error.code`` never changes between releases;
``error.params`` holds the values the message was built from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .policy.engine import Violation


class BookingError(Exception):
    """Base class: a booking operation was refused and wrote nothing."""

    default_code = "booking_error"
    default_message = "The booking operation was refused."

    def __init__(self, message: str | None = None, *, code: str | None = None, params: Mapping[str, Any] | None = None):
        self.code: str = code or self.default_code
        self.params: dict[str, Any] = dict(params or {})
        self.message: str = message or self.default_message
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class PolicyViolation(BookingError):
    """One or more policy rules refused the booking; ``violations`` lists each with its code."""

    default_code = "policy_violation"
    default_message = "The booking breaks the teacher's booking policy."

    def __init__(self, violations: Iterable[Violation], message: str | None = None):
        self.violations: list[Violation] = list(violations)
        first = self.violations[0] if self.violations else None
        super().__init__(
            message or "; ".join(v.message for v in self.violations) or None,
            code=first.code if first else None,
            params=first.params if first else None,
        )

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.violations]


class SessionFull(BookingError):
    default_code = "session_full"
    default_message = "This session has no free seat."


class AlreadyBooked(BookingError):
    default_code = "already_booked"
    default_message = "This student already has an active booking for this session."


class SlotUnavailable(BookingError):
    default_code = "teacher_unavailable"
    default_message = "The teacher is not available at that time."


class InvalidTransition(BookingError):
    default_code = "invalid_transition"
    default_message = "That status change is not allowed."


class NotAllowed(BookingError):
    default_code = "not_allowed"
    default_message = "You are not allowed to do that."
