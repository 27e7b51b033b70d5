"""Free slots for 1:1 lessons (pure computation); kept importable here for host code that uses it."""

from .services._engine.availability import (
    Window,
    free_slots,
    is_within_availability,
    window_intervals,
)

__all__ = ["Window", "free_slots", "is_within_availability", "window_intervals"]
