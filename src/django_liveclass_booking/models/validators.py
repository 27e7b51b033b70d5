from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def validate_timezone_name(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise ValidationError(
            _("%(value)s is not a known IANA timezone (e.g. Europe/London)."),
            code="invalid_timezone",
            params={"value": value},
        ) from None


def validate_lesson_durations(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise ValidationError(
            _("Lesson durations must be a list of whole minutes greater than zero, e.g. [30, 60]."),
            code="invalid_lesson_durations",
        )
