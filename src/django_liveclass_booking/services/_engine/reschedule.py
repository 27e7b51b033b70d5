"""Moving a 1:1 lesson to another time: proposals, their answers, their expiry.

Lock order as everywhere: the teacher row, then the lesson's session. Every move of a proposal
holds its lesson's session lock (the locked read below takes the proposal, its booking and the
session at once), so a proposal and its booking are read and written by one caller at a time.
The sweep takes due proposals with ``skip_locked`` and moves them with a conditional UPDATE, so it
never waits for, nor overwrites, an answer given meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, QuerySet, Subquery
from model_utils.fields import MonitorField

from ... import signals
from ...adapter import get_adapter
from ...exceptions import BookingError, NotAllowed
from ...models import (
    BookingEvent,
    BookingEventKind,
    BookingSeriesItem,
    BookingStatus,
    RescheduleRequest,
    RescheduleStatus,
    SessionKind,
    TeacherBookingPolicy,
    get_booking_model,
)
from ...policy import BookingRequest, Decision, evaluate
from . import calendar, db, expiry, history, lifecycle, locks, transitions
from .actors import actor_id, is_system, stored_users
from .events import send_after_commit, snapshot

#: Due proposals expired per transaction by the sweep.
BATCH_SIZE = 200

#: Rules whose violations do not apply to a move: it adds no request waiting for an answer.
NOT_FOR_MOVES = frozenset({"max_pending"})


def refuse_proposal(current: str, target: str) -> BookingError:
    return transitions.refuse(current, target, what="proposal")


def expired_error(expires_at: dt.datetime) -> BookingError:
    return BookingError(code="reschedule_expired", params={"expired_at": f"{expires_at:%Y-%m-%d %H:%M} UTC"})


def is_live(booking: Any, now: dt.datetime) -> bool:
    """Pending (and not past its expiry) or confirmed: a booking that may still move."""
    if booking.status == BookingStatus.CONFIRMED:
        return True
    return booking.status == BookingStatus.PENDING and (booking.expires_at is None or booking.expires_at > now)


def refuse_inactive(booking: Any, now: dt.datetime) -> BookingError:
    if booking.status == BookingStatus.PENDING:
        return transitions.refuse(BookingStatus.EXPIRED, "rescheduled",
                                  f"This request expired at {booking.expires_at:%Y-%m-%d %H:%M} UTC.")
    return transitions.refuse(booking.status, "rescheduled")


def check_new_time(booking: Any, policy: TeacherBookingPolicy, start: dt.datetime, end: dt.datetime,
                   now: dt.datetime) -> Decision:
    """Refuse [start, end) for this booking as a new request of its student would be; the decision.

    The booking being moved counts neither against the limits nor on the calendar.
    """
    ask = BookingRequest(student=booking.student, teacher_id=booking.teacher_id, kind=SessionKind.ONE_ON_ONE,
                         start=start, end=end, now=now, policy=policy, moving=booking)
    decision = evaluate(ask)
    decision.violations = [v for v in decision.violations if v.code not in NOT_FOR_MOVES]
    decision.raise_if_refused()
    refusal = calendar.calendar_refusal(booking.teacher_id, policy, start, end, now, excluding=booking.session_id)
    if refusal is not None:
        raise refusal
    return decision


def new_booking_expiry(booking: Any, policy: TeacherBookingPolicy, start: dt.datetime) -> dt.datetime | None:
    """A pending booking's expiry after its move to ``start``.

    It was the earlier of its start and the request time plus the time to live: when it was the
    start, it is computed again from the request time (when the booking became pending); else it
    stays, and never passes the new start.
    """
    if booking.status != BookingStatus.PENDING or booking.expires_at is None:
        return booking.expires_at
    if booking.expires_at >= booking.start_at_utc:
        return expiry.request_expiry(policy.request_ttl_hours, booking.status_changed, start)
    return min(booking.expires_at, start)


def move_lesson(booking: Any, session: Any, policy: TeacherBookingPolicy, start: dt.datetime, end: dt.datetime,
                now: dt.datetime, by: Any, proposal: Any, series_item: Any = ...,
                also: Sequence[tuple[QuerySet[Any], dict[str, Any]]] = ()) -> None:
    """Under the teacher and session locks, the new time checked: move the session, booking and series item.

    ``series_item``: the booking's item when the caller read it (None: it has none), else looked up.
    ``also``: more UPDATEs to write with these (the proposal's own move).
    """
    using = db.alias()
    previous_start, previous_end = booking.start_at_utc, booking.end_at_utc
    length = int((end - start).total_seconds() // 60)
    buffer = dt.timedelta(minutes=policy.buffer_minutes)
    # Requests past their expiry near the new time still hold scheduled sessions: expired first, so
    # the moved session never meets them (nor PostgreSQL's exclusion constraint).
    calendar.expire_due_lessons_near(booking.teacher_id, start - buffer, end + buffer, now)
    expires_at = new_booking_expiry(booking, policy, start)
    updates: list[tuple[QuerySet[Any], dict[str, Any]]] = [
        (type(session)._default_manager.db_manager(using).filter(pk=session.pk),
         {"start_at_utc": start, "end_at_utc": end, "duration_minutes": length}),
        (type(booking)._default_manager.db_manager(using).filter(pk=booking.pk),
         {"start_at_utc": start, "end_at_utc": end, "expires_at": expires_at}),
    ]
    items = BookingSeriesItem.objects.using(using)
    if series_item is ...:
        updates.append((items.filter(booking_id=booking.pk), {"start_at_utc": start, "end_at_utc": end}))
    elif series_item is not None:
        updates.append((items.filter(pk=series_item.pk), {"start_at_utc": start, "end_at_utc": end}))
    updates.extend(also)
    event = history.by(by, previous_start=previous_start.isoformat(), previous_end=previous_end.isoformat(),
                       start=start.isoformat(), end=end.isoformat(), request=proposal.pk)
    history.write_with_event(updates, BookingEvent(booking_id=booking.pk, kind=BookingEventKind.RESCHEDULED,
                                    actor_id=event.actor_id, at=now, data=dict(event.data)))
    session.start_at_utc, session.end_at_utc, session.duration_minutes = start, end, length
    booking.start_at_utc, booking.end_at_utc, booking.expires_at = start, end, expires_at
    if series_item not in (None, ...):
        series_item.start_at_utc, series_item.end_at_utc = start, end
    send_after_commit(signals.booking_rescheduled, type(booking), booking=booking, previous_start=previous_start,
                      previous_end=previous_end)


def _has_select_for_update_of() -> bool:
    return bool(db.connection().features.has_select_for_update_of)


def lock_teacher_of(proposal: Any) -> TeacherBookingPolicy:
    """The teacher lock for a proposal's lesson, in one statement when the teacher's policy row exists."""
    using = db.alias()
    teacher = get_booking_model().objects.using(using).filter(pk=proposal.booking_id).values("teacher_id")[:1]
    policy = (TeacherBookingPolicy.objects.using(using).select_for_update()
              .filter(teacher_id=Subquery(teacher)).first())
    if policy is not None:
        return policy
    teacher_id = get_booking_model().objects.using(using).filter(pk=proposal.booking_id).values_list(
        "teacher_id", flat=True).first()
    if teacher_id is None:
        raise BookingError("This lesson no longer exists.", code="not_found", params={"field": "request"})
    return locks.lock_teacher(teacher_id)


def locked_read(proposal: Any) -> Any:
    """The proposal as stored, with its booking, session and series item: the three rows locked.

    The lesson's session row first, as every booking change locks it before the booking row: a cancel
    of the lesson at the same moment then waits here instead of deadlocking with this answer.
    """
    locks.lock_session_of(proposal.booking_id)
    qs = RescheduleRequest.objects.using(db.alias()).select_related("booking__session", "booking__series_item")
    if _has_select_for_update_of():
        qs = qs.select_related("booking__student").select_for_update(of=("self", "booking", "booking__session"))
    else:
        # Without FOR UPDATE OF every joined row is locked: not the student's user row, then.
        qs = qs.select_for_update()
    row: Any = qs.filter(pk=proposal.pk).first()
    if row is None:
        raise BookingError("This proposal no longer exists.", code="not_found", params={"field": "request"})
    return row


def authorize(proposal: Any, actor: Any, action: str) -> Any:
    """Before any transaction: refuse an actor who may not ``action`` this proposal; its booking as read.

    One query reads the booking the adapter's hook looks at and whether the actor is still stored.
    ``SYSTEM`` needs neither: None.
    """
    if is_system(actor):
        return None
    require_actor_shape(actor)
    booking: Any = (get_booking_model().objects.using(db.alias())
                    .annotate(actor_stored=Exists(stored_users().filter(pk=actor.pk)))
                    .filter(pk=proposal.booking_id).first())
    if booking is None:
        raise BookingError("This proposal no longer exists.", code="not_found", params={"field": "request"})
    if not booking.actor_stored:
        raise NotAllowed("This action needs a signed-in user (or services.SYSTEM) as the actor.")
    # The hook sees the proposal with this booking, the caller's instance untouched.
    shown: Any = snapshot(proposal)
    shown.booking = booking
    if not get_adapter().can_answer_reschedule(actor, shown, action):
        who = "whoever proposed it or a manager" if action == "withdraw" else "the other party or a manager"
        raise NotAllowed(f"Only {who} may {action} this proposal.")
    return booking


def require_actor_shape(actor: Any) -> None:
    """``require_actor`` without its query: the locked read asks whether the actor is still stored."""
    if (actor is None or getattr(actor, "is_authenticated", False) is not True or getattr(actor, "pk", None) is None
            or not isinstance(actor, get_user_model())):
        raise NotAllowed("This action needs a signed-in user (or services.SYSTEM) as the actor.")


def answerable(row: Any, now: dt.datetime, target: str) -> None:
    """Refuse an answer to a proposal no longer pending or past its expiry."""
    if row.status != RescheduleStatus.PENDING:
        raise refuse_proposal(row.status, target)
    if row.expires_at <= now:
        raise expired_error(row.expires_at)


def accept(proposal: Any, actor: Any, booking_read: Any, now: dt.datetime) -> Any:
    """Accept a pending proposal (authorized, inside a transaction): the lesson moves. Returns the stored proposal.

    ``booking_read``: the booking ``authorize`` read (None for ``SYSTEM``), for its teacher.
    """
    policy = lock_teacher_of(proposal) if booking_read is None else locks.lock_teacher(booking_read.teacher_id)
    row = locked_read(proposal)
    answerable(row, now, RescheduleStatus.ACCEPTED)
    booking = row.booking
    if not is_live(booking, now):
        raise refuse_inactive(booking, now)
    if now >= booking.start_at_utc:
        raise BookingError(code="session_closed", params={"session": booking.session_id})
    check_new_time(booking, policy, row.start_at_utc, row.end_at_utc, now)
    decided = {"decided_by_id": actor_id(actor), "decided_at": now}
    # The proposal's move, written with the lesson's: pending under the locks, as just read.
    accepted = transitions.statement(RescheduleRequest.objects.using(db.alias()).filter(pk=row.pk),
                                     RescheduleStatus.ACCEPTED, now, **decided)
    move_lesson(booking, booking.session, policy, row.start_at_utc, row.end_at_utc, now, actor_id(actor), row,
                getattr(booking, "series_item", None), also=[accepted])
    transitions.apply(row, RescheduleStatus.ACCEPTED, now, **decided)
    return row


def answer(proposal: Any, actor: Any, now: dt.datetime, target: str, signal: Any, **fields: Any) -> Any:
    """Decline or withdraw a pending proposal (authorized, inside a transaction). Returns the stored proposal."""
    row = locked_read(proposal)
    answerable(row, now, target)
    transitions.move(row, target, now, decided_by_id=actor_id(actor), decided_at=now, **fields)
    send_after_commit(signal, RescheduleRequest, request=row)
    return row


def expire_pending_of(booking_pk: Any, now: dt.datetime) -> bool:
    """Under the session lock: mark the booking's pending proposal expired if it is due. Whether one is left."""
    using = db.alias()
    pending = list(RescheduleRequest.objects.using(using).filter(booking_id=booking_pk,
                                                                  status=RescheduleStatus.PENDING))
    left = False
    for row in pending:
        if row.expires_at <= now and transitions.move(row, RescheduleStatus.EXPIRED, now):
            send_after_commit(signals.reschedule_expired, RescheduleRequest, request=row)
        else:
            left = True
    return left


def propose(booking: Any, start: dt.datetime, length: int | None, actor: Any, message: str,
            now: dt.datetime) -> tuple[Any, Any]:
    """Check and write a proposal (inputs and permission checked, inside a transaction).

    ``length`` in minutes, None for the lesson's current length. Returns (proposal, stored booking).
    """
    Booking = get_booking_model()
    policy = locks.lock_teacher(booking.teacher_id)
    locks.lock_session(booking.session_id)
    stored = Booking.objects.using(db.alias()).select_related("student", "session").get(pk=booking.pk)
    if not is_live(stored, now):
        raise refuse_inactive(stored, now)
    as_student = not is_system(actor) and actor.pk == stored.student_id != stored.teacher_id
    if now >= stored.start_at_utc:
        raise BookingError(code="session_closed", params={"session": stored.session_id})
    if as_student:
        _late, refusal = lifecycle.student_cutoff(stored, now)
        if refusal is not None:
            raise refusal
    if expire_pending_of(stored.pk, now):
        raise BookingError(code="reschedule_pending", params={"booking": stored.pk})
    if length is None:
        length = int((stored.end_at_utc - stored.start_at_utc).total_seconds() // 60)
    end = start + dt.timedelta(minutes=length)
    if (start, end) == (stored.start_at_utc, stored.end_at_utc):
        raise BookingError(code="same_time", params={"booking": stored.pk, "start": start.isoformat()})
    decision = check_new_time(stored, policy, start, end, now)
    # django-stubs types the swappable foreign key as the default booking model, not the abstract one.
    proposal = RescheduleRequest(  # type: ignore[misc]
        booking=stored, proposed_by_id=actor_id(actor), start_at_utc=start, end_at_utc=end,
        previous_start_at_utc=stored.start_at_utc, previous_end_at_utc=stored.end_at_utc, message=message,
        expires_at=expiry.request_expiry(policy.request_ttl_hours, now, min(start, stored.start_at_utc)),
    )
    applied = as_student and not decision.requires_approval
    if applied:
        transitions.begin(proposal, RescheduleStatus.ACCEPTED, now)
        proposal.decided_by_id, proposal.decided_at = actor_id(actor), now
    else:
        transitions.begin(proposal, RescheduleStatus.PENDING, now)
    proposal.save(force_insert=True, using=db.alias())
    if applied:
        move_lesson(stored, stored.session, policy, start, end, now, actor_id(actor), proposal)
    else:
        send_after_commit(signals.reschedule_requested, RescheduleRequest, request=proposal)
    return proposal, stored


def sweep(now: dt.datetime) -> int:
    """Mark due pending proposals expired, in batches, each row once; signal each. The number expired."""
    using = db.alias()
    features = db.connection().features
    expired = 0
    # Most runs find none: one plain query then, no transaction.
    if not RescheduleRequest.objects.using(using).due_to_expire(now).exists():
        return 0
    while True:
        with db.atomic():
            qs = RescheduleRequest.objects.using(using).due_to_expire(now).order_by("pk")
            if features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            elif features.has_select_for_update:
                qs = qs.select_for_update()
            due = list(qs[:BATCH_SIZE])
            if not due:
                break
            moved = transitions.move_rows(RescheduleRequest.objects.using(using).filter(
                pk__in=[r.pk for r in due], expires_at__lte=now), RescheduleStatus.EXPIRED, now)
            for row in due:
                transitions.apply(row, RescheduleStatus.EXPIRED, now)
                send_after_commit(signals.reschedule_expired, RescheduleRequest, request=row)
            expired += moved
        if len(due) < BATCH_SIZE:
            break
    return expired


def show(target: Any, source: Any) -> None:
    """Copy the stored field values of ``source`` onto the caller's instance ``target``."""
    for field in source._meta.concrete_fields:
        if field.attname in source.__dict__:
            value = source.__dict__[field.attname]
            # A related object the caller loaded (e.g. decided_by, None until now) would contradict its new key.
            if field.is_relation and field.is_cached(target) and target.__dict__.get(field.attname) != value:
                field.delete_cached_value(target)
            target.__dict__[field.attname] = value
    for field in source._meta.concrete_fields:
        if isinstance(field, MonitorField):
            setattr(target, field.monitor_attname, getattr(target, field.monitor))


def is_pending_conflict(exc: Exception) -> bool:
    text = str(exc)
    return "lcb_reschedule_one_pending" in text or "pending_key" in text


def require_proposal(value: object) -> None:
    if not isinstance(value, RescheduleRequest) or value.pk is None:
        raise BookingError("request must be a saved reschedule request.", code="invalid_arguments",
                           params={"field": "request"})


def show_booking(target: Any, stored: Any) -> None:
    """The caller's booking (and its session, if loaded) as stored after the call."""
    if target is stored:
        return
    show(target, stored)
    session = target._state.fields_cache.get("session")
    if session is not None and "session" in stored._state.fields_cache:
        show(session, stored.session)


def show_proposal(target: Any, stored: Any) -> None:
    show(target, stored)
    booking = target._state.fields_cache.get("booking")
    if booking is not None:
        show_booking(booking, stored.booking)
