"""Fields every API serializer shares: instants always in UTC, people as ``{"id", "name"}``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class Instant(serializers.DateTimeField):
    """An instant: written in ISO 8601 with ``Z``; read only with a UTC offset (a naive time is refused)."""

    default_error_messages = {
        "naive": _("Give a date and time with a timezone or a UTC offset, e.g. 2030-01-31T09:00:00+01:00."),
        "year": _("Give a date between the years 1900 and 9000."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", dt.UTC)
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> dt.datetime:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        result = super().to_internal_value(value).astimezone(dt.UTC)
        # The range the services take (their invalid_datetime): refused here, naming the field.
        if not 1900 <= result.year <= 9000:
            self.fail("year")
        return result

    def to_representation(self, value: Any) -> Any:
        if value is None:
            return None
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def display_name(user: Any) -> str:
    """The name a person is shown by: the full name where the user model has one, else the username."""
    full = getattr(user, "get_full_name", None)
    name = full() if callable(full) else ""
    return str(name or user.get_username())


@extend_schema_field({
    "type": "object", "nullable": True, "required": ["id", "name"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
})
class Person(serializers.Field):
    """A user as ``{"id", "name"}`` (``null`` for none)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        return {"id": value.pk, "name": display_name(value)}

    def to_internal_value(self, data: Any) -> Any:  # pragma: no cover - read only
        raise NotImplementedError


@extend_schema_field(OpenApiTypes.INT)
class Minutes(serializers.IntegerField):
    """A length in whole minutes, 1 to 1440."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 1440)
        super().__init__(**kwargs)


class WallClockTime(serializers.TimeField):
    """A time of day on the wall clock of a zone given apart: an offset (``09:00+02:00``) is refused, not dropped."""

    default_error_messages = {
        "offset": _("Give the time without a UTC offset, e.g. 09:00; the zone is given as timezone."),
    }

    def to_internal_value(self, value: Any) -> dt.time:
        if isinstance(value, str):
            try:
                parsed: dt.time | None = dt.time.fromisoformat(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                self.fail("offset")
        return super().to_internal_value(value)
