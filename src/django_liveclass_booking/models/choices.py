from django.db import models
from django.utils.translation import gettext_lazy as _


class SessionKind(models.TextChoices):
    GROUP = "group", _("Group class")
    ONE_ON_ONE = "one_on_one", _("1:1 lesson")


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    CANCELLED = "cancelled", _("Cancelled")


class BookingStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    CONFIRMED = "confirmed", _("Confirmed")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    COMPLETED = "completed", _("Completed")
    NO_SHOW = "no_show", _("Student did not attend")
    TEACHER_NO_SHOW = "teacher_no_show", _("Teacher did not attend")
    DISPUTED = "disputed", _("Disputed")


#: Bookings in these states hold a seat and block the teacher's calendar.
ACTIVE_BOOKING_STATUSES = (BookingStatus.PENDING, BookingStatus.CONFIRMED)

#: What a confirmed booking may become after its session started: recorded by ``record_outcome``.
OUTCOME_STATUSES = (BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.TEACHER_NO_SHOW,
                    BookingStatus.DISPUTED)

#: Bookings counted in a session's ``seats_taken``: the active ones, and those whose lesson took place
#: (an outcome keeps the seat it was given; the session has started, so nobody else can take it).
SEAT_HOLDING_STATUSES = ACTIVE_BOOKING_STATUSES + OUTCOME_STATUSES


class RescheduleStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting an answer")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired")


class BookingEventKind(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    CONFIRMED = "confirmed", _("Confirmed")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    RESCHEDULED = "rescheduled", _("Rescheduled")
    MOVED = "moved", _("Moved to another session")
    COMPLETED = "completed", _("Completed")
    NO_SHOW = "no_show", _("Student did not attend")
    TEACHER_NO_SHOW = "teacher_no_show", _("Teacher did not attend")
    DISPUTED = "disputed", _("Disputed")
    IMPORTED = "imported", _("Imported")


class BookingSource(models.TextChoices):
    DIRECT = "direct", _("Direct")
    WAITLIST = "waitlist", _("Waitlist")
    SERIES = "series", _("Series")
    IMPORT = "import", _("Import")


class ApprovalMode(models.TextChoices):
    AUTO = "auto", _("Confirm automatically")
    MANUAL = "manual", _("Teacher approves every booking")
    MANUAL_FOR_NEW_STUDENTS = "manual_for_new_students", _("Teacher approves new students")


class SeriesStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting approval")
    ACTIVE = "active", _("Active")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")


class OnConflict(models.TextChoices):
    SKIP = "skip", _("Skip conflicting occurrences")
    FAIL = "fail", _("Refuse the whole series")


class SeriesItemStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    WAITLISTED = "waitlisted", _("Waitlisted")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Seat offered")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Offer expired")
    LEFT = "left", _("Left")


#: Waitlist entries in these states are "open": at most one per (session, student).
OPEN_WAITLIST_STATUSES = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class NotificationKind(models.TextChoices):
    """What a notification tells; each kind has its own email templates."""

    BOOKING_REQUESTED = "booking_requested", _("Lesson requested")
    BOOKING_CONFIRMED = "booking_confirmed", _("Booking confirmed")
    BOOKING_DECLINED = "booking_declined", _("Request declined")
    BOOKING_EXPIRED = "booking_expired", _("Request expired")
    BOOKING_CANCELLED = "booking_cancelled", _("Booking cancelled")
    SEAT_OFFERED = "seat_offered", _("Seat offered")
    OFFER_EXPIRED = "offer_expired", _("Seat offer expired")
    RESCHEDULE_REQUESTED = "reschedule_requested", _("New time proposed")
    RESCHEDULE_DECLINED = "reschedule_declined", _("Proposed time declined")
    RESCHEDULE_EXPIRED = "reschedule_expired", _("Proposed time expired")
    BOOKING_RESCHEDULED = "booking_rescheduled", _("Booking moved")
    SESSION_CANCELLED = "session_cancelled", _("Class cancelled")
    SESSION_RESCHEDULED = "session_rescheduled", _("Class moved")
    SESSION_UPDATED = "session_updated", _("Class details changed")
    REMINDER = "reminder", _("Reminder")
