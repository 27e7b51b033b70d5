"""The one time zone parser: IANA names, ``ZoneInfo`` or pytz zones in, a checked IANA name out."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from ...exceptions import BookingError
from .inputs import shown

#: Longer than any IANA name; a longer string is refused before the file system is asked.
MAX_NAME_LENGTH = 64


@functools.lru_cache(maxsize=512)
def _load(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        return None


def find_zone(name: Any) -> zoneinfo.ZoneInfo | None:
    """The zone of an IANA name, or None when the value is not one (never raises)."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH or "\x00" in name:
        return None
    return _load(name)


def zone_name(value: Any) -> str:
    """Normalise an IANA name, a ZoneInfo or a pytz timezone to a validated IANA name."""
    name = getattr(value, "key", None) or getattr(value, "zone", None) or value
    if find_zone(name) is not None:
        return str(name)
    raise BookingError(f"{shown(value, 80)!r} is not a known IANA timezone (e.g. 'Europe/London').",
                       code="invalid_timezone", params={"value": shown(value, 80)})


def zone(value: Any) -> zoneinfo.ZoneInfo:
    """The ``ZoneInfo`` of a value ``zone_name`` accepts; ``BookingError`` ``invalid_timezone`` otherwise."""
    found = find_zone(zone_name(value))
    assert found is not None
    return found
