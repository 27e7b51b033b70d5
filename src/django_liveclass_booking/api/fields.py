"""Fields every API serializer shares: instants always in UTC, people as ``{"id", "name"}``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class Instant(serializers.DateTimeField):
    """An instant: written in ISO 8601 with ``Z``; read only with a UTC offset (a naive time is refused)."""

    default_error_messages = {
        "naive": _("Give a date and time with a timezone or a UTC offset, e.g. 2030-01-31T09:00:00+01:00."),
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
        return super().to_internal_value(value).astimezone(dt.UTC)

    def to_representation(self, value: Any) -> Any:
        if value is None:
            return None
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
                      "example": "09:30"})
class LocalTime(serializers.TimeField):
    """A wall-clock time of day in a zone named elsewhere: ``HH:MM`` or ``HH:MM:SS``, never with an offset.

    Not OpenAPI's ``time`` format, which is RFC 3339's and carries an offset.
    """

    default_error_messages = {
        "invalid": _("Give a time of day as HH:MM or HH:MM:SS, without a UTC offset."),
    }
    PATTERN = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")

    def to_internal_value(self, value: Any) -> dt.time:
        if isinstance(value, dt.time) and value.tzinfo is None:
            return value
        if not (isinstance(value, str) and self.PATTERN.fullmatch(value)):
            self.fail("invalid")
        return dt.time.fromisoformat(value)

    def to_representation(self, value: Any) -> Any:
        return None if value is None else value.strftime("%H:%M:%S")


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


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 1440})
class Minutes(serializers.IntegerField):
    """A length in whole minutes, 1 to 1440."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 1440)
        super().__init__(**kwargs)

