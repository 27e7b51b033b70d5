"""The outbox: notification rows planned from a change's signals, written in the change's own transaction.

Every transition already announces itself with :func:`events.send_after_commit`; with notifications
enabled, each announcement is also kept here (as plain values, taken when it is made). When the
engine's transaction block ends without an error, :func:`flush` turns what it kept into
``Notification`` rows, in bulk, still inside the block: a rolled-back change tells nobody, and a
committed one cannot lose its messages. Who is told what is decided in ``audience``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q

from ...conf import booking_settings
from ...models import (
    BookingEvent,
    BookingEventKind,
    BookingStatus,
    Notification,
    NotificationKind,
    SessionKind,
    get_booking_model,
)
from . import audience, db

Kind = NotificationKind

_MOVE_EVENTS = (BookingEventKind.RESCHEDULED, BookingEventKind.MOVED)


@dataclass
class Buffer:
    """What one transaction block announced, in order, and the bookings it created."""

    intents: list[dict[str, Any]] = field(default_factory=list)
    new_bookings: set[Any] = field(default_factory=set)


#: The open blocks of this thread (or task), innermost last; empty when notifications are off.
_blocks: ContextVar[tuple[Buffer, ...]] = ContextVar("liveclass_booking_outbox", default=())
#: True while a sweep runs: it sends what its changes wrote itself, at its end, in batches.
_deferred: ContextVar[bool] = ContextVar("liveclass_booking_outbox_deferred", default=False)
#: The public call running now: its actor and its ``now`` argument.
_call: ContextVar[tuple[Any, Any]] = ContextVar("liveclass_booking_call", default=(None, None))


def settings() -> dict[str, Any]:
    return booking_settings.NOTIFICATIONS


def enabled() -> bool:
    return bool(settings()["ENABLED"])


@contextlib.contextmanager
def calling(actor: Any, now: Any) -> Iterator[None]:
    """Remember who makes the public call running now, and its clock, for the messages it causes."""
    token = _call.set((actor, now))
    try:
        yield
    finally:
        _call.reset(token)


@contextlib.contextmanager
def collecting() -> Iterator[None]:
    """Collect the announcements of one transaction block; write their rows when it ends without error."""
    if not enabled():
        yield
        return
    buffer = Buffer()
    token = _blocks.set((*_blocks.get(), buffer))
    try:
        yield
        flush(buffer)
    finally:
        _blocks.reset(token)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Leave the messages of the changes made inside to the caller's own delivery (no after-commit send)."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)


def mark_new(pks: Any) -> None:
    """Bookings created in the current block (their calendar sequence is 0, no need to count moves)."""
    blocks = _blocks.get()
    if blocks:
        blocks[-1].new_bookings.update(pks)


def _actor_and_now() -> tuple[Any, dt.datetime]:
    from . import actors, inputs

    actor, now = _call.get()
    return (None if actor is None else actors.actor_id(actor)), inputs.resolve_now(now)


def _booking_values(booking: Any) -> dict[str, Any]:
    return {"pk": booking.pk, "student": booking.student_id, "teacher": booking.teacher_id,
            "session": booking.session_id, "lesson": booking.kind == SessionKind.ONE_ON_ONE,
            "start": booking.start_at_utc, "end": booking.end_at_utc, "status": booking.status,
            "reason": booking.reason or "", "message": booking.message or ""}


def _session_values(session: Any) -> dict[str, Any]:
    return {"pk": session.pk, "teacher": session.teacher_id, "lesson": session.kind == SessionKind.ONE_ON_ONE,
            "start": session.start_at_utc, "end": session.end_at_utc,
            "reason": getattr(session, "cancellation_reason", "") or ""}


def plan(signal_name: str, values: dict[str, Any]) -> None:
    """Keep an announcement of the running block (called as it is made, with the live objects)."""
    blocks = _blocks.get()
    if not blocks:
        if not (enabled() and db.in_transaction()):
            return
        # A block the engine did not open: write this announcement's rows at once.
        buffer = Buffer()
        _keep(buffer, signal_name, values)
        flush(buffer)
        return
    _keep(blocks[-1], signal_name, values)


def _keep(buffer: Buffer, signal_name: str, values: dict[str, Any]) -> None:
    actor_id, now = _actor_and_now()
    intent: dict[str, Any] = {"signal": signal_name, "actor": actor_id, "now": now}
    if "booking" in values:
        intent["booking"] = _booking_values(values["booking"])
    if "session" in values:
        intent["session"] = _session_values(values["session"])
    if "entry" in values:
        entry = values["entry"]
        intent["entry"] = {"pk": entry.pk, "student": entry.student_id, "session": entry.session_id,
                           "offer_expires_at": entry.offer_expires_at}
    if "request" in values:
        request = values["request"]
        intent["request"] = {
            "pk": request.pk, "proposed_by": request.proposed_by_id, "start": request.start_at_utc,
            "end": request.end_at_utc, "previous_start": request.previous_start_at_utc,
            "previous_end": request.previous_end_at_utc, "message": request.message or "",
            "reason": request.reason or "", "decided_by": request.decided_by_id,
        }
        if request._meta.get_field("booking").is_cached(request):
            intent["booking"] = _booking_values(request.booking)
        else:
            # A sweep's proposals come without their bookings: the flush reads them all at once.
            intent["booking_pk"] = request.booking_id
    for name in ("previous_start", "previous_end", "changed"):
        if name in values:
            intent[name] = values[name]
    if intent.get("changed") == []:
        return
    buffer.intents.append(intent)


def _sequences(plan: audience.Plan, new_bookings: set[Any]) -> None:
    """Each invitation's ``SEQUENCE``: how often its booking has moved, this change included (one more to cancel)."""
    pks = {pk for _row, pk in plan.sequenced if pk not in new_bookings}
    counts: dict[Any, int] = {}
    if pks:
        counts = dict(BookingEvent.objects.using(db.alias()).filter(booking_id__in=pks, kind__in=_MOVE_EVENTS)
                      .values_list("booking_id").annotate(n=Count("pk")).values_list("booking_id", "n"))
    for row, pk in plan.sequenced:
        # A cancellation changes the event's status, so it outranks every invitation sent before it.
        row.data["sequence"] = counts.get(pk, 0) + (row.data["method"] == "CANCEL")


