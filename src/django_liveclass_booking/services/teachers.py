"""A teacher's own settings: booking policy, weekly availability windows, time off."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError

from ..adapter import get_adapter
from ..exceptions import BookingError
from ..models import TeacherAvailability, TeacherBookingPolicy, TeacherTimeOff
from ._engine import db, inputs, policies
from ._engine.actors import is_system, require, require_actor, require_user
from ._engine.guard import keeps_arguments_on_refusal
from ._engine.locks import lock_teacher
from ._engine.timezones import zone_name
from ._engine.types import Actor, User

__all__ = ["set_policy", "add_availability", "add_time_off", "remove_availability", "remove_time_off"]


@keeps_arguments_on_refusal
def set_policy(teacher: User, *, actor: Actor | None = None, **fields: Any) -> TeacherBookingPolicy:
    """Change fields of the teacher's booking policy (creating it from the defaults first).

    Values are taken as they are, never converted: numbers are ``int`` (not ``bool``, not text),
    ``None`` only where the field is optional, flags are ``bool``, ``lesson_durations`` a list of
    whole minutes (see ``validate_lesson_durations``). Raises ``BookingError`` with code
    ``invalid_policy`` (unknown field, wrong type or value out of bounds; ``params["fields"]``
    names them) or ``invalid_timezone``; nothing is written then. With an ``actor`` (the pages and the
    admin pass the signed-in user), the adapter's ``can_manage_teacher`` decides whether they may
    (``NotAllowed``); without one, the caller has decided.
    """
    require_user(teacher, "teacher")
    policies.require_manager(actor, teacher)
    policies.check_fields(fields)
    if "timezone" in fields:
        fields["timezone"] = zone_name(fields["timezone"])
    inputs.policy_values(fields)
    with db.atomic():
        policy = lock_teacher(teacher)
        for name, value in fields.items():
            setattr(policy, name, value)
        try:
            policy.full_clean(exclude=["teacher"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise inputs.invalid(exc, "policy") from exc
        policy.save(update_fields=[*fields, "modified"], using=db.alias())
    return policy


@keeps_arguments_on_refusal
def add_availability(teacher: User, *, weekday: int, start_time: dt.time, end_time: dt.time,
                     timezone: Any = None, actor: Actor | None = None) -> TeacherAvailability:
    """Add a weekly window (``weekday`` 0 = Monday) in which 1:1 lessons may be requested.

    ``timezone`` defaults to the teacher's policy timezone; the window keeps its local hours across
    DST changes. Raises ``BookingError`` (``invalid_weekday``, ``invalid_availability`` for times
    that are not ``datetime.time`` without ``tzinfo``, ``end_before_start``, ``invalid_timezone``).
    """
    require_user(teacher, "teacher")
    policies.require_manager(actor, teacher)
    if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
        raise BookingError(f"weekday must be 0 (Monday) to 6 (Sunday), not {inputs.shown(weekday, 20)!r}.",
                           code="invalid_weekday", params={"value": inputs.shown(weekday, 20)})
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
    tz = zone_name(timezone) if timezone is not None else None
    with db.atomic():
        policy = lock_teacher(teacher)
        return TeacherAvailability.objects.using(db.alias()).create(
            teacher=teacher, weekday=weekday, start_time=start_time, end_time=end_time, timezone=tz or policy.timezone)


@keeps_arguments_on_refusal
def add_time_off(teacher: User, *, start: dt.datetime, end: dt.datetime, reason: str = "",
                 actor: Actor | None = None) -> TeacherTimeOff:
    """Block [start, end) for 1:1 lesson requests. Lessons already booked in it stay booked.

    Raises ``BookingError`` (``naive_datetime``, ``invalid_datetime``, ``end_before_start``, and
    ``invalid_text`` for a ``reason`` that is not text, holds a null character or is longer than
    200 characters).
    """
    require_user(teacher, "teacher")
    policies.require_manager(actor, teacher)
    start_utc, end_utc = inputs.aware(start, "start"), inputs.aware(end, "end")
    longest = TeacherTimeOff._meta.get_field("reason").max_length or inputs.MAX_TEXT
    reason = inputs.text(reason, "reason", max_length=longest)
    if end_utc <= start_utc:
        raise BookingError("Time off must end after it starts.", code="end_before_start",
                           params={"start": start_utc.isoformat(), "end": end_utc.isoformat()})
    with db.atomic():
        lock_teacher(teacher)
        return TeacherTimeOff.objects.using(db.alias()).create(teacher=teacher, start_at_utc=start_utc,
                                                               end_at_utc=end_utc, reason=reason)


@keeps_arguments_on_refusal
def remove_availability(window: TeacherAvailability, *, actor: Actor) -> None:
    """Delete a weekly availability window. Lessons already booked in it stay booked.

    Whoever the adapter's ``can_manage_teacher`` allows (the teacher, a manager) or ``SYSTEM``;
    anyone else gets ``NotAllowed``. Anything but a saved window is ``BookingError`` ``invalid_window``.
    """
    inputs.window(window)
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_manage_teacher(actor, window.teacher_id),
            "Only the teacher or a manager may remove this availability window.")
    with db.atomic():
        # Under the teacher lock, so a lesson request checking the windows sees them before or after.
        lock_teacher(window.teacher_id)
        TeacherAvailability.objects.using(db.alias()).filter(pk=window.pk).delete()


@keeps_arguments_on_refusal
def remove_time_off(time_off: TeacherTimeOff, *, actor: Actor) -> None:
    """Delete a period of time off: the time can be requested for 1:1 lessons again.

    As ``remove_availability`` for who may. Anything but a saved period of time off is ``BookingError``
    ``invalid_time_off``.
    """
    inputs.time_off(time_off)
    require_actor(actor)
    require(is_system(actor) or get_adapter().can_manage_teacher(actor, time_off.teacher_id),
            "Only the teacher or a manager may remove this time off.")
    with db.atomic():
        lock_teacher(time_off.teacher_id)
        TeacherTimeOff.objects.using(db.alias()).filter(pk=time_off.pk).delete()

