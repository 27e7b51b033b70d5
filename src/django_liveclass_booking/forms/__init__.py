"""Forms of the optional views: ``student`` and ``teacher`` pages. They parse input only."""

from .student import (
    CancelForm,
    InstantField,
    LessonRequestForm,
    SeriesCancelForm,
    SeriesForm,
    SlotSearchForm,
    TimezoneForm,
    check_year,
    local_datetime,
    parse_instant,
)

__all__ = [
    "CancelForm",
    "InstantField",
    "LessonRequestForm",
    "SeriesCancelForm",
    "SeriesForm",
    "SlotSearchForm",
    "TimezoneForm",
    "check_year",
    "local_datetime",
    "parse_instant",
]
