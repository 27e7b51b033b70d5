"""What an import tells its caller: one :class:`Problem` per row it did not import as it was, and the totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .read import TABLES


@dataclass(frozen=True)
class Problem:
    """A row that is not imported (or not as it was), with the reason."""

    table: str
    position: int  # 1-based row number in its table: orders the report like the export
    ref: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "reason": self.reason}


def report_order(problem: Problem) -> tuple[int, int]:
    """Sort key that lists problems like the export: tables in order, then rows in order."""
    return TABLES.index(problem.table), problem.position


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    applied: bool
    sessions_created: int
    bookings_created: int
    unchanged: int
    problems: list[Problem]
    adjusted: list[Problem]

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "sessions_created": self.sessions_created,
            "bookings_created": self.bookings_created,
            "unchanged": self.unchanged,
            "problems": [p.as_dict() for p in self.problems],
            "adjusted": [p.as_dict() for p in self.adjusted],
        }
