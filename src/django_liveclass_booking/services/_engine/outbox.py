"""The outbox: notification rows planned from a change's signals, written in the change's own transaction.

Every transition already announces itself with :func:`events.send_after_commit`; with notifications
enabled, each announcement is also kept here (as plain values, taken when it is made). When the
engine's transaction block ends without an error, :func:`flush` turns what it kept into
``Notification`` rows, in bulk, still inside the block: a rolled-back change tells nobody, and a
committed one cannot lose its messages. Who is told what:

* the party who must answer or learn of a decision: a request to the teacher; a decline, an expiry,
  a seat offer and its lapse to the student; a proposed time to the other party, its decline or
  expiry to the proposer;
* everyone holding the booking's calendar invitation (the student; the teacher too for a 1:1 lesson)
  when it is confirmed, moved or cancelled, since each such message updates their calendar;
* a whole class cancelled or moved: every booked student, and the teacher if someone else did it;
* reminders at each ``REMINDERS_MINUTES`` offset before a confirmed booking's start, to the student
  and to the teacher (for a group class one per class and offset, not one per seat); an offset
  already past when the booking is made or moved is skipped; a cancelled or moved booking's unsent
  reminders are dropped (and a moved one planned anew).
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
from . import db

Kind = NotificationKind

#: Kinds whose message carries the booking's calendar invitation (``METHOD`` per kind).
CALENDAR_METHODS: dict[str, str] = {
    Kind.BOOKING_CONFIRMED: "REQUEST",
    Kind.BOOKING_RESCHEDULED: "REQUEST",
    Kind.SESSION_RESCHEDULED: "REQUEST",
    Kind.BOOKING_CANCELLED: "CANCEL",
    Kind.SESSION_CANCELLED: "CANCEL",
}

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
    for name in ("previous_start", "previous_end"):
        if name in values:
            intent[name] = values[name]
    buffer.intents.append(intent)


@dataclass
class _Plan:
    rows: list[Notification] = field(default_factory=list)
    reminders: dict[Any, Notification] = field(default_factory=dict)
    drop_bookings: set[Any] = field(default_factory=set)
    drop_sessions: set[Any] = field(default_factory=set)
    # Rows whose invitation needs the booking's sequence: (row, booking pk).
    sequenced: list[tuple[Notification, Any]] = field(default_factory=list)


def _row(plan: _Plan, recipient: Any, kind: str, intent: dict[str, Any], *, booking: dict[str, Any] | None = None,
         session: Any = None, calendar: bool = True, **data: Any) -> None:
    if recipient is None:
        return
    now = intent["now"]
    values: dict[str, Any] = {"actor": intent["actor"], **{k: v for k, v in data.items() if v not in (None, "")}}
    if booking is not None:
        values.setdefault("start", booking["start"])
        values.setdefault("end", booking["end"])
        values["lesson"] = booking["lesson"]
    row = Notification(recipient_id=recipient, kind=kind, booking_id=booking["pk"] if booking else None,
                       session_id=session if session is not None else (booking["session"] if booking else None),
                       scheduled_for=now, next_attempt_at=now, data=values)
    if "entry" in intent:
        row.entry_id = intent["entry"]["pk"]
    if "request" in intent:
        row.reschedule_id = intent["request"]["pk"]
    if calendar and kind in CALENDAR_METHODS and booking is not None:
        row.data["method"] = CALENDAR_METHODS[kind]
        plan.sequenced.append((row, booking["pk"]))
    plan.rows.append(row)


def _holders(booking: dict[str, Any]) -> list[Any]:
    """Who holds a booking's calendar invitation: its student, and its teacher for a 1:1 lesson."""
    return [booking["student"], booking["teacher"]] if booking["lesson"] else [booking["student"]]


def _drop(plan: _Plan, booking_pk: Any) -> None:
    """A booking's unsent reminders go: those stored, and those planned earlier in this block."""
    plan.drop_bookings.add(booking_pk)
    for slot in [slot for slot, row in plan.reminders.items() if row.booking_id == booking_pk]:
        del plan.reminders[slot]


def _reminders(plan: _Plan, booking: dict[str, Any], now: dt.datetime) -> None:
    """The reminders of a confirmed booking at its current start, for offsets still ahead of ``now``."""
    for minutes in settings()["REMINDERS_MINUTES"]:
        at = booking["start"] - dt.timedelta(minutes=minutes)
        if at <= now:
            continue
        data = {"start": booking["start"], "end": booking["end"], "minutes": minutes, "lesson": booking["lesson"]}
        recipients: list[tuple[Any, Any, str | None]] = [(booking["student"], booking["pk"], None)]
        if booking["lesson"]:
            recipients.append((booking["teacher"], booking["pk"], None))
        else:
            # The class's teacher: one reminder per class and offset, however many seats it has.
            once = f"reminder:{booking['session']}:{booking['teacher']}:{minutes}:{int(booking['start'].timestamp())}"
            recipients.append((booking["teacher"], None, once))
        for recipient, booking_pk, key in recipients:
            slot: Any = key or (recipient, booking_pk, minutes)
            plan.reminders[slot] = Notification(
                recipient_id=recipient, kind=Kind.REMINDER, booking_id=booking_pk, session_id=booking["session"],
                scheduled_for=at, next_attempt_at=at, dedupe_key=key, data=dict(data))


