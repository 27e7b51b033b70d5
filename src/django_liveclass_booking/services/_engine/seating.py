"""A seat in a group session: the checks, the claim and the insert, and why a seat was refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError

from ... import signals
from ...exceptions import AlreadyBooked, BookingError, SessionFull
from ...models import (
    BookingStatus,
    SessionKind,
    SessionStatus,
    SessionWaitlist,
    TeacherBookingPolicy,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from ...models.bookings import live_at
from ...policy import BookingRequest, Violation, evaluate
from . import copies, db, dberrors, expiry, fastpath, history, locks, outbox, places, seats, transitions
from .actors import invalid_user, stored_users
from .events import send_after_commit


def session_closed(session: Any) -> BookingError:
    return BookingError(code="session_closed",
                        params={"session": getattr(session, "pk", None)})


def request_for_session(student: Any, session: Any, now: dt.datetime,
                        policy: TeacherBookingPolicy | None = None) -> BookingRequest:
    cached_teacher = session.teacher if type(session).teacher.is_cached(session) else None
    return BookingRequest(
        student=student, teacher_id=session.teacher_id, kind=session.kind, start=session.start_at_utc,
        end=session.end_at_utc, now=now, session=session, loaded_teacher=cached_teacher,
        policy=TeacherBookingPolicy.for_teacher(session.teacher_id) if policy is None else policy,
    )


def precheck(student: Any, session: Any, now: dt.datetime) -> BookingError | None:
    """What makes a seat unbookable whatever the policy says; shared by booking, checking and waiting.

    Judged on the instance; the seat claim re-checks status and start in the database.
    """
    if session.status != SessionStatus.SCHEDULED or session.start_at_utc <= now:
        return session_closed(session)
    if session.kind != SessionKind.GROUP:
        return BookingError(code="not_a_group_session", params={"session": session.pk})
    if session.teacher_id == student.pk:
        return BookingError(code="own_session",
                            params={"session": session.pk})
    return None


def book(student: Any, session: Any, *, now: dt.datetime, source: str, actor_id: Any = None) -> Any:
    """Book a seat (permissions and inputs already checked): retry once past a stale request of the student."""
    refusal = precheck(student, session, now)
    if refusal is not None:
        raise refusal
    try:
        return _booked(student, session, now, source, actor_id)
    except IntegrityError as exc:
        if not dberrors.is_active_booking_conflict(exc):
            raise
        conflict = exc
    # The unique constraint found an active booking of this student. Only a request of theirs past
    # its expiry (not swept yet) may stand in the way: expire it and book again, in one transaction
    # so a refused second attempt leaves the expiry unwritten too.
    with db.atomic():
        if not _expire_own_stale_request(student, session, now):
            raise AlreadyBooked(params={"session": session.pk}) from conflict
        try:
            return _booked(student, session, now, source, actor_id)
        except IntegrityError as exc:
            if dberrors.is_active_booking_conflict(exc):
                raise AlreadyBooked(params={"session": session.pk}) from exc
            raise


def _booked(student: Any, session: Any, current: dt.datetime, source: str, actor_id: Any) -> Any:
    """Book by the process's copy of the rules; when the claim finds it stale, by the stored row."""
    try:
        booking = _in_one_statement(student, session, current, source, actor_id)
        return booking if booking is not None else _claim_and_book(student, session, current, source, actor_id)
    except copies.StalePolicy:
        pass
    try:
        return _claim_and_book(student, session, current, source, actor_id, copies.fresh(session.teacher_id))
    except copies.StalePolicy:
        # Changed again in the meantime: read the rules under the teacher's lock, where they hold still.
        return _claim_and_book(student, session, current, source, actor_id, lock_rules=True)


