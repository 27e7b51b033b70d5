"""Helpers every service uses: input normalisation, actors, the teacher lock, after-commit signals."""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.dispatch import Signal

from ..adapter import get_adapter
from ..exceptions import BookingError, NotAllowed, SlotUnavailable
from ..models import TeacherBookingPolicy


class _System:
    """The actor for trusted jobs (sweeps, imports): passes every permission check."""

    _instance: _System | None = None

    def __new__(cls) -> _System:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "SYSTEM"

    pk = None
    is_authenticated = True


SYSTEM = _System()


def aware(value: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise BookingError(f"{name} must be a datetime, not {type(value).__name__}.", code="invalid_datetime",
                           params={"field": name})
    if value.tzinfo is None or value.utcoffset() is None:
        raise BookingError(
            f"{name} is a naive datetime; pass a timezone-aware one (e.g. with zoneinfo.ZoneInfo).",
            code="naive_datetime", params={"field": name},
        )
    return value.astimezone(dt.UTC)


def resolve_now(now: dt.datetime | None) -> dt.datetime:
    return aware(get_adapter().now() if now is None else now, "now")


def minutes(duration: dt.timedelta | int, name: str = "duration") -> int:
    if isinstance(duration, dt.timedelta):
        total = duration.total_seconds() / 60
        if total != int(total):
            raise BookingError(f"{name} must be a whole number of minutes.", code="invalid_duration",
                               params={"field": name})
        value = int(total)
    elif isinstance(duration, int) and not isinstance(duration, bool):
        value = duration
    else:
        raise BookingError(f"{name} must be a timedelta or whole minutes, not {duration!r}.", code="invalid_duration",
                           params={"field": name})
    if value <= 0:
        raise BookingError(f"{name} must be longer than zero minutes.", code="invalid_duration",
                           params={"field": name, "value": value})
    return value


def timezone_name(value: Any) -> str:
    """Normalise an IANA name, a ZoneInfo or a pytz timezone to a validated IANA name."""
    name = getattr(value, "key", None) or getattr(value, "zone", None) or value
    if isinstance(name, str):
        try:
            zoneinfo.ZoneInfo(name)
            return name
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise BookingError(f"{value!r} is not a known IANA timezone (e.g. 'Europe/London').", code="invalid_timezone",
                       params={"value": str(value)})


def is_system(actor: Any) -> bool:
    return actor is SYSTEM


def require_actor(actor: Any) -> None:
    """Refuse a missing or anonymous actor before any permission hook sees it."""
    if actor is None or not (is_system(actor) or getattr(actor, "is_authenticated", False)):
        raise NotAllowed("This action needs a signed-in user (or services.SYSTEM) as the actor.")


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


def lock_teacher(teacher: Any) -> TeacherBookingPolicy:
    """Lock the teacher's policy row, creating it with the current defaults on first use.

    Every service that checks a teacher's calendar takes this lock first, so two of them for one
    teacher run one after the other and the overlap check cannot be raced. Locks are taken in one
    order everywhere: the teacher row, then sessions by ascending pk.
    """
    teacher_id = getattr(teacher, "pk", teacher)
    qs = TeacherBookingPolicy.objects.select_for_update()
    policy = qs.filter(teacher_id=teacher_id).first()
    if policy is not None:
        return policy
    # An upsert, not INSERT-then-catch: racing plain INSERTs of one key deadlock on InnoDB (each
    # loser holds a shared lock on the duplicate and then wants the exclusive one), while
    # INSERT ... ON DUPLICATE KEY / ON CONFLICT DO UPDATE waits for the exclusive lock directly.
    features = transaction.get_connection().features
    TeacherBookingPolicy.objects.bulk_create(
        [TeacherBookingPolicy(teacher_id=teacher_id, **TeacherBookingPolicy.defaults())],
        update_conflicts=True,
        unique_fields=["teacher"] if features.supports_update_conflicts_with_target else None,
        update_fields=["teacher"],
    )
    return qs.get(teacher_id=teacher_id)


def raise_if_overlap(exc: Exception, message: str = "The teacher already has a session at that time.") -> None:
    """Turn PostgreSQL's overlap exclusion constraint into ``SlotUnavailable``; other errors pass.

    The constraint only fires when a write that bypassed the teacher lock got there first.
    """
    from ..operations import OVERLAP_CONSTRAINT

    if OVERLAP_CONSTRAINT in str(exc):
        raise SlotUnavailable(message, code="teacher_unavailable") from exc


def snapshot(obj: Model) -> Model:
    """A shallow copy of a model instance (its field values and state), far cheaper than copy.copy."""
    snap = obj.__class__.__new__(obj.__class__)
    snap.__dict__ = obj.__dict__.copy()
    snap._state = copy.copy(obj._state)
    snap._state.fields_cache = dict(obj._state.fields_cache)
    return snap


def send_after_commit(signal: Signal, sender: type, **kwargs: Any) -> None:
    """Send ``signal`` once the transaction commits; never for a rolled-back change.

    ``send_robust`` so that one failing receiver (a mail server down) neither hides the others nor
    reaches the caller, whose booking has already committed; Django logs the receiver's error.
    """

    # A copy: a later change in the same transaction must not show in this transition's signal.
    frozen = {name: snapshot(value) if isinstance(value, Model) else value for name, value in kwargs.items()}

    def send_signal() -> None:
        signal.send_robust(sender=sender, **frozen)

    transaction.on_commit(send_signal, robust=True)
