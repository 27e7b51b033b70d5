"""The allowed status moves of every model, as tables, and the one helper that writes a status.

Every status write of the package goes through ``move_rows`` (a conditional UPDATE: only rows whose
stored status allows the move change, so a concurrent move cannot be overwritten), ``move`` (one
instance) or ``begin`` (a new row's first status). They set ``status_changed`` themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from model_utils.fields import MonitorField

from ...exceptions import InvalidTransition
from ...models import (
    AbstractLiveClassBooking,
    AbstractLiveClassSession,
    BookingSeries,
    BookingSeriesItem,
    BookingStatus,
    RescheduleRequest,
    RescheduleStatus,
    SeriesItemStatus,
    SeriesStatus,
    SessionStatus,
    SessionWaitlist,
    WaitlistStatus,
)
from . import db, history, statements

Table = Mapping[str, frozenset[str]]
M = TypeVar("M", bound=Model)

_RECORDED = frozenset({BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.TEACHER_NO_SHOW})
BOOKING: Table = {
    BookingStatus.PENDING: frozenset(
        {BookingStatus.CONFIRMED, BookingStatus.DECLINED, BookingStatus.CANCELLED, BookingStatus.EXPIRED}),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELLED}) | _RECORDED,
    BookingStatus.DECLINED: frozenset(),
    BookingStatus.CANCELLED: frozenset(),
    BookingStatus.EXPIRED: frozenset(),
    # Inside the outcome window an outcome may be disputed (the other party's account differs) or
    # corrected by a manager; record_outcome decides who may make which of these moves.
    BookingStatus.COMPLETED: (_RECORDED | {BookingStatus.DISPUTED}) - {BookingStatus.COMPLETED},
    BookingStatus.NO_SHOW: (_RECORDED | {BookingStatus.DISPUTED}) - {BookingStatus.NO_SHOW},
    BookingStatus.TEACHER_NO_SHOW: (_RECORDED | {BookingStatus.DISPUTED}) - {BookingStatus.TEACHER_NO_SHOW},
    BookingStatus.DISPUTED: _RECORDED,
}
RESCHEDULE: Table = {
    RescheduleStatus.PENDING: frozenset({RescheduleStatus.ACCEPTED, RescheduleStatus.DECLINED,
                                         RescheduleStatus.WITHDRAWN, RescheduleStatus.EXPIRED}),
    RescheduleStatus.ACCEPTED: frozenset(),
    RescheduleStatus.DECLINED: frozenset(),
    RescheduleStatus.WITHDRAWN: frozenset(),
    RescheduleStatus.EXPIRED: frozenset(),
}
WAITLIST: Table = {
    WaitlistStatus.WAITING: frozenset({WaitlistStatus.OFFERED, WaitlistStatus.LEFT}),
    # Leaving while holding an offer passes the seat on.
    WaitlistStatus.OFFERED: frozenset(
        {WaitlistStatus.ACCEPTED, WaitlistStatus.DECLINED, WaitlistStatus.EXPIRED, WaitlistStatus.LEFT}),
    WaitlistStatus.ACCEPTED: frozenset(),
    WaitlistStatus.DECLINED: frozenset(),
    WaitlistStatus.EXPIRED: frozenset(),
    WaitlistStatus.LEFT: frozenset(),
}
SESSION: Table = {
    SessionStatus.SCHEDULED: frozenset({SessionStatus.CANCELLED}),
    SessionStatus.CANCELLED: frozenset(),
}
SERIES: Table = {
    SeriesStatus.PENDING: frozenset({SeriesStatus.ACTIVE, SeriesStatus.DECLINED, SeriesStatus.CANCELLED}),
    # A subscription's later occurrences may wait for approval while the series already runs.
    SeriesStatus.ACTIVE: frozenset({SeriesStatus.DECLINED, SeriesStatus.CANCELLED}),
    SeriesStatus.DECLINED: frozenset(),
    SeriesStatus.CANCELLED: frozenset(),
}
SERIES_ITEM: Table = {
    SeriesItemStatus.BOOKED: frozenset({SeriesItemStatus.CANCELLED}),
    SeriesItemStatus.WAITLISTED: frozenset({SeriesItemStatus.CANCELLED}),
    SeriesItemStatus.SKIPPED: frozenset(),
    SeriesItemStatus.CANCELLED: frozenset(),
}
#: The statuses a new row may start in (an import may start a row in any status).
FIRST: Mapping[str, frozenset[str]] = {
    "booking": frozenset({BookingStatus.PENDING, BookingStatus.CONFIRMED}),
    "waitlist": frozenset({WaitlistStatus.WAITING}),
    "session": frozenset({SessionStatus.SCHEDULED}),
    "series": frozenset({SeriesStatus.PENDING, SeriesStatus.ACTIVE}),
    "series_item": frozenset(SeriesItemStatus.values),
    # A student's proposal to a teacher who confirms automatically is applied at once.
    "reschedule": frozenset({RescheduleStatus.PENDING, RescheduleStatus.ACCEPTED}),
}


def _kind(model: type[Model]) -> str:
    if issubclass(model, AbstractLiveClassBooking):
        return "booking"
    if issubclass(model, AbstractLiveClassSession):
        return "session"
    if issubclass(model, SessionWaitlist):
        return "waitlist"
    if issubclass(model, BookingSeries):
        return "series"
    if issubclass(model, BookingSeriesItem):
        return "series_item"
    if issubclass(model, RescheduleRequest):
        return "reschedule"
    raise TypeError(f"{model.__name__} has no status machine")


TABLES: Mapping[str, Table] = {"booking": BOOKING, "waitlist": WAITLIST, "session": SESSION, "series": SERIES,
                               "series_item": SERIES_ITEM, "reschedule": RESCHEDULE}


def table(model: type[Model]) -> Table:
    return TABLES[_kind(model)]


def sources_for(model: type[Model], target: str) -> list[str]:
    """The statuses a row of ``model`` may be in to move to ``target``."""
    return [status for status, targets in table(model).items() if target in targets]


def allowed(model: type[Model], current: str, target: str) -> bool:
    return target in table(model).get(current, frozenset())


def _has_status_changed(model: type[Model]) -> bool:
    return any(f.name == "status_changed" for f in model._meta.concrete_fields)


def _values(model: type[Model], target: str, now: dt.datetime, fields: Mapping[str, Any]) -> dict[str, Any]:
    values = {"status": target, **fields}
    if _has_status_changed(model):
        values["status_changed"] = now
    return values


def _event(event: history.Event | None, fields: Mapping[str, Any]) -> history.Event:
    """The history of a move: as given, or read off the fields it writes (who decided or cancelled, why)."""
    if event is not None:
        return event
    return history.by(fields.get("cancelled_by_id") or fields.get("decided_by_id"), reason=fields.get("reason"),
                      late_cancellation=fields.get("late_cancellation") or None)


def move_rows(queryset: QuerySet[Any], target: str, now: dt.datetime, *, event: history.Event | None = None,
              **fields: Any) -> int:
    """Move every row of ``queryset`` whose stored status allows ``target``; the number moved.

    Bookings: each row moved gets its history row (``event`` says by whom and why), in bulk.
    """
    model = queryset.model
    sources = sources_for(model, target)
    if not sources:
        return 0
    movable = queryset.filter(status__in=sources)
    if _kind(model) != "booking":
        return movable.update(**_values(model, target, now, fields))
    # Which rows move, locked so that exactly these move: their history is written for them.
    pks = list((movable.select_for_update() if db.in_transaction() else movable).values_list("pk", flat=True))
    if not pks:
        return 0
    moved = model._default_manager.db_manager(queryset.db).filter(pk__in=pks, status__in=sources).update(
        **_values(model, target, now, fields))
    history.moved(pks, target, now, _event(event, fields))
    return moved


def statement(queryset: QuerySet[Any], target: str, now: dt.datetime,
              **fields: Any) -> tuple[QuerySet[Any], dict[str, Any]]:
    """The conditional UPDATE of a move, unsent: the rows allowed to move and the values to write.

    For a caller that sends several UPDATEs as one statement; it writes the history itself.
    """
    model = queryset.model
    return queryset.filter(status__in=sources_for(model, target)), _values(model, target, now, fields)


def apply(obj: Model, target: str, now: dt.datetime, **fields: Any) -> None:
    """Show on an instance a move already written to its row."""
    for name, value in _values(type(obj), target, now, fields).items():
        setattr(obj, name, value)
    for field in obj._meta.concrete_fields:
        if isinstance(field, MonitorField):
            # The field's own record of the last status it saw: otherwise a later save() would take the
            # move for a new one and stamp the wall clock over the time the move was made.
            setattr(obj, field.monitor_attname, getattr(obj, field.monitor))
        elif field.generated:
            # Computed by the database from the new status: deferred, so the next read fetches it.
            obj.__dict__.pop(field.attname, None)


def move(obj: Model, target: str, now: dt.datetime, *, queryset: QuerySet[Any] | None = None,
         live_at: dt.datetime | None = None, event: history.Event | None = None, **fields: Any) -> bool:
    """Move one row (``queryset`` narrows it further) and its instance; False if its stored status forbids it.

    ``live_at``, for a booking: only if it is still active then (a pending request past its expiry is not).
    """
    model = type(obj)
    sources = sources_for(model, target)
    if not sources:
        return False
    # One conditional UPDATE: only a row whose stored status allows the move changes.
    values = _values(model, target, now, fields)
    if _kind(model) == "booking":
        # A booking's move is built once per shape (statements.move_booking), unless narrowed further.
        update = (statements.move_booking(model, obj.pk, values, sources, live_at) if queryset is None
                  else statements.update_sql(queryset.filter(pk=obj.pk, status__in=sources), values))
        moved = history.update_moving(model, update, obj.pk, target, now, _event(event, fields))
    else:
        if live_at is not None:
            raise TypeError("live_at narrows a booking's move only")
        if queryset is None:
            queryset = model._default_manager.db_manager(db.alias()).all()
        moved = bool(queryset.filter(pk=obj.pk, status__in=sources).update(**values))
    if not moved:
        return False
    apply(obj, target, now, **fields)
    return True


def begin(obj: M, status: str, now: dt.datetime, *, imported: bool = False) -> M:
    """Give a new, unsaved instance its first status (any status for an import)."""
    if not imported and status not in FIRST[_kind(type(obj))]:
        raise ValueError(f"A new {type(obj).__name__} cannot start as {status!r}")
    apply(obj, status, now)
    return obj


def refuse(current: str, target: str, message: str | None = None, *, what: str = "booking") -> InvalidTransition:
    return InvalidTransition(message or f"A {current} {what} cannot become {target}.",
                             params={"from": current, "to": target})