def _judged(student: Any, session: Any, current: dt.datetime, source: str, copy: copies.Copy | None,
            lock_rules: bool) -> tuple[Any, copies.Copy | None]:
    """The new booking, built and judged by the rules (unsaved), and the copy of the rules its claim must
    check (None: the stored row, locked). A refusal by a stale copy raises ``copies.StalePolicy``."""
    remembered = copy or copies.remembered(session.teacher_id)
    request = request_for_session(student, session, current, remembered.policy)
    check: copies.Copy | None = remembered
    if lock_rules or counts_bookings(request.policy):
        # Two seats booked at once by one student would both pass a count-then-insert
        # limit: with a limit set, the teacher row serialises them (teacher, then session).
        # The locked row is the stored policy itself: no copy to check.
        request.policy, check = locks.lock_teacher(session.teacher_id), None
    decision = evaluate(request)
    if not decision.allowed and check is not None and not copies.still_current(check):
        raise copies.StalePolicy  # refused by rules that are no longer the teacher's: judge again
    decision.raise_if_refused()
    pending = decision.requires_approval
    # Built before the claim: nothing but the write itself runs while the seat row is locked.
    booking = get_booking_model()(
        session=session, student=student, teacher_id=session.teacher_id, kind=session.kind,
        start_at_utc=session.start_at_utc, end_at_utc=session.end_at_utc,
        source=source, decided_at=None if pending else current,
        expires_at=expiry.request_expiry(request.policy.request_ttl_hours, current, session.start_at_utc)
        if pending else None,
    )
    transitions.begin(booking, BookingStatus.PENDING if pending else BookingStatus.CONFIRMED, current)
    return booking, check


def _announce(booking: Any) -> None:
    send_after_commit(signals.booking_requested if booking.status == BookingStatus.PENDING
                      else signals.booking_confirmed, type(booking), booking=booking)


def _in_one_statement(student: Any, session: Any, current: dt.datetime, source: str, actor_id: Any) -> Any:
    """PostgreSQL, called outside any transaction, with nothing to write but the booking: the claim, the
    booking and its first history row are one statement that commits on its own, so no round trip to
    the client (nor BEGIN, nor COMMIT) holds the seat's lock. None: not this case, or the claim did not
    succeed (no seat, or stale rules; nothing written), for the transactional path to settle.

    Not when notifications are on (their rows join the transaction), when the adapter has an
    ``on_place_taken`` hook, or when the teacher's limits need the teacher's lock.
    """
    if (db.in_transaction() or not db.connection().get_autocommit() or outbox.enabled() or places.hooked()
            or not fastpath.available(get_booking_model())
            or counts_bookings(copies.remembered(session.teacher_id).policy)):
        return None
    booking, copy = _judged(student, session, current, source, None, lock_rules=False)
    first = history.first_event_values(booking, current, history.by(actor_id))
    if not seats.claim_and_insert(booking, session, current, first, policy=copy):
        return None
    _announce(booking)  # committed: sent at once
    return booking


def _claim_and_book(student: Any, session: Any, current: dt.datetime, source: str, actor_id: Any,
                    rules: copies.Copy | None = None, *, lock_rules: bool = False) -> Any:
    """One attempt, one transaction: rules, then the seat claim and the insert (one statement on PostgreSQL).

    The rules are this process's copy of the teacher's policy, checked by the claim (see copies),
    or ``rules`` (read again for a retry, still checked), or with ``lock_rules`` the stored row locked.
    Raises ``copies.StalePolicy`` when the claim finds the copy stale (nothing written).
    """
    with db.atomic():
        booking, copy = _judged(student, session, current, source, rules, lock_rules)
        event = history.by(actor_id)
        claimed = seats.claim_and_insert(booking, session, current, history.first_event_values(booking, current, event),
                                         policy=copy)
        if not claimed:
            if not (claimed is None and seats.claim_seat(session.pk, current, student_id=student.pk, policy=copy)):
                # No seat, or rules changed: only now is the row read. Once it is found current the
                # booking goes on as if read here, as a row read in this transaction would.
                if copy is not None and not copies.still_current(copy):
                    raise copies.StalePolicy
                if (not seats.claim_seat(session.pk, current, student_id=student.pk)
                        and not _claim_after_expiring(session.pk, current, student.pk)):
                    raise why_no_seat(student, session.pk, current)
            history.insert_new(booking, current, event)
            seats.show_taken(session)
        places.taken([booking])
        _announce(booking)
    return booking