def _build(buffer: Buffer) -> _Plan:
    plan = _Plan()
    intents = buffer.intents
    # A whole class cancelled or moved: its bookings' own announcements become the class's message.
    class_changes = {(i["signal"], i["session"]["pk"]): i for i in intents
                     if i["signal"] in ("session_cancelled", "session_rescheduled") and not i["session"]["lesson"]}
    # Their stored reminders go first (those of its moved bookings are planned anew below).
    plan.drop_sessions.update(i["session"]["pk"] for i in intents if i["signal"] in ("session_cancelled",
                                                                                      "session_rescheduled"))
    for intent in intents:
        signal = intent["signal"]
        booking: dict[str, Any] = intent.get("booking") or {}
        actor = intent["actor"]
        now = intent["now"]
        if signal == "booking_requested":
            _row(plan, booking["teacher"], Kind.BOOKING_REQUESTED, intent, booking=booking,
                 message=booking["message"])
        elif signal == "booking_confirmed":
            for recipient in _holders(booking):
                _row(plan, recipient, Kind.BOOKING_CONFIRMED, intent, booking=booking)
            _reminders(plan, booking, now)
        elif signal in ("booking_declined", "booking_expired"):
            kind = Kind.BOOKING_DECLINED if signal == "booking_declined" else Kind.BOOKING_EXPIRED
            _row(plan, booking["student"], kind, intent, booking=booking, reason=booking["reason"])
            _drop(plan, booking["pk"])
        elif signal == "booking_cancelled":
            _drop(plan, booking["pk"])
            whole = class_changes.get(("session_cancelled", booking["session"]))
            if whole is not None:
                _row(plan, booking["student"], Kind.SESSION_CANCELLED, intent, booking=booking,
                     reason=whole["session"]["reason"])
                continue
            for recipient in _holders(booking):
                _row(plan, recipient, Kind.BOOKING_CANCELLED, intent, booking=booking, reason=booking["reason"])
        elif signal == "booking_rescheduled":
            _drop(plan, booking["pk"])
            moved: dict[str, Any] = {"previous_start": intent.get("previous_start"),
                                     "previous_end": intent.get("previous_end")}
            kind = (Kind.SESSION_RESCHEDULED if ("session_rescheduled", booking["session"]) in class_changes
                    else Kind.BOOKING_RESCHEDULED)
            if booking["status"] != BookingStatus.CONFIRMED:
                # A request still awaiting the teacher: its student hears of the new time, but no calendar
                # holds it yet and no reminder is due for it.
                _row(plan, booking["student"], kind, intent, booking=booking, calendar=False, **moved)
                continue
            for recipient in _holders(booking):
                _row(plan, recipient, kind, intent, booking=booking, **moved)
            _reminders(plan, booking, now)
        elif signal in ("session_cancelled", "session_rescheduled"):
            session = intent["session"]
            if session["lesson"] or actor == session["teacher"]:
                continue
            kind = Kind.SESSION_CANCELLED if signal == "session_cancelled" else Kind.SESSION_RESCHEDULED
            _row(plan, session["teacher"], kind, intent, session=session["pk"], start=session["start"],
                 end=session["end"], reason=session["reason"] if signal == "session_cancelled" else "",
                 previous_start=intent.get("previous_start"), previous_end=intent.get("previous_end"),
                 lesson=False)
        elif signal in ("waitlist_seat_offered", "waitlist_offer_expired"):
            entry = intent["entry"]
            kind = Kind.SEAT_OFFERED if signal == "waitlist_seat_offered" else Kind.OFFER_EXPIRED
            _row(plan, entry["student"], kind, intent, session=entry["session"],
                 offer_expires_at=entry["offer_expires_at"], lesson=False)
        elif signal in ("reschedule_requested", "reschedule_declined", "reschedule_expired"):
            _proposal(plan, intent)
    return plan


def _proposal(plan: _Plan, intent: dict[str, Any]) -> None:
    request, booking = intent["request"], intent["booking"]
    data = {"proposed_start": request["start"], "proposed_end": request["end"], "message": request["message"],
            "reason": request["reason"]}
    parties = (booking["student"], booking["teacher"])
    if intent["signal"] == "reschedule_requested":
        # The other party answers; a manager's proposal goes to both.
        for recipient in parties:
            if recipient != request["proposed_by"]:
                _row(plan, recipient, Kind.RESCHEDULE_REQUESTED, intent, booking=booking, **data)
        return
    kind = Kind.RESCHEDULE_DECLINED if intent["signal"] == "reschedule_declined" else Kind.RESCHEDULE_EXPIRED
    if request["proposed_by"] in parties and request["proposed_by"] != request["decided_by"]:
        _row(plan, request["proposed_by"], kind, intent, booking=booking, **data)


def _sequences(plan: _Plan, new_bookings: set[Any]) -> None:
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


def flush(buffer: Buffer) -> None:
    """Write the rows of one block: drop the reminders it made stale, insert its messages and new reminders."""
    if not buffer.intents:
        return
    _load_bookings(buffer.intents)
    plan = _build(buffer)
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