def _load_bookings(intents: list[dict[str, Any]]) -> None:
    """The bookings the announcements named only by key, in one query."""
    wanted = {intent["booking_pk"] for intent in intents if "booking_pk" in intent}
    if not wanted:
        return
    found = get_booking_model().objects.using(db.alias()).in_bulk(wanted)
    for intent in intents:
        if "booking_pk" in intent:
            intent["booking"] = _booking_values(found[intent.pop("booking_pk")])


def _load_confirmed(intents: list[dict[str, Any]]) -> None:
    """The confirmed bookings of the classes whose details changed, in one query."""
    changed = [intent for intent in intents if intent["signal"] == "session_details_changed"]
    if not changed:
        return
    held: dict[Any, list[dict[str, Any]]] = {}
    for booking in get_booking_model().objects.using(db.alias()).filter(
            session_id__in={intent["session"]["pk"] for intent in changed}, status=BookingStatus.CONFIRMED):
        held.setdefault(booking.session_id, []).append(_booking_values(booking))
    for intent in changed:
        intent["confirmed"] = held.get(intent["session"]["pk"], [])


def flush(buffer: Buffer) -> None:
    """Write the rows of one block: drop the reminders it made stale, insert its messages and new reminders."""
    if not buffer.intents:
        return
    _load_bookings(buffer.intents)
    _load_confirmed(buffer.intents)
    plan = audience.build(buffer.intents)
    buffer.intents.clear()
    using = db.alias()
    if plan.drop_bookings or plan.drop_sessions:
        stale = Q(booking_id__in=plan.drop_bookings) if plan.drop_bookings else Q()
        if plan.drop_sessions:
            stale |= Q(session_id__in=plan.drop_sessions)
        Notification.objects.using(using).filter(stale, kind=Kind.REMINDER, sent_at__isnull=True).delete()
    _sequences(plan, buffer.new_bookings)
    if plan.rows:
        Notification.objects.using(using).bulk_create(plan.rows)
    if plan.reminders:
        Notification.objects.using(using).bulk_create(list(plan.reminders.values()), ignore_conflicts=True)
    if plan.rows and settings()["DELIVER_ON_COMMIT"] and not _deferred.get():
        _deliver_after_commit(plan.rows)


def _deliver_after_commit(rows: list[Notification]) -> None:
    from . import delivery

    pks = [row.pk for row in rows if row.pk is not None]
    now = max(row.scheduled_for for row in rows)

    def deliver() -> None:
        delivery.deliver(now, pks=pks or None, limit=len(rows) if pks else delivery.BATCH_SIZE)

    db.on_commit(deliver)
