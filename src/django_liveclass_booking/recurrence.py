"""Recurring series expanded in wall-clock time (pure); kept importable here for host code that uses it."""

from .services._engine.recurrence import (
    MAX_DURATION,
    MAX_RULE_LENGTH,
    MAX_SPAN_YEARS,
    MAX_STARTS_PER_DAY,
    MAX_VALUES,
    Occurrence,
    RecurrenceError,
    expand,
)

__all__ = [
    "MAX_DURATION", "MAX_RULE_LENGTH", "MAX_SPAN_YEARS", "MAX_STARTS_PER_DAY", "MAX_VALUES", "Occurrence",
    "RecurrenceError", "expand",
]
