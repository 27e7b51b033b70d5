from __future__ import annotations

import functools

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .engine import Rule


@functools.cache
def get_rules() -> list[Rule]:
    """Instantiate ``POLICY_RULES`` once; ``setting_changed`` clears the cache."""
    from ..conf import booking_settings

    rules = []
    for entry in booking_settings.POLICY_RULES:
        try:
            klass = import_string(entry["NAME"])
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"LIVECLASS_BOOKING['POLICY_RULES']: cannot import {entry['NAME']!r}: {exc}"
            ) from exc
        rules.append(klass(**entry.get("OPTIONS", {})))
    return rules


def clear_cache() -> None:
    get_rules.cache_clear()
