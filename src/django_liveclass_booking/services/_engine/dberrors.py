"""The one place that turns a database constraint error into a domain error.

PostgreSQL and MariaDB name the violated constraint in the message; SQLite names its columns.
"""

from __future__ import annotations

from ...exceptions import SlotUnavailable
from ...operations import OVERLAP_CONSTRAINT


def is_overlap(exc: Exception) -> bool:
    """PostgreSQL's exclusion constraint on a teacher's overlapping sessions."""
    return OVERLAP_CONSTRAINT in str(exc)


def is_active_booking_conflict(exc: Exception) -> bool:
    text = str(exc)
    return "one_active_per_student" in text or "active_key" in text


def is_open_entry_conflict(exc: Exception) -> bool:
    text = str(exc)
    return "one_open_per_student" in text or "open_key" in text


def raise_if_overlap(exc: Exception, message: str = "The teacher already has a session at that time.") -> None:
    """``SlotUnavailable`` for the overlap constraint; other errors pass on to the caller.

    The constraint only fires when a write that bypassed the teacher lock got there first.
    """
    if is_overlap(exc):
        raise SlotUnavailable(message, code="teacher_unavailable") from exc
