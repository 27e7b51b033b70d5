"""Arguments checked before any lock: a bad one is refused with a code, within bounded work.

Bounds keep date arithmetic away from the calendar's edges (year 1 and 9999 overflow) and keep
any one call's work in proportion to what a person could book.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from ...adapter import get_adapter
from ...exceptions import BookingError
from ...models import (
    AbstractLiveClassBooking,
    AbstractLiveClassSession,
    BookingSeries,
    SessionWaitlist,
    TeacherAvailability,
    TeacherBookingPolicy,
    TeacherTimeOff,
)
from ...models.validators import clean_text

#: Times outside these years are refused: far from the ends of ``datetime``, where a duration or
#: a buffer added to them would overflow.
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
#: The longest session or lesson: a day.
MAX_DURATION_MINUTES = 24 * 60
#: The most seats one group session may have.
MAX_CAPACITY = 100_000
#: The longest range ``available_slots`` computes in one call.
MAX_SLOT_RANGE = dt.timedelta(days=92)
#: Free text (titles, messages, reasons) longer than this is refused rather than cut.
MAX_TEXT = 2000


def shown(value: Any, limit: int = 40) -> str:
    """At most ``limit`` characters naming ``value`` in a message; never raises.

    ``str()`` itself can fail on hostile input (an int of more than 4300 digits, a datetime whose
    tzinfo raises), and a refusal must not turn into that error.
    """
    if isinstance(value, str):
        return value[:limit]
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 (any __str__ may raise; the type's name always exists)
        text = f"<{type(value).__name__}>"
    return text[:limit]


def aware(value: Any, name: str) -> dt.datetime:
    """An aware datetime in UTC; ``naive_datetime`` / ``invalid_datetime`` otherwise."""
    if not isinstance(value, dt.datetime):
        raise BookingError(f"{name} must be a datetime, not {type(value).__name__}.", code="invalid_datetime",
                           params={"field": name})
    try:
        offset = value.utcoffset()
    except (ValueError, TypeError, OverflowError):
        offset = None
    if value.tzinfo is None or offset is None:
        raise BookingError(
            f"{name} is a naive datetime; pass a timezone-aware one (e.g. with zoneinfo.ZoneInfo).",
            code="naive_datetime", params={"field": name},
        )
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise BookingError(f"{name} must be between the years {EARLIEST.year} and {LATEST.year}.",
                           code="invalid_datetime", params={"field": name})
    return utc


def resolve_now(now: dt.datetime | None) -> dt.datetime:
    return aware(get_adapter().now() if now is None else now, "now")


def minutes(duration: Any, name: str = "duration", *, maximum: int = MAX_DURATION_MINUTES) -> int:
    """Whole minutes from a ``timedelta`` or an int, 1..``maximum``; ``invalid_duration`` otherwise."""
    if isinstance(duration, dt.timedelta):
        seconds = duration.total_seconds()
        if seconds % 60:
            raise BookingError(f"{name} must be a whole number of minutes.", code="invalid_duration",
                               params={"field": name})
        value = int(seconds // 60)
    elif isinstance(duration, int) and not isinstance(duration, bool):
        value = duration
    else:
        raise BookingError(f"{name} must be a timedelta or whole minutes, not {type(duration).__name__}.",
                           code="invalid_duration", params={"field": name})
    if value <= 0:
        raise BookingError(f"{name} must be longer than zero minutes.", code="invalid_duration",
                           params={"field": name, "value": value})
    if value > maximum:
        raise BookingError(f"{name} must be at most {maximum} minutes.", code="invalid_duration",
                           params={"field": name, "value": value, "max": maximum})
    return value


def capacity(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CAPACITY:
        raise BookingError(
            f"capacity must be a whole number of seats from 1 to {MAX_CAPACITY}.",
            code="invalid_capacity", params={"value": shown(value), "max": MAX_CAPACITY},
        )
    return value


def text(value: Any, name: str, *, max_length: int = MAX_TEXT) -> str:
    """Free text a person typed: a str without NUL bytes or lone surrogates, at most ``max_length`` characters."""
    return clean_text(value, field=name, max_length=max_length)


def storable(value: str) -> bool:
    """Whether every supported database can store and compare the text: no NUL, no lone surrogate."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def choice(value: Any, name: str, allowed: Any, code: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise BookingError(f"{name} must be one of {', '.join(sorted(allowed))}.", code=code,
                           params={"field": name, "value": shown(value)})
    return value


def end_after(start: dt.datetime, length: int) -> dt.datetime:
    """``start`` plus ``length`` minutes (both already bounded, so this cannot overflow)."""
    return start + dt.timedelta(minutes=length)


def _saved(value: Any, model: type, name: str, code: str, what: str) -> None:
    if not isinstance(value, model) or getattr(value, "pk", None) is None:
        raise BookingError(f"{name} must be a saved {what}.", code=code, params={"field": name})


def session(value: Any, name: str = "session") -> None:
    _saved(value, AbstractLiveClassSession, name, "invalid_session", "live class session")


def booking(value: Any, name: str = "booking") -> None:
    _saved(value, AbstractLiveClassBooking, name, "invalid_booking", "booking")


def entry(value: Any, name: str = "entry") -> None:
    _saved(value, SessionWaitlist, name, "invalid_entry", "waitlist entry")


def series(value: Any, name: str = "series") -> None:
    _saved(value, BookingSeries, name, "invalid_series", "booking series")


def window(value: Any, name: str = "window") -> None:
    _saved(value, TeacherAvailability, name, "invalid_window", "availability window")


def time_off(value: Any, name: str = "time_off") -> None:
    _saved(value, TeacherTimeOff, name, "invalid_time_off", "time off")


def policy_values(fields: Mapping[str, Any]) -> None:
    """Each given policy value within its field's bounds (``invalid_policy``), judged on a row of its own.

    The values alone decide this, so it is refused before the teacher's row is locked; the stored
    row is checked again as a whole under the lock.
    """
    known = {f.name for f in TeacherBookingPolicy._meta.concrete_fields}
    try:
        TeacherBookingPolicy(**fields).clean_fields(exclude=sorted(known - set(fields)))
    except ValidationError as exc:
        raise invalid(exc, "policy") from exc


def invalid(exc: ValidationError, what: str) -> BookingError:
    """A model validation error as ``invalid_<what>`` (or ``invalid_timezone``), naming the fields."""
    errors = exc.error_dict if hasattr(exc, "error_dict") else {"__all__": exc.error_list}
    fields = sorted(errors)
    # A timezone error keeps its own stable code; anything else is reported as invalid input.
    codes = {e.code for errs in errors.values() for e in errs}
    code = "invalid_timezone" if "invalid_timezone" in codes else f"invalid_{what}"
    text = "; ".join(f"{f}: {' '.join(str(m) for e in errs for m in e.messages)}" for f, errs in errors.items())
    return BookingError(f"Invalid {what}: {text}", code=code, params={"fields": fields})
