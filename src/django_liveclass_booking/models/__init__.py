"""Models. Session and booking are swappable: resolve them with get_session_model()/get_booking_model()."""

from .. import conf as _conf  # noqa: F401  (sets the swappable-model settings defaults first)
from .availability import TeacherAvailability, TeacherTimeOff, Weekday
from .bookings import (
    AbstractLiveClassBooking,
    LiveClassBooking,
    LiveClassBookingQuerySet,
)
from .calendar import CalendarFeedToken
from .choices import (
    ACTIVE_BOOKING_STATUSES,
    OPEN_WAITLIST_STATUSES,
    OUTCOME_STATUSES,
    SEAT_HOLDING_STATUSES,
    ApprovalMode,
    BookingEventKind,
    BookingSource,
    BookingStatus,
    NotificationKind,
    OnConflict,
    RescheduleStatus,
    SeriesItemStatus,
    SeriesStatus,
    SessionKind,
    SessionStatus,
    WaitlistStatus,
)
from .history import BookingEvent
from .idempotency import IdempotencyKey
from .notifications import Notification
from .policy import TeacherBookingPolicy
from .reschedule import RescheduleRequest, RescheduleRequestQuerySet
from .series import BookingSeries, BookingSeriesItem
from .sessions import (
    AbstractLiveClassSession,
    LiveClassSession,
    LiveClassSessionQuerySet,
)
from .swapping import get_booking_model, get_session_model
from .waitlist import SessionWaitlist

__all__ = [
    "ACTIVE_BOOKING_STATUSES",
    "OPEN_WAITLIST_STATUSES",
    "OUTCOME_STATUSES",
    "SEAT_HOLDING_STATUSES",
    "AbstractLiveClassBooking",
    "AbstractLiveClassSession",
    "ApprovalMode",
    "BookingEvent",
    "BookingEventKind",
    "BookingSeries",
    "BookingSeriesItem",
    "BookingSource",
    "BookingStatus",
    "CalendarFeedToken",
    "IdempotencyKey",
    "LiveClassBooking",
    "LiveClassBookingQuerySet",
    "LiveClassSession",
    "LiveClassSessionQuerySet",
    "Notification",
    "NotificationKind",
    "OnConflict",
    "RescheduleRequest",
    "RescheduleRequestQuerySet",
    "RescheduleStatus",
    "SeriesItemStatus",
    "SeriesStatus",
    "SessionKind",
    "SessionStatus",
    "SessionWaitlist",
    "TeacherAvailability",
    "TeacherBookingPolicy",
    "TeacherTimeOff",
    "WaitlistStatus",
    "Weekday",
    "get_booking_model",
    "get_session_model",
]
