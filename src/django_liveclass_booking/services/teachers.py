"""A teacher's own settings: booking policy, weekly availability windows, time off."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ..adapter import get_adapter
from ..exceptions import BookingError
from ..models import TeacherAvailability, TeacherBookingPolicy, TeacherTimeOff
from ._common import aware, is_system, lock_teacher, require, require_actor, timezone_name


def _invalid(exc: ValidationError, what: str) -> BookingError:
    errors = exc.error_dict if hasattr(exc, "error_dict") else {"__all__": exc.error_list}
    fields = sorted(errors)
    # A timezone error keeps its own stable code; anything else is reported as invalid input.
    codes = {e.code for errs in errors.values() for e in errs}
    code = "invalid_timezone" if "invalid_timezone" in codes else f"invalid_{what}"
    text = "; ".join(f"{f}: {' '.join(str(m) for e in errs for m in e.messages)}" for f, errs in errors.items())
    return BookingError(f"Invalid {what}: {text}", code=code, params={"fields": fields})


def set_policy(teacher: Any, **fields: Any) -> TeacherBookingPolicy:
    """Change fields of the teacher's booking policy (creating it from the defaults first).

    Raises ``BookingError`` with code ``invalid_policy`` (unknown field or bad value) or
    ``invalid_timezone``; nothing is written then.
    """
    known = {f.name for f in TeacherBookingPolicy._meta.concrete_fields} - {"id", "teacher", "created", "modified"}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise BookingError(f"Unknown policy fields: {', '.join(unknown)}.", code="invalid_policy",
                           params={"fields": unknown})
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
    DST changes. Raises ``BookingError`` (``invalid_weekday``, ``end_before_start``,
    ``invalid_timezone``).
    """
    if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
        raise BookingError(f"weekday must be 0 (Monday) to 6 (Sunday), not {weekday!r}.", code="invalid_weekday",
                           params={"value": weekday})
    if not isinstance(start_time, dt.time) or not isinstance(end_time, dt.time):
        raise BookingError("start_time and end_time must be datetime.time values.", code="invalid_availability")
    if end_time <= start_time:
        raise BookingError("The window must end after it starts (windows do not cross midnight).",
                           code="end_before_start", params={"start_time": str(start_time), "end_time": str(end_time)})
    tz = timezone_name(timezone) if timezone is not None else None
    with transaction.atomic():
        policy = lock_teacher(teacher)
        return TeacherAvailability.objects.create(teacher=teacher, weekday=weekday, start_time=start_time,
                                                  end_time=end_time, timezone=tz or policy.timezone)


def add_time_off(teacher: Any, *, start: dt.datetime, end: dt.datetime, reason: str = "") -> TeacherTimeOff:
    """Block [start, end) for 1:1 lesson requests. Lessons already booked in it stay booked."""
    start_utc, end_utc = aware(start, "start"), aware(end, "end")
    if end_utc <= start_utc:
        raise BookingError("Time off must end after it starts.", code="end_before_start",
                           params={"start": start_utc.isoformat(), "end": end_utc.isoformat()})
    with transaction.atomic():
        lock_teacher(teacher)
        return TeacherTimeOff.objects.create(teacher=teacher, start_at_utc=start_utc, end_at_utc=end_utc,
                                             reason=reason[:200])


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
