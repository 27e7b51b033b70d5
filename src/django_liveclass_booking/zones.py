"""The time zones the pages offer and accept: IANA names, matched whatever their case."""

from __future__ import annotations

import functools
import zoneinfo


@functools.cache
def zone_names() -> list[str]:
    """IANA zone names the zone picker offers: "UTC" and every Area/Location name, sorted."""
    names = {name for name in zoneinfo.available_timezones()
             if "/" in name and not name.startswith(("Etc/", "SystemV/"))}
    return ["UTC", *sorted(names)]


@functools.cache
def _by_lower_case() -> dict[str, str]:
    return {name.lower(): name for name in sorted(zoneinfo.available_timezones())}


def canonical_zone_name(text: object) -> str | None:
    """The IANA name ``text`` means, matched without regard to case or surrounding spaces; else None.

    ``"europe/madrid "`` gives ``"Europe/Madrid"``; an unknown name gives None.
    """
    if not isinstance(text, str):
        return None
    return _by_lower_case().get(text.strip().lower())
