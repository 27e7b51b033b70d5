"""Errors raised by the services. Every one carries a stable ``code`` hosts can branch on.

``str(error)`` is a message a person can act on; ``error.code`` never changes between releases;
``error.params`` holds the values the message is built from. The message of a code registered in
:mod:`django_liveclass_booking.errors` is rendered when it is read, in the language active then, so
an error raised in one request reads right on any page that shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ERROR_CODES, message_for

if TYPE_CHECKING:
    from .policy.engine import Violation


def render_message(code: str, params: Mapping[str, Any], text: Any = None) -> str:
    """The message a person sees for ``code``: the registry's for a registered code, else ``text``.

    Either way the adapter's ``format_error_message`` hook has the last word.
    """
    from .adapter import get_adapter

    default = message_for(code, params) if code in ERROR_CODES or not text else str(text)
    return str(get_adapter().format_error_message(code, params, default))


class BookingError(Exception):
    """Base class: a booking operation was refused and wrote nothing.

    A registered ``code`` brings its own message; the ``message`` argument is the text of a code the
    registry does not know (a host's own), and ``default_message`` that of a subclass's own
    ``default_code`` when no message is given.
    """

    default_code = "booking_error"
    default_message: Any = None

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
        self.code: str = code or self.default_code
        self.params: dict[str, Any] = dict(params or {})
        self._text = message if message is not None else self.default_message
        super().__init__(*(() if message is None else (message,)))

    @property
    def message(self) -> str:
        return render_message(self.code, self.params, self._text)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its state, not from __init__'s arguments, which differ between subclasses.
        return type(self).__new__, (type(self),), self.__dict__


class PolicyViolation(BookingError):
    """One or more policy rules refused the booking; ``violations`` lists each with its code.

    Its ``code`` and ``params`` are the first violation's; its message joins every violation's.
    """

    default_code = "policy_violation"

    def __init__(self, violations: Iterable[Violation], message: str | None = None) -> None:
        self.violations: list[Violation] = list(violations)
        first = self.violations[0] if self.violations else None
        super().__init__(message, code=first.code if first else None, params=first.params if first else None)

    @property
    def message(self) -> str:
        if self.violations:
            return "; ".join(violation.message for violation in self.violations)
        return super().message

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.violations]


class SessionFull(BookingError):
    default_code = "session_full"


class AlreadyBooked(BookingError):
    default_code = "already_booked"


class SlotUnavailable(BookingError):
    default_code = "teacher_unavailable"


class InvalidTransition(BookingError):
    default_code = "invalid_transition"


class NotAllowed(BookingError):
    default_code = "not_allowed"