def _expire_own_stale_request(student: Any, session: Any, now: dt.datetime) -> bool:
    with db.atomic():
        if not get_booking_model().objects.using(db.alias()).due_to_expire(now).filter(
                session_id=session.pk, student=student).exists():
            return False
        # The one lock order: the teacher row (the claim after this may take it), then the session.
        locks.lock_teacher(session.teacher_id)
        locks.lock_session(session.pk)
        expiry.refresh_sessions([session.pk], now)
    return True


def counts_bookings(policy: Any) -> bool:
    return any(getattr(policy, name) is not None
               for name in ("max_bookings_per_day", "max_bookings_per_week", "max_pending_requests"))


def _claim_after_expiring(session_pk: Any, now: dt.datetime, student_id: Any = None) -> bool:
    """A full session may hold seats of requests or offers past their expiry: free those, claim again.

    Freed seats go to the waitlist first, so a newcomer only gets one when nobody waits.
    """
    locks.lock_session(session_pk)
    if not expiry.expire_due_in_sessions([session_pk], now):
        return False
    return seats.claim_seat(session_pk, now, student_id=student_id)


def why_no_seat(student: Any, session_pk: Any, now: dt.datetime) -> BookingError:
    """Only on the refusal path: say which of gone, closed, already booked, or full it is."""
    using = db.alias()
    if not stored_users().filter(pk=student.pk).exists():
        return invalid_user("student")
    session = get_session_model().objects.using(using).filter(pk=session_pk).first()
    if session is None or session.status != SessionStatus.SCHEDULED or session.start_at_utc <= now:
        return session_closed(session)
    if get_booking_model().objects.using(using).filter(live_at(now), session_id=session_pk,
                                                       student=student).exists():
        return AlreadyBooked(params={"session": session_pk})
    if SessionWaitlist.objects.using(using).filter(session_id=session_pk, student=student,
                                                   status=WaitlistStatus.OFFERED, offer_expires_at__gt=now).exists():
        return BookingError(code="offer_pending", params={"session": session_pk})
    if session.seats_taken < session.capacity:
        return SessionFull(params={"session": session_pk, "capacity": session.capacity, "waitlist": True})
    return SessionFull(params={"session": session_pk, "capacity": session.capacity})


def seat_violations(student: Any, session: Any, now: dt.datetime) -> list[Violation]:
    """The dry run's view of the seat itself: closed, already booked, or full."""
    using = db.alias()
    fresh = get_session_model().objects.using(using).filter(pk=session.pk).first()
    if fresh is None or fresh.status != SessionStatus.SCHEDULED or fresh.start_at_utc <= now:
        error = session_closed(fresh)
        return [Violation(error.code, error.message, error.params)]
    found = []
    bookings = get_booking_model().objects.using(using).filter(session_id=session.pk)
    if bookings.filter(live_at(now), student=student).exists():
        already: BookingError = AlreadyBooked()
        found.append(Violation(already.code, already.message, {"session": session.pk}))
    line = SessionWaitlist.objects.using(using).filter(session_id=session.pk)
    waiting = line.filter(status=WaitlistStatus.WAITING).exists()
    # Requests and offers past their expiry hold seats book_seat would free first.
    stale = bookings.due_to_expire(now).count() + line.filter(
        status=WaitlistStatus.OFFERED, offer_expires_at__lte=now).count()
    if waiting or fresh.seats_taken - stale >= fresh.capacity:
        full = SessionFull()
        found.append(Violation(full.code, full.message, {"session": session.pk}))
    return found
