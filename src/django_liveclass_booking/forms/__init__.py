"""Forms of the optional views: ``student`` and ``teacher`` pages. They parse input only."""

from .lifecycle import (
    OUTCOME_CHOICES,
    AnswerForm,
    MoveForm,
    OutcomeForm,
    RescheduleForm,
    SessionDetailsForm,
    SessionTimeForm,
)
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
    "OUTCOME_CHOICES",
    "AnswerForm",
    "MoveForm",
    "OutcomeForm",
    "RescheduleForm",
    "SessionDetailsForm",
    "SessionTimeForm",
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
