"""A teacher's policy values checked on the way in: right types, nothing converted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from ...adapter import get_adapter
from ...exceptions import BookingError
from ...models import TeacherBookingPolicy
from .actors import is_system, require, require_actor

#: Policy fields a caller may set; the rest (teacher, timestamps) belong to the row itself.
POLICY_FIELDS = frozenset(
    f.name for f in TeacherBookingPolicy._meta.concrete_fields if f.name not in {"id", "teacher", "created", "modified"}
)


def _type_ok(name: str, value: Any) -> bool:
    field = TeacherBookingPolicy._meta.get_field(name)
    if value is None:
        return bool(field.null)
    if isinstance(field, models.BooleanField):
        return isinstance(value, bool)
    if isinstance(field, models.IntegerField):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(field, models.JSONField):
        return isinstance(value, list)
    if name == "timezone":
        # A ZoneInfo or pytz zone is normalised to its name by the caller.
        return True
    return isinstance(value, str)


def _type_hint(name: str) -> str:
    field = TeacherBookingPolicy._meta.get_field(name)
    if isinstance(field, models.BooleanField):
        kind = "True or False"
    elif isinstance(field, models.IntegerField):
        kind = "a whole number (int)"
    elif isinstance(field, models.JSONField):
        kind = "a list of whole minutes"
    else:
        kind = "text"
    return f"{kind} or None" if field.null else kind


def check_fields(fields: Mapping[str, Any]) -> None:
    """Refuse unknown fields and values of the wrong type (``invalid_policy``, naming the fields)."""
    unknown = sorted(set(fields) - POLICY_FIELDS)
    if unknown:
        raise BookingError(code="invalid_policy",
                           params={"fields": unknown})
    wrong = sorted(name for name, value in fields.items() if not _type_ok(name, value))
    if wrong:
        raise BookingError(
            "Wrong type for policy fields: " + "; ".join(f"{name}: {_type_hint(name)}" for name in wrong) + ".",
            code="invalid_policy", params={"fields": wrong},
        )


def require_manager(actor: Any, teacher: Any) -> None:
    """With an actor, the adapter's ``can_manage_teacher`` decides; without one, the caller has decided."""
    if actor is not None:
        require_actor(actor)
        require(is_system(actor) or get_adapter().can_manage_teacher(actor, teacher),
                "Only the teacher or a manager may change this teacher's calendar.")
