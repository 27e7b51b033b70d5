"""The seat counter: the only code that writes ``seats_taken``.

A claim is one conditional UPDATE: it succeeds only while the session is open, has a free seat
and nobody waits, so concurrent claims can never oversell or jump the line, and it locks the
session row until commit. A freed seat goes first to the waitlist as an offer (the counter keeps
it), and only with nobody waiting back to the pool. A 1:1 lesson's session holds its one seat from
its creation until it is cancelled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeVar

from django.db.models import Case, Exists, F, IntegerField, OuterRef, Value, When

from ... import signals
from ...models import (
    AbstractLiveClassSession,
    SessionWaitlist,
    TeacherBookingPolicy,
    WaitlistStatus,
    get_session_model,
)
from . import copies, db, locks, transitions
from .events import send_after_commit

S = TypeVar("S", bound=AbstractLiveClassSession)


def someone_waits(session_ref: Any = None) -> Exists:
    return Exists(SessionWaitlist.objects.filter(
        session_id=OuterRef("pk") if session_ref is None else session_ref, status=WaitlistStatus.WAITING))


def claim_seat(session_pk: Any, now: dt.datetime, *, for_waitlist: bool = False, student_id: Any = None,
               policy: copies.Copy | None = None) -> bool:
    """Take one seat. A newcomer never gets one while anyone waits; ``for_waitlist`` is the line itself.

    With ``student_id``, a student already holding an offered seat there gets no second one. With
    ``policy``, only while the teacher's stored policy is still that copy.
    """
    from . import statements

    if db.connection().vendor == "mysql":
        # InnoDB may run this UPDATE through the status index, locking that index entry before the
        # row, while cancel_session holds the row and then updates the entry: a deadlock. Taking
        # the row by primary key first keeps one lock order. PostgreSQL locks no index entries.
        locks.require_transaction()
        statements.seats_taken(session_pk, lock=True)
    return statements.claim_seat(session_pk, now, newcomer=not for_waitlist, student_id=student_id, policy=policy)


def claim_and_insert(booking: Any, session: Any, now: dt.datetime, first_event: dict[str, Any], *,
                     policy: copies.Copy | None = None) -> bool | None:
    """PostgreSQL with a plain booking model: claim and insert (with its first history row) in one statement.

    True: booked (``session`` shows the new count); False: no seat, or ``policy`` is no longer the
    stored one (nothing written); None: this path does not apply, use ``claim_seat``.
    """
    from . import fastpath, outbox

    if not fastpath.available(type(booking)):
        return None
    taken = fastpath.claim_and_insert(booking, now, first_event, policy)
    if taken is None:
        return False
    session.seats_taken = taken
    outbox.mark_new([booking.pk])
    return True


def show_taken(session: Any) -> None:
    """After a claim or a release by statement: ``session`` shows its stored count again."""
    from . import statements

    taken = statements.seats_taken(session.pk)
    if taken is not None:
        session.seats_taken = taken


def offer_expiry(ttl_minutes: int, now: dt.datetime, start: dt.datetime) -> dt.datetime:
    """An offer lives ``ttl_minutes``, and never past the session start."""
    return min(start, now + dt.timedelta(minutes=ttl_minutes))


def free_seats(freed: Mapping[Any, int], now: dt.datetime) -> list[SessionWaitlist]:
    """Seats just freed, per session pk: offer each to the first waiting entry, else give it back.

    The caller holds the sessions' locks. Returns the entries offered a seat. A constant number of
    queries whatever the number of sessions.
    """
    freed = {pk: n for pk, n in freed.items() if n > 0}
    if not freed:
        return []
    line = SessionWaitlist.objects.using(db.alias()).filter(
        session_id__in=freed, status=WaitlistStatus.WAITING).select_related("session").order_by(
        "session_id", "position", "pk")
    chosen: list[SessionWaitlist] = []
    left = dict(freed)
    for entry in line:
        # A session that has started has nothing to offer: its seat just goes back.
        if left[entry.session_id] > 0 and entry.session.start_at_utc > now:
            chosen.append(entry)
            left[entry.session_id] -= 1
    if chosen:
        _offer(chosen, now)
    back = {pk: n for pk, n in left.items() if n > 0}
    if back:
        # One statement for every session: seats_taken - (seats going back to its pool).
        get_session_model().objects.using(db.alias()).filter(pk__in=back).update(seats_taken=F("seats_taken") - Case(
            *(When(pk=pk, then=Value(n)) for pk, n in back.items()), default=Value(0), output_field=IntegerField(),
        ))
    return chosen


def free_one(locked_session: Any, now: dt.datetime, *shown: Any) -> list[SessionWaitlist]:
    """Free one seat of a session whose row the caller locked (and read): offered on, or given back.

    ``locked_session`` and every instance in ``shown`` (the same session cached on the caller's objects)
    then show the stored count, without another query: under the lock it is the count read, less the
    seat if it went back to the pool.
    """
    from . import reads, statements

    # free_seats for one seat, by statements built once: the first in line, or the seat back.
    line = reads.rows(SessionWaitlist, {"session": locked_session.pk, "status": WaitlistStatus.WAITING.value},
                      order=("position", "id"), first=True)
    offered = []
    if line and locked_session.start_at_utc > now:  # a session that has started has nothing to offer
        line[0].session = locked_session
        _offer(line, now)
        offered = line
    else:
        statements.give_back_seat(locked_session.pk)
    taken = locked_session.seats_taken - (0 if offered else 1)
    for instance in (locked_session, *shown):
        if instance is not None:
            instance.seats_taken = taken
    return offered


def show_claimed(locked_session: Any, *shown: Any) -> None:
    """After ``claim_seat`` on a session whose row the caller locked (and read) before the claim.

    Every instance shows the stored count without another query: under the lock it is the count
    read plus the seat just claimed.
    """
    taken = locked_session.seats_taken + 1
    for instance in (locked_session, *shown):
        if instance is not None:
            instance.seats_taken = taken


def waiting_for_added(locked_session: Any, capacity: int, now: dt.datetime) -> list[SessionWaitlist]:
    """The waiting entries that get the seats a larger ``capacity`` adds to a locked session. Reads only.

    First in line first; none once the session has started, nor when no seat is added.
    """
    added = capacity - locked_session.capacity
    if added <= 0 or locked_session.start_at_utc <= now:
        return []
    entries = list(SessionWaitlist.objects.using(db.alias()).filter(
        session_id=locked_session.pk, status=WaitlistStatus.WAITING).order_by("position", "pk")[:added])
    for entry in entries:
        entry.session = locked_session  # the offer reads its start and teacher: no query per entry
    return entries


def resized(locked_session: Any, capacity: int, offers: list[SessionWaitlist], *shown: Any) -> dict[str, Any]:
    """The field values of a new ``capacity`` whose added seats go to ``offers`` (each offer holds its seat).

    For the caller's one UPDATE of the row; ``locked_session`` and ``shown`` show the new count and
    capacity at once. The caller has checked that the seats taken still fit.
    """
    taken = locked_session.seats_taken + len(offers)
    for instance in (locked_session, *shown):
        if instance is not None:
            instance.capacity, instance.seats_taken = capacity, taken
    fields: dict[str, Any] = {"capacity": capacity}
    if offers:
        fields["seats_taken"] = F("seats_taken") + len(offers)
    return fields


def offer(entries: list[SessionWaitlist], now: dt.datetime) -> None:
    """Offer their seats (counted already, see ``resized``) to these waiting entries; signals after commit."""
    if entries:
        _offer(entries, now)


def cached_session(obj: Any) -> Any:
    """The session cached on a booking or waitlist entry, if it was loaded; None otherwise."""
    return obj.session if type(obj).session.is_cached(obj) else None


def add_seats(increments: Mapping[Any, int], *, using: str) -> None:
    """Count seats of bookings written without a claim (an import), in one statement.

    The caller has locked the sessions and checked that the counts stay within capacity.
    """
    increments = {pk: n for pk, n in increments.items() if n}
    if increments:
        get_session_model().objects.using(using).filter(pk__in=increments).update(seats_taken=F("seats_taken") + Case(
            *(When(pk=pk, then=Value(n)) for pk, n in increments.items()), default=Value(0),
            output_field=IntegerField(),
        ))


def held_by_lesson(session: S) -> S:
    """A new 1:1 lesson's session: one seat, held by its student from the start."""
    session.capacity, session.seats_taken = 1, 1
    return session


def set_taken(session: S, taken: int) -> S:
    """A new session's counter when its bookings are written with it (an import)."""
    session.seats_taken = taken
    return session


def emptied() -> dict[str, Any]:
    """Field values of a cancelled session: it holds no seat any more."""
    return {"seats_taken": 0}


def _offer(entries: list[SessionWaitlist], now: dt.datetime) -> None:
    teachers = {e.session.teacher_id for e in entries}
    ttl = {p.teacher_id: p.waitlist_offer_ttl_minutes
           for p in TeacherBookingPolicy.objects.using(db.alias()).filter(teacher_id__in=teachers)
           .only("teacher_id", "waitlist_offer_ttl_minutes")}
    default_ttl = TeacherBookingPolicy.defaults()["waitlist_offer_ttl_minutes"]
    by_expiry: dict[dt.datetime, list[SessionWaitlist]] = {}
    for entry in entries:
        expires = offer_expiry(ttl.get(entry.session.teacher_id, default_ttl), now, entry.session.start_at_utc)
        by_expiry.setdefault(expires, []).append(entry)
    for expires, group in by_expiry.items():
        transitions.move_rows(
            SessionWaitlist.objects.using(db.alias()).filter(pk__in=[e.pk for e in group]),
            WaitlistStatus.OFFERED, now, offered_at=now, offer_expires_at=expires)
        for entry in group:
            transitions.apply(entry, WaitlistStatus.OFFERED, now, offered_at=now, offer_expires_at=expires)
            send_after_commit(signals.waitlist_seat_offered, SessionWaitlist, entry=entry)
