"""What happened in a lesson: the outcome the teacher, the student or a manager records, and the sweep.

Who may record which outcome is the adapter's ``can_record_outcome``; what the recording does
depends on what is on record already:

* on a confirmed booking, the outcome recorded becomes its status;
* the teacher may correct their own ``completed`` into ``no_show`` and back;
* the other party's different account of their recorded outcome makes the booking ``disputed``;
* a manager (anyone else the adapter allows) or ``SYSTEM`` records any outcome over any other, and
  only they move a disputed booking or an outcome a manager recorded.

A party's outcome is theirs when the booking's last outcome event names them as its actor. The
condition is part of the conditional UPDATE, so the usual case costs no query to read it; a refused
or stale move reads the stored facts once and decides again on them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from django.db.models import OuterRef, Subquery

from ... import signals
from ...conf import booking_settings
from ...exceptions import BookingError
from ...models import BookingEvent, BookingEventKind, BookingStatus, get_booking_model
from . import db, history, locks, transitions
from .actors import actor_id, is_system
from .events import send_after_commit

#: What may be recorded.
OUTCOMES = (BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.TEACHER_NO_SHOW)
#: The teacher's account of a lesson.
TEACHER_OUTCOMES = frozenset({BookingStatus.COMPLETED, BookingStatus.NO_SHOW})
#: The statuses an outcome may be recorded over.
RECORDABLE = frozenset({BookingStatus.CONFIRMED, *OUTCOMES, BookingStatus.DISPUTED})
#: The event kinds of outcome moves: the last of them names who recorded the current outcome.
OUTCOME_KINDS = (BookingEventKind.COMPLETED, BookingEventKind.NO_SHOW, BookingEventKind.TEACHER_NO_SHOW,
                 BookingEventKind.DISPUTED)
#: Bookings the sweep completes per transaction.
CHUNK_SIZE = 500

TEACHER, STUDENT, MANAGER = "teacher", "student", "manager"
#: ``decide``'s answer when any author will do (a move from ``confirmed``, a manager's move).
ANYONE = object()
#: ``decide``'s author argument when the last outcome's actor has not been read.
UNKNOWN = object()


def window() -> dt.timedelta:
    return dt.timedelta(hours=booking_settings.OUTCOME_WINDOW_HOURS)


def role(booking: Any, actor: Any, outcome: str) -> str:
    """In which capacity ``actor`` records ``outcome``: as a party giving their account, or as a manager.

    A party is the booking's teacher recording ``completed``/``no_show`` or its student recording
    ``teacher_no_show``; whoever else the adapter lets record an outcome acts as a manager.
    """
    if is_system(actor):
        return MANAGER
    if actor.pk == booking.teacher_id and outcome in TEACHER_OUTCOMES:
        return TEACHER
    if actor.pk == booking.student_id and outcome == BookingStatus.TEACHER_NO_SHOW:
        return STUDENT
    return MANAGER


def decide(booking: Any, who: str, outcome: str, current: str, start: dt.datetime, end: dt.datetime,
           now: dt.datetime, author: Any = UNKNOWN) -> tuple[str, Any]:
    """The status ``outcome`` moves a booking in ``current`` to, and whose outcome it must answer.

    Returns ``(target, needed)``: ``needed`` is the user id the last outcome event must name
    (``ANYONE`` when it does not matter). Refuses in this order: the state machine, the time
    window, the rules of who answers whom. ``author`` (the last outcome's actor id), when known,
    turns an unmet ``needed`` into a refusal.
    """
    if current not in RECORDABLE:
        raise transitions.refuse(current, outcome)
    if now < start:
        raise BookingError(code="session_not_started", params={"start": start.isoformat()})
    hours = booking_settings.OUTCOME_WINDOW_HOURS
    if now > end + window():
        raise BookingError(code="outcome_window_closed", params={"hours": hours})
    if current == BookingStatus.CONFIRMED:
        return outcome, ANYONE
    if current == outcome:
        # Recording it again would be a change without history: refused, not ignored.
        raise transitions.refuse(current, outcome, f"This booking is already recorded as {current}.")
    if who == MANAGER:
        return outcome, ANYONE
    if current == BookingStatus.DISPUTED:
        # The state speaks, not the adapter: a party may record outcomes, just not over this one.
        raise transitions.refuse(current, outcome, "Only a manager can settle a disputed outcome.")
    if who == TEACHER and current in TEACHER_OUTCOMES:
        target, needed = outcome, booking.teacher_id  # the teacher corrects their own account
    elif who == TEACHER:
        target, needed = BookingStatus.DISPUTED, booking.student_id  # against the student's teacher_no_show
    else:
        target, needed = BookingStatus.DISPUTED, booking.teacher_id  # against the teacher's account
    if author is not UNKNOWN and author != needed:
        raise transitions.refuse(current, target, "A manager recorded this outcome; only a manager can change it.")
    return target, needed


def last_author() -> Subquery:
    """The actor of the booking's last outcome event (NULL for the system), as a subquery of a booking row."""
    return Subquery(BookingEvent.objects.filter(booking_id=OuterRef("pk"), kind__in=OUTCOME_KINDS)
                    .order_by("-pk").values("actor_id")[:1])


def stored(booking: Any) -> tuple[str, Any]:
    """The booking's stored status and the actor of its last outcome, read under its session's lock."""
    row = (type(booking).objects.using(db.alias()).filter(pk=booking.pk).annotate(last_author=last_author())
           .values_list("status", "last_author").first())
    if row is None:
        raise BookingError("booking must be a saved booking.", code="invalid_booking", params={"field": "booking"})
    return row


def move(booking: Any, current: str, target: str, needed: Any, now: dt.datetime, event: history.Event) -> bool:
    """Move the booking if it is still in ``current`` and, when it matters, ``needed`` recorded its outcome."""
    queryset = type(booking).objects.using(db.alias()).filter(status=current)
    if needed is not ANYONE:
        queryset = queryset.annotate(last_author=last_author()).filter(last_author=needed)
    return transitions.move(booking, target, now, queryset=queryset, event=event)


def record(booking: Any, outcome: str, actor: Any, note: str, now: dt.datetime) -> None:
    """Record ``outcome`` (already checked: allowed for ``actor`` by the adapter); the caller holds no lock."""
    who = role(booking, actor, outcome)

    def event(current: str) -> history.Event:
        previous = current if current != BookingStatus.CONFIRMED else None
        return history.by(actor_id(actor), outcome=outcome, note=note, recorded=previous)

    with db.atomic():
        session = locks.lock_session_of_booking(booking)
        start, end = ((session.start_at_utc, session.end_at_utc) if session is not None
                      else (booking.start_at_utc, booking.end_at_utc))
        current, plan = booking.status, None
        # The usual case: the instance shows the stored status, and the UPDATE checks it. A refusal
        # may come of a stale instance: it is decided again below, on the stored facts.
        with contextlib.suppress(BookingError):
            plan = decide(booking, who, outcome, current, start, end, now)
        if plan is None or not move(booking, current, *plan, now, event(current)):
            current, author = stored(booking)
            target, needed = decide(booking, who, outcome, current, start, end, now, author)
            if not move(booking, current, target, needed, now, event(current)):
                raise transitions.refuse(current, target)
        send_after_commit(signals.booking_outcome_recorded, type(booking), booking=booking, outcome=booking.status)


def complete_due(now: dt.datetime) -> int:
    """Complete the confirmed bookings whose session ended more than the outcome window ago; how many.

    Chunks of ``CHUNK_SIZE`` bookings, each in a transaction of its own holding their sessions'
    locks; sessions another worker holds are skipped, left to it or the next sweep. A constant
    number of queries per chunk, whatever its size.
    """
    Booking = get_booking_model()
    using = db.alias()
    due = Booking.objects.using(using).filter(status=BookingStatus.CONFIRMED, end_at_utc__lt=now - window())
    event = history.by(None, outcome=BookingStatus.COMPLETED, automatic=True)
    skipped: set[Any] = set()
    completed = 0
    while True:
        # Read outside the transaction: a sweep with nothing due costs this one query.
        found = list(due.exclude(session_id__in=skipped).order_by("pk").values_list("pk", "session_id")[:CHUNK_SIZE])
        if not found:
            break
        with db.atomic():
            wanted = {session_id for _, session_id in found}
            locked = set(locks.lock_sessions(wanted, skip_locked=True))
            skipped.update(wanted - locked)
            # Read again under the locks, which every booking transition takes: the bookings read
            # are the bookings moved.
            bookings = list(due.filter(pk__in=[pk for pk, session_id in found if session_id in locked]))
            if bookings:
                completed += transitions.move_rows(Booking.objects.using(using).filter(
                    pk__in=[b.pk for b in bookings]), BookingStatus.COMPLETED, now, event=event)
            for booking in bookings:
                transitions.apply(booking, BookingStatus.COMPLETED, now)
                send_after_commit(signals.booking_outcome_recorded, Booking, booking=booking,
                                  outcome=BookingStatus.COMPLETED)
        if len(found) < CHUNK_SIZE:
            break
    return completed
