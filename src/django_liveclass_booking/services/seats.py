"""The seat counter and the hand-over to the waitlist. Only these functions change ``seats_taken``.

A claim is one conditional UPDATE: it succeeds only while the session is open, has a free seat
and nobody waits, so concurrent claims can never oversell or jump the line, and it locks the
session row until commit. A freed seat goes first to the waitlist as an offer (the counter keeps
it), and only with nobody waiting back to the pool.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Value, When

from .. import signals
from ..models import SessionStatus, SessionWaitlist, TeacherBookingPolicy, WaitlistStatus, get_session_model
from ._common import send_after_commit


def someone_waits(session_ref: Any = None) -> Exists:
    return Exists(SessionWaitlist.objects.filter(
        session_id=OuterRef("pk") if session_ref is None else session_ref, status=WaitlistStatus.WAITING))


def claim_seat(session_pk: Any, now: dt.datetime, *, for_waitlist: bool = False, student_id: Any = None) -> bool:
    """Take one seat. A newcomer never gets one while anyone waits; ``for_waitlist`` is the line itself.

    With ``student_id``, a student already holding an offered seat there gets no second one.
    """
    Session = get_session_model()
    if connection.vendor == "mysql":
        # InnoDB may run this UPDATE through the status index, locking that index entry before the
        # row, while cancel_session holds the row and then updates the entry: a deadlock. Taking
        # the row by primary key first keeps one lock order. PostgreSQL locks no index entries.
        lock_session(session_pk)
    qs = Session.objects.filter(
        pk=session_pk, status=SessionStatus.SCHEDULED, start_at_utc__gt=now, seats_taken__lt=F("capacity")
    )
    if not for_waitlist:
        qs = qs.filter(~someone_waits())
    if student_id is not None:
        qs = qs.filter(~Exists(SessionWaitlist.objects.filter(
            session_id=OuterRef("pk"), student_id=student_id, status=WaitlistStatus.OFFERED)))
    return bool(qs.update(seats_taken=F("seats_taken") + 1))


def lock_session(session_pk: Any) -> Any:
    """Lock a session row (``SELECT ... FOR UPDATE``) before changing its bookings' seats."""
    Session = get_session_model()
    return Session.objects.select_for_update().filter(pk=session_pk).first()


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
    line = SessionWaitlist.objects.filter(session_id__in=freed, status=WaitlistStatus.WAITING).select_related(
        "session").order_by("session_id", "position", "pk")
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
        get_session_model().objects.filter(pk__in=back).update(seats_taken=F("seats_taken") - Case(
            *(When(pk=pk, then=Value(n)) for pk, n in back.items()), default=Value(0), output_field=IntegerField(),
        ))
    return chosen


def _offer(entries: list[SessionWaitlist], now: dt.datetime) -> None:
    teachers = {e.session.teacher_id for e in entries}
    ttl = {p.teacher_id: p.waitlist_offer_ttl_minutes
           for p in TeacherBookingPolicy.objects.filter(teacher_id__in=teachers).only("teacher_id", "waitlist_offer_ttl_minutes")}
    default_ttl = TeacherBookingPolicy.defaults()["waitlist_offer_ttl_minutes"]
    by_expiry: dict[dt.datetime, list[SessionWaitlist]] = {}
    for entry in entries:
        expires = offer_expiry(ttl.get(entry.session.teacher_id, default_ttl), now, entry.session.start_at_utc)
        by_expiry.setdefault(expires, []).append(entry)
    for expires, group in by_expiry.items():
        SessionWaitlist.objects.filter(pk__in=[e.pk for e in group], status=WaitlistStatus.WAITING).update(
            status=WaitlistStatus.OFFERED, status_changed=now, offered_at=now, offer_expires_at=expires
        )
        for entry in group:
            entry.status, entry.status_changed, entry.offered_at, entry.offer_expires_at = (
                WaitlistStatus.OFFERED, now, now, expires)
            send_after_commit(signals.waitlist_seat_offered, SessionWaitlist, entry=entry)
