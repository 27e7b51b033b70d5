"""Remembered copies of teachers' policies, for the seat claim.

Reading a policy row and building a model instance for it cost more CPU than the rest of a booking.
A process keeps the last copy it read of each teacher's policy with its ``revision`` (a new value on
every save). The copy is trusted only by a seat claim that checks, in the claim statement itself,
that the stored revision is still the copy's (or that there is still no row, for the defaults): a
policy changed anywhere since then makes the claim fail, and the booking is made again with the
stored row. So a booking is never judged by rules older than the ones its claim saw, as when the
row was read in the booking's own transaction, and no statement is added to a booking.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, NamedTuple

from ...models import TeacherBookingPolicy
from . import db

#: Copies kept per process; past this the memory is emptied and fills again as teachers book.
LIMIT = 4096


class Copy(NamedTuple):
    """A teacher's policy and the revision a claim must find: None when no row was stored."""

    policy: TeacherBookingPolicy
    teacher_id: Any
    revision: uuid.UUID | None


class StalePolicy(Exception):
    """The remembered copy no longer matches the stored row: book again with the row."""


_remembered: dict[tuple[str, Any], tuple[TeacherBookingPolicy | None, Any]] = {}
_lock = threading.Lock()


def remembered(teacher_id: Any) -> Copy:
    """The teacher's policy as last read by this process (reading it the first time)."""
    key = (db.alias(), teacher_id)
    found = _remembered.get(key)
    if found is None:
        return fresh(teacher_id)
    row, revision = found
    # The defaults are built anew each time: they come from the settings, which may change.
    policy = row if row is not None else TeacherBookingPolicy(teacher_id=teacher_id, **TeacherBookingPolicy.defaults())
    return Copy(policy, teacher_id, revision)


def fresh(teacher_id: Any) -> Copy:
    """Read the stored row (or its absence) and remember it."""
    policy = TeacherBookingPolicy.for_teacher(teacher_id)
    stored = policy.pk is not None
    revision = policy.revision if stored else None
    with _lock:
        if len(_remembered) >= LIMIT:
            _remembered.clear()
        # The row itself is shared by this process's bookings: nothing may change a remembered row.
        _remembered[(db.alias(), teacher_id)] = (policy if stored else None, revision)
    return Copy(policy, teacher_id, revision)


def forget_all() -> None:
    """Empty this process's memory (a test suite rolling its database back between tests uses it)."""
    with _lock:
        _remembered.clear()


def still_current(copy: Copy) -> bool:
    """One query: is ``copy`` still the stored policy (or is there still none)?"""
    stored = TeacherBookingPolicy.objects.using(db.alias()).filter(teacher_id=copy.teacher_id)
    if copy.revision is None:
        return not stored.exists()
    return stored.filter(revision=copy.revision).exists()
