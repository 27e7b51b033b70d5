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

from ...conf import booking_settings
from ...models import TeacherBookingPolicy
from . import db, reads

#: Copies kept per process; past this the memory is emptied and fills again as teachers book.
LIMIT = 4096


class Copy(NamedTuple):
    """A teacher's policy and the revision a claim must find: None when no row was stored."""

    policy: TeacherBookingPolicy
    teacher_id: Any
    revision: uuid.UUID | None


class StalePolicy(Exception):
    """The remembered copy no longer matches the stored row: book again with the row."""


#: Per (alias, teacher): the stored row (None: none stored) and its revision, and for a teacher
#: without a row the policy built from the defaults with the settings' defaults it was built from.
_remembered: dict[tuple[str, Any], tuple[TeacherBookingPolicy | None, Any]] = {}
_defaults: dict[tuple[str, Any], tuple[dict[str, Any], TeacherBookingPolicy]] = {}
_lock = threading.Lock()


def remembered(teacher_id: Any) -> Copy:
    """The teacher's policy as last read by this process (reading it the first time)."""
    key = (db.alias(), teacher_id)
    found = _remembered.get(key)
    if found is None:
        return fresh(teacher_id)
    row, revision = found
    return Copy(row if row is not None else _from_defaults(key), teacher_id, revision)


def _from_defaults(key: tuple[str, Any]) -> TeacherBookingPolicy:
    # Built again when the settings changed: the defaults come from them.
    settings_defaults = booking_settings.DEFAULT_POLICY
    built = _defaults.get(key)
    if built is None or built[0] is not settings_defaults:
        policy = TeacherBookingPolicy(teacher_id=key[1], **TeacherBookingPolicy.defaults())
        with _lock:
            _defaults[key] = built = (settings_defaults, policy)
    return built[1]


def fresh(teacher_id: Any) -> Copy:
    """Read the stored row (or its absence) and remember it."""
    key = (db.alias(), teacher_id)
    row = stored_row(teacher_id)
    revision = row.revision if row is not None else None
    with _lock:
        if len(_remembered) >= LIMIT:
            _remembered.clear()
            _defaults.clear()
        # The row itself is shared by this process's bookings: nothing may change a remembered row.
        _remembered[key] = (row, revision)
        _defaults.pop(key, None)
    return Copy(row if row is not None else _from_defaults(key), teacher_id, revision)


def stored_row(teacher_id: Any, *, lock: bool = False) -> TeacherBookingPolicy | None:
    """The teacher's stored policy row, read by a statement built once (``reads.rows``); None: no row.
    ``lock``: its row locked until the transaction ends."""
    found = reads.rows(TeacherBookingPolicy, {"teacher": teacher_id}, first=True, lock=lock)
    return found[0] if found else None


def forget_all() -> None:
    """Empty this process's memory (a test suite rolling its database back between tests uses it)."""
    with _lock:
        _remembered.clear()
        _defaults.clear()


def still_current(copy: Copy) -> bool:
    """One query: is ``copy`` still the stored policy (or is there still none)?"""
    stored = TeacherBookingPolicy.objects.using(db.alias()).filter(teacher_id=copy.teacher_id)
    if copy.revision is None:
        return not stored.exists()
    return stored.filter(revision=copy.revision).exists()
