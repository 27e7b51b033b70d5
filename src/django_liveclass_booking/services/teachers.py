"""A teacher's own settings: booking policy, weekly availability windows, time off."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from ..adapter import get_adapter
from ..exceptions import BookingError
from ..models import TeacherAvailability, TeacherBookingPolicy, TeacherTimeOff
from ..models.validators import clean_text
from ._common import aware, is_system, lock_teacher, require, require_actor, timezone_name

#: Policy fields a caller may set; the rest (teacher, timestamps) belong to the row itself.
POLICY_FIELDS = frozenset(
    f.name for f in TeacherBookingPolicy._meta.concrete_fields if f.name not in {"id", "teacher", "created", "modified"}
)


def _invalid(exc: ValidationError, what: str) -> BookingError:
    errors = exc.error_dict if hasattr(exc, "error_dict") else {"__all__": exc.error_list}
    fields = sorted(errors)
    # A timezone error keeps its own stable code; anything else is reported as invalid input.
    codes = {e.code for errs in errors.values() for e in errs}
    code = "invalid_timezone" if "invalid_timezone" in codes else f"invalid_{what}"
    text = "; ".join(f"{f}: {' '.join(str(m) for e in errs for m in e.messages)}" for f, errs in errors.items())
    return BookingError(f"Invalid {what}: {text}", code=code, params={"fields": fields})


def _policy_type_ok(name: str, value: Any) -> bool:
    field = TeacherBookingPolicy._meta.get_field(name)
    if value is None:
        return field.null
    if isinstance(field, models.BooleanField):
        return isinstance(value, bool)
    if isinstance(field, models.IntegerField):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(field, models.JSONField):
        return isinstance(value, list)
    if name == "timezone":
        # A ZoneInfo or pytz zone is normalised to its name below.
        return True
    return isinstance(value, str)


def _policy_type_hint(name: str) -> str:
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


def set_policy(teacher: Any, **fields: Any) -> TeacherBookingPolicy:
    """Change fields of the teacher's booking policy (creating it from the defaults first).

    Values are taken as they are, never converted: numbers are ``int`` (not ``bool``, not text),
    ``None`` only where the field is optional, flags are ``bool``, ``lesson_durations`` a list of
    whole minutes (see ``validate_lesson_durations``). Raises ``BookingError`` with code
    ``invalid_policy`` (unknown field, wrong type or value out of bounds; ``params["fields"]``
    names them) or ``invalid_timezone``; nothing is written then.
    """
    unknown = sorted(set(fields) - POLICY_FIELDS)
    if unknown:
        raise BookingError(f"Unknown policy fields: {', '.join(unknown)}.", code="invalid_policy",
                           params={"fields": unknown})
    wrong = sorted(name for name, value in fields.items() if not _policy_type_ok(name, value))
    if wrong:
        raise BookingError(
            "Wrong type for policy fields: " + "; ".join(f"{name}: {_policy_type_hint(name)}" for name in wrong) + ".",
            code="invalid_policy", params={"fields": wrong},
        )
    if "timezone" in fields:
        fields["timezone"] = timezone_name(fields["timezone"])
    with transaction.atomic():
        policy = lock_teacher(teacher)
        for name, value in fields.items():
            setattr(policy, name, value)
        try:
            policy.full_clean(exclude=["teacher"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise _invalid(exc, "policy") from exc
        policy.save(update_fields=[*fields, "modified"])
    return policy


def add_availability(teacher: Any, *, weekday: int, start_time: dt.time, end_time: dt.time,
                     timezone: Any = None) -> TeacherAvailability:
    """Add a weekly window (``weekday`` 0 = Monday) in which 1:1 lessons may be requested.

    ``timezone`` defaults to the teacher's policy timezone; the window keeps its local hours across
    DST changes. Raises ``BookingError`` (``invalid_weekday``, ``invalid_availability`` for times
    that are not ``datetime.time`` without ``tzinfo``, ``end_before_start``, ``invalid_timezone``).
    """
    if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
        raise BookingError(f"weekday must be 0 (Monday) to 6 (Sunday), not {weekday!r}.", code="invalid_weekday",
                           params={"value": weekday})
    if not isinstance(start_time, dt.time) or not isinstance(end_time, dt.time):
        raise BookingError("start_time and end_time must be datetime.time values.", code="invalid_availability",
                           params={"fields": ["start_time", "end_time"]})
    if start_time.tzinfo is not None or end_time.tzinfo is not None:
        # Wall-clock hours of ``timezone``; SQLite and MariaDB cannot store an offset with a time.
        raise BookingError("start_time and end_time must be times without tzinfo; pass the zone as timezone.",
                           code="invalid_availability", params={"fields": ["start_time", "end_time"]})
    if end_time <= start_time:
        raise BookingError("The window must end after it starts (windows do not cross midnight).",
                           code="end_before_start", params={"start_time": str(start_time), "end_time": str(end_time)})
    tz = timezone_name(timezone) if timezone is not None else None
    with transaction.atomic():
        policy = lock_teacher(teacher)
        return TeacherAvailability.objects.create(teacher=teacher, weekday=weekday, start_time=start_time,
                                                  end_time=end_time, timezone=tz or policy.timezone)


def add_time_off(teacher: Any, *, start: dt.datetime, end: dt.datetime, reason: str = "") -> TeacherTimeOff:
    """Block [start, end) for 1:1 lesson requests. Lessons already booked in it stay booked.

    Raises ``BookingError`` (``naive_datetime``, ``invalid_datetime``, ``end_before_start``, and
    ``invalid_text`` for a ``reason`` that is not text, holds a null character or is longer than
    200 characters).
    """
    start_utc, end_utc = aware(start, "start"), aware(end, "end")
    reason = clean_text(reason, field="reason", max_length=TeacherTimeOff._meta.get_field("reason").max_length)
    if end_utc <= start_utc:
        raise BookingError("Time off must end after it starts.", code="end_before_start",
                           params={"start": start_utc.isoformat(), "end": end_utc.isoformat()})
    with transaction.atomic():
        lock_teacher(teacher)
        return TeacherTimeOff.objects.create(teacher=teacher, start_at_utc=start_utc, end_at_utc=end_utc,
                                             reason=reason)


def _require_owner_or_manager(actor: Any, teacher_id: Any, what: str) -> None:
    require_actor(actor)
    require(is_system(actor) or actor.pk == teacher_id or get_adapter().is_staff_manager(actor),
            f"Only the teacher or a manager may remove this {what}.")


def remove_availability(window: TeacherAvailability, *, actor: Any) -> None:
    """Delete a weekly availability window. Lessons already booked in it stay booked.

    The window's teacher, a manager or ``SYSTEM`` may do it; anyone else gets ``NotAllowed``.
    """
    _require_owner_or_manager(actor, window.teacher_id, "availability window")
    with transaction.atomic():
        # Under the teacher lock, so a lesson request checking the windows sees them before or after.
        lock_teacher(window.teacher_id)
        TeacherAvailability.objects.filter(pk=window.pk).delete()


def remove_time_off(time_off: TeacherTimeOff, *, actor: Any) -> None:
    """Delete a period of time off: the time can be requested for 1:1 lessons again.

    The teacher, a manager or ``SYSTEM`` may do it; anyone else gets ``NotAllowed``.
    """
    _require_owner_or_manager(actor, time_off.teacher_id, "time off")
    with transaction.atomic():
        lock_teacher(time_off.teacher_id)
        TeacherTimeOff.objects.filter(pk=time_off.pk).delete()
