"""Who is told what: the notification rows of one transaction block's announcements.

* the party who must answer or learn of a decision: a request to the teacher; a decline, an expiry,
  a seat offer and its lapse to the student; a proposed time to the other party, its decline or
  expiry to the proposer;
* everyone holding the booking's calendar invitation (the student; the teacher too for a 1:1 lesson)
  when it is confirmed, moved or cancelled, since each such message updates their calendar;
* a whole class cancelled or moved: every booked student, and the teacher if someone else did it;
* a class's title or meeting details changed: every student with a confirmed booking in it (and the
  teacher of a 1:1 lesson if someone else changed it);
* reminders at each ``REMINDERS_MINUTES`` offset before a confirmed booking's start, to the student
  and to the teacher (for a group class one per class and offset, not one per seat); an offset
  already past when the booking is made or moved is skipped; a cancelled or moved booking's unsent
  reminders are dropped (and a moved one planned anew).

``build`` works on plain values only (``outbox`` keeps them as each announcement is made): it sends
no query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ...conf import booking_settings
from ...models import BookingStatus, Notification, NotificationKind

Kind = NotificationKind

#: Kinds whose message carries the booking's calendar invitation (``METHOD`` per kind).
CALENDAR_METHODS: dict[str, str] = {
    Kind.BOOKING_CONFIRMED: "REQUEST",
    Kind.BOOKING_RESCHEDULED: "REQUEST",
    Kind.SESSION_RESCHEDULED: "REQUEST",
    Kind.BOOKING_CANCELLED: "CANCEL",
    Kind.SESSION_CANCELLED: "CANCEL",
}


@dataclass
class Plan:
    """The rows one block's announcements make, and the reminders they make stale."""

    rows: list[Notification] = field(default_factory=list)
    reminders: dict[Any, Notification] = field(default_factory=dict)
    drop_bookings: set[Any] = field(default_factory=set)
    drop_sessions: set[Any] = field(default_factory=set)
    # Rows whose invitation needs the booking's sequence: (row, booking pk).
    sequenced: list[tuple[Notification, Any]] = field(default_factory=list)


def _row(plan: Plan, recipient: Any, kind: str, intent: dict[str, Any], *, booking: dict[str, Any] | None = None,
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


def _drop(plan: Plan, booking_pk: Any) -> None:
    """A booking's unsent reminders go: those stored, and those planned earlier in this block."""
    plan.drop_bookings.add(booking_pk)
    for slot in [slot for slot, row in plan.reminders.items() if row.booking_id == booking_pk]:
        del plan.reminders[slot]


def _reminders(plan: Plan, booking: dict[str, Any], now: dt.datetime) -> None:
    """The reminders of a confirmed booking at its current start, for offsets still ahead of ``now``."""
    for minutes in booking_settings.NOTIFICATIONS["REMINDERS_MINUTES"]:
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


def build(intents: list[dict[str, Any]]) -> Plan:
    """The rows of one block's announcements (kept by ``outbox``), in the order they were made."""
    plan = Plan()
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
        elif signal == "session_details_changed":
            for held in intent["confirmed"]:
                recipients = _holders(held) if actor != held["teacher"] else [held["student"]]
                for recipient in recipients:
                    _row(plan, recipient, Kind.SESSION_UPDATED, intent, booking=held, changed=intent["changed"])
    return plan


def _proposal(plan: Plan, intent: dict[str, Any]) -> None:
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
