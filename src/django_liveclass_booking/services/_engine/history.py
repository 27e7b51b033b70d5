"""A booking's history: one ``BookingEvent`` per change, written in the change's transaction.

Status moves write theirs through the transition helpers (``transitions.move``/``move_rows``);
creations, reschedules and moves call :func:`created` and :func:`record`. Always in bulk: a sweep or a
series writes all its rows in one statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from ...models import BookingEvent, BookingEventKind, BookingStatus
from . import db, outbox

#: The event kind of a move to each booking status (a new pending booking is a request).
KIND_OF_STATUS: Mapping[str, str] = {
    BookingStatus.PENDING: BookingEventKind.REQUESTED,
    BookingStatus.CONFIRMED: BookingEventKind.CONFIRMED,
    BookingStatus.DECLINED: BookingEventKind.DECLINED,
    BookingStatus.CANCELLED: BookingEventKind.CANCELLED,
    BookingStatus.EXPIRED: BookingEventKind.EXPIRED,
    BookingStatus.COMPLETED: BookingEventKind.COMPLETED,
    BookingStatus.NO_SHOW: BookingEventKind.NO_SHOW,
    BookingStatus.TEACHER_NO_SHOW: BookingEventKind.TEACHER_NO_SHOW,
    BookingStatus.DISPUTED: BookingEventKind.DISPUTED,
}


@dataclass(frozen=True)
class Event:
    """Who made a change (None: the system) and what else to keep of it."""

    actor_id: Any = None
    data: Mapping[str, Any] = field(default_factory=dict)


def by(actor_id: Any = None, **data: Any) -> Event:
    return Event(actor_id, {k: v for k, v in data.items() if v not in (None, "")})


def record(booking_pks: Iterable[Any], kind: str, now: dt.datetime, event: Event | None = None) -> None:
    """One event of ``kind`` for each booking, in one statement."""
    event = event or Event()
    rows = [BookingEvent(booking_id=pk, kind=kind, actor_id=event.actor_id, at=now, data=dict(event.data))
            for pk in booking_pks]
    if rows:
        BookingEvent.objects.using(db.alias()).bulk_create(rows)


def moved(booking_pks: Iterable[Any], status: str, now: dt.datetime, event: Event | None = None) -> None:
    """The events of bookings that moved to ``status``."""
    event = event or Event()
    record(booking_pks, KIND_OF_STATUS[status], now, Event(event.actor_id, {"status": status, **event.data}))


def created(bookings: Iterable[Any], now: dt.datetime, event: Event | None = None, *,
            kind: str | None = None) -> None:
    """The first event of new bookings: a request, a confirmed booking, or an import."""
    event = event or Event()
    rows = [BookingEvent(booking_id=b.pk, kind=kind or KIND_OF_STATUS[b.status], actor_id=event.actor_id, at=now,
                         data={"status": b.status, "source": b.source, **event.data})
            for b in bookings]
    outbox.mark_new(row.booking_id for row in rows)
    if rows:
        BookingEvent.objects.using(db.alias()).bulk_create(rows)


def first_event_values(booking: Any, now: dt.datetime, event: Event | None = None) -> dict[str, Any]:
    """The column values of a new booking's first event, for a statement that inserts both at once."""
    event = event or Event()
    return {"kind": KIND_OF_STATUS[booking.status], "actor_id": event.actor_id, "at": now,
            "data": {"status": booking.status, "source": booking.source, **event.data}}


def insert_new(booking: Any, now: dt.datetime, event: Event | None = None) -> None:
    """Save a new booking with its first event: one statement on PostgreSQL, two elsewhere."""
    from . import fastpath, statements

    if fastpath.available(type(booking)):
        fastpath.insert_with_event(booking, first_event_values(booking, now, event))
    elif fastpath.plain(type(booking)):
        statements.insert_row(booking)
        statements.insert_event(booking.pk, first_event_values(booking, now, event))
    else:
        booking.save(force_insert=True, using=db.alias())
        created([booking], now, event)
    outbox.mark_new([booking.pk])


def update_moving(model: Any, update: tuple[str, list[Any]], pk: Any, status: str, now: dt.datetime,
                  event: Event) -> bool:
    """Send ``update``, the conditional UPDATE (its text and values) that moves the booking ``pk`` of
    ``model`` to ``status``, and its history row if it moved: one statement on PostgreSQL, two
    elsewhere. Whether it moved.
    """
    from . import fastpath

    data = {"status": status, **event.data}
    connection = db.connection()
    if connection.vendor == "postgresql":
        return bool(fastpath.update_with_event(model, update, {
            "kind": KIND_OF_STATUS[status], "actor_id": event.actor_id, "at": now, "data": data}))
    with connection.cursor() as cursor:
        cursor.execute(*update)
        if not cursor.rowcount:
            return False
    record([pk], KIND_OF_STATUS[status], now, Event(event.actor_id, data))
    return True


def write_with_event(updates: list[tuple[QuerySet[Any], dict[str, Any]]], event: BookingEvent) -> None:
    """Run these UPDATEs and insert the history row ``event``: one statement on PostgreSQL, one each elsewhere.

    Called under the locks that make every UPDATE hit its row, so no row count is needed. On
    PostgreSQL data-modifying CTEs make them one round trip; its exclusion constraint still
    checks the moved session (an IntegrityError for the whole statement).
    """
    from . import fastpath

    if db.connection().vendor == "postgresql":
        fastpath.updates_with_event(updates, event)
        return
    for queryset, values in updates:
        queryset.update(**values)
    BookingEvent.objects.using(db.alias()).bulk_create([event])
