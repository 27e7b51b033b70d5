"""Locks in the one documented order: the teacher row, then sessions by ascending primary key.

Every function here refuses to run outside a transaction (a lock outside one is released at once
and guards nothing) and locks on the booking models' database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Subquery

from ...models import TeacherBookingPolicy, get_booking_model, get_session_model
from . import copies, db, reads


class LockOutsideTransaction(RuntimeError):
    """A programming error: a lock was asked for outside ``transaction.atomic``."""


def require_transaction() -> None:
    if not db.in_transaction():
        raise LockOutsideTransaction("Booking locks are only taken inside a transaction on the booking database.")


def lock_teacher(teacher: Any) -> TeacherBookingPolicy:
    """Lock the teacher's policy row, creating it with the current defaults on first use.

    Every service that checks a teacher's calendar takes this lock first, so two of them for one
    teacher run one after the other and the overlap check cannot be raced.
    """
    require_transaction()
    teacher_id = getattr(teacher, "pk", teacher)
    using = db.alias()
    policy = copies.stored_row(teacher_id, lock=True)
    if policy is not None:
        return policy
    # An upsert, not INSERT-then-catch: racing plain INSERTs of one key deadlock on InnoDB (each
    # loser holds a shared lock on the duplicate and then wants the exclusive one), while
    # INSERT ... ON DUPLICATE KEY / ON CONFLICT DO UPDATE waits for the exclusive lock directly.
    features = db.connection().features
    TeacherBookingPolicy.objects.using(using).bulk_create(
        [TeacherBookingPolicy(teacher_id=teacher_id, **TeacherBookingPolicy.defaults())],
        update_conflicts=True,
        unique_fields=["teacher"] if features.supports_update_conflicts_with_target else None,
        update_fields=["teacher"],
    )
    stored = copies.stored_row(teacher_id, lock=True)
    if stored is None:  # just written by this transaction: only a broken router could lose it
        raise TeacherBookingPolicy.DoesNotExist(f"No policy row for teacher {teacher_id!r} after writing it.")
    return stored


def lock_session(session_pk: Any) -> Any:
    """Lock one session row (``SELECT ... FOR UPDATE``) and return it, or None if it is gone."""
    require_transaction()
    Session = get_session_model()
    found = reads.rows(Session, {Session._meta.pk.name: session_pk}, first=True, lock=True)
    return found[0] if found else None


def lock_session_of_booking(booking: Any) -> Any:
    """Lock the session ``booking`` is stored in and return it (None if it is gone), in one statement.

    The caller's copy of the booking may predate a move (a reschedule, a move to another class): it
    then gets the stored session and times, so the seat given back or the slot freed is the one the
    booking holds now, never the one it held when the copy was read.
    """
    require_transaction()
    session = reads.locked_session_of_booking(booking.pk)
    if session is not None and (booking.session_id, booking.start_at_utc, booking.end_at_utc) != (
            session.pk, session.start_at_utc, session.end_at_utc):
        booking.session_id, booking.start_at_utc, booking.end_at_utc = (
            session.pk, session.start_at_utc, session.end_at_utc)
        booking._state.fields_cache.pop("session", None)
    return session


def lock_session_of(booking_pk: Any) -> None:
    """Lock the session of the booking ``booking_pk`` in one statement, before anything touches the booking row."""
    require_transaction()
    using = db.alias()
    session = get_booking_model().objects.using(using).filter(pk=booking_pk).values("session_id")[:1]
    list(get_session_model().objects.using(using).select_for_update().filter(pk=Subquery(session))
         .values_list("pk", flat=True))


def lock_sessions(session_pks: Iterable[Any], *, skip_locked: bool = False) -> list[Any]:
    """Lock sessions by ascending pk; the pks locked (with ``skip_locked``, those nobody else holds).

    ``skip_locked`` is for sweeps: several workers take the sessions nobody holds and leave the
    rest to their holder or the next sweep. Backends without it wait instead.
    """
    require_transaction()
    pks = sorted(set(session_pks))
    if not pks:
        return []
    qs = get_session_model().objects.using(db.alias()).filter(pk__in=pks).order_by("pk")
    features = db.connection().features
    if skip_locked and features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True)
    elif features.has_select_for_update:
        qs = qs.select_for_update()
    return list(qs.values_list("pk", flat=True))
