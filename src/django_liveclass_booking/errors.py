"""Every error code the app gives: the message a person sees, and when the code is given.

``ERROR_CODES`` maps each stable code to an :class:`ErrorCode`. ``message_for(code, params)`` renders
its message in the active language, filling ``%(name)s`` placeholders from the error's ``params``.
``BookingError`` and ``Violation`` render their message through it (and the adapter's
``format_error_message`` hook) whenever their code is registered here.

A message whose placeholders are not all in ``params`` falls back to its ``fallback``, which has
none, so rendering a message never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from django.utils.translation import gettext_lazy as _

#: The code of a refusal with nothing more specific to say, and the message of last resort.
GENERIC_CODE = "booking_error"


@dataclass(frozen=True)
class ErrorCode:
    """One code: its ``message`` (lazy, with placeholders), the ``fallback`` without placeholders,
    the exception classes it is ``raised_as``, and the reference text saying ``when`` a service gives
    it, when a form's ``validation`` error carries it and when only the ``http`` API answers with it
    (empty when it never does)."""

    code: str
    message: Any
    fallback: Any = None
    raised_as: tuple[str, ...] = ()
    when: str = ""
    validation: str = ""
    http: str = ""


def _registry(*entries: ErrorCode) -> Mapping[str, ErrorCode]:
    found: dict[str, ErrorCode] = {}
    for entry in entries:
        if entry.code in found:
            raise ValueError(f"error code {entry.code!r} is registered twice")
        found[entry.code] = entry
    return MappingProxyType(found)


_ERROR = ("BookingError",)
_POLICY = ("PolicyViolation",)

ERROR_CODES: Mapping[str, ErrorCode] = _registry(
    ErrorCode(
        "naive_datetime",
        _("%(field)s has no timezone: give a date and time with a timezone or a UTC offset."),
        _("A date and time has no timezone: give one with a timezone or a UTC offset."),
        _ERROR, "A datetime argument (``start``, ``end``, ``now``) has no timezone. Any service taking one.",
        "A form of the optional views got a start time without a UTC offset.",
    ),
    ErrorCode(
        "invalid_datetime",
        _("%(field)s must be a date and time (a datetime object) between the years 1900 and 9000."),
        _("A date and time between the years 1900 and 9000 was expected: pass a datetime object."),
        _ERROR, "A datetime argument is not a ``datetime`` at all, or lies outside the years 1900 to 9000 "
        "(``params[\"field\"]`` names it).",
    ),
    ErrorCode(
        "invalid_duration",
        _("%(field)s must be a whole number of minutes from 1 to 1440 (a day), as an int or a timedelta."),
        _("A duration must be a whole number of minutes from 1 to 1440 (a day), as an int or a timedelta."),
        _ERROR, "A duration is not a ``timedelta`` or an ``int``, is not a whole number of minutes, is not "
        "positive or is longer than a day (``schedule_session()``, ``request_lesson()``, ``available_slots()``, "
        "``check_booking()``, the series functions).",
    ),
    ErrorCode(
        "invalid_capacity",
        _("The capacity must be a whole number of seats from 1 to %(max)s, not %(value)s."),
        _("The capacity must be a whole number of seats from 1 to 100000."),
        _ERROR, "``schedule_session()`` or ``schedule_recurring_sessions()`` got a capacity that is not a whole "
        "number from 1 to 100000 (``params[\"max\"]``).",
    ),
    ErrorCode(
        "invalid_text",
        # Translators: "field" is the untranslated name of an argument, such as title, reason or message.
        _("%(field)s must be plain text without null characters, at most %(max_length)s characters long."),
        _("The text must be plain text without null characters or invalid characters; correct it and try again."),
        _ERROR, "A text argument (``title``, ``reason``, ``message``, a meeting field) is not a ``str``, holds a "
        "NUL character or a lone surrogate, or is longer than its limit: 2000 characters, or the column's "
        "length (``params[\"field\"]`` names it; ``params[\"max_length\"]`` is the limit it went past).",
    ),
    ErrorCode(
        "invalid_user",
        # Translators: "field" is the untranslated role of the argument: student or teacher.
        _("The %(field)s must be a saved user who is signed in."),
        _("A saved user who is signed in is needed here."),
        _ERROR, "A ``student`` or ``teacher`` argument is ``None``, ``SYSTEM``, not authenticated or not saved "
        "(``params[\"field\"]`` names which). An anonymous user is refused with ``not_allowed`` instead.",
    ),
    ErrorCode(
        "invalid_timezone",
        _("%(value)s is not a known IANA timezone; use a name such as Europe/London."),
        _("That is not a known IANA timezone; use a name such as Europe/London."),
        _ERROR, "A timezone is not a known IANA name (``schedule_session()``, ``set_policy()``, "
        "``add_availability()``, the series functions).",
        "A timezone field or form field holds a name that is not a known IANA timezone.",
    ),
    ErrorCode(
        "start_in_past",
        _("A session cannot start in the past."),
        raised_as=_ERROR, when="``schedule_session()`` or ``schedule_recurring_sessions()`` got a start that is "
        "not after now.",
    ),
    ErrorCode(
        "invalid_session",
        _("These session fields are unknown or invalid: %(fields)s. Correct them and try again."),
        _("This is not a usable session: pass a saved session, or correct its fields, and try again."),
        _ERROR, "``schedule_session()``: the new session fails model validation; "
        "``schedule_recurring_sessions()``: an unknown meeting field (``params[\"fields\"]`` names them). "
        "``book_seat()``, ``check_booking()``, ``join_waitlist()`` or ``cancel_session()``: the session argument "
        "is not a saved session (``params[\"field\"]``).",
    ),
    ErrorCode(
        "invalid_booking",
        _("%(field)s must be a saved booking; reload the page and try again."),
        _("A saved booking is needed here; reload the page and try again."),
        _ERROR, "``confirm_booking()``, ``decline_booking()`` or ``cancel_booking()``: the booking argument is "
        "not a saved booking (``params[\"field\"]``).",
    ),
    ErrorCode(
        "invalid_entry",
        _("%(field)s must be a saved waitlist entry; reload the page and try again."),
        _("A saved waitlist entry is needed here; reload the page and try again."),
        _ERROR, "``accept_offer()``, ``decline_offer()``, ``leave_waitlist()``, ``offer_seat()`` or "
        "``expire_offer()``: the entry argument is not a saved waitlist entry (``params[\"field\"]``).",
    ),
    ErrorCode(
        "invalid_series",
        _("%(field)s must be a saved booking series; reload the page and try again."),
        _("A saved booking series is needed here; reload the page and try again."),
        _ERROR, "``confirm_series()``, ``decline_series()`` or ``cancel_series()``: the series argument is not a "
        "saved booking series (``params[\"field\"]``).",
    ),
    ErrorCode(
        "end_before_start",
        _("The end must be after the start; correct the times."),
        raised_as=_ERROR, when="``available_slots()`` got an ``end`` not after ``start``; ``add_availability()`` "
        "an ``end_time`` not after ``start_time`` (windows do not cross midnight); ``add_time_off()`` an "
        "``end`` not after ``start``.",
    ),
    ErrorCode(
        "invalid_rrule",
        # Translators: "reason" is an untranslated technical explanation of what is wrong with the rule.
        _("'%(rrule)s' is not a usable recurrence rule: %(reason)s. Correct the rule and try again."),
        _("The recurrence rule is not usable; correct it and try again."),
        _ERROR, "``create_series()`` or ``schedule_recurring_sessions()``: the recurrence rule is malformed or "
        "produces no occurrence (``params[\"reason\"]`` says why; see :doc:`series`).",
    ),
    ErrorCode(
        "too_many_occurrences",
        _("A series may have at most %(max)s occurrences here; make it shorter."),
        _("The series has too many occurrences; make it shorter."),
        ("BookingError", "PolicyViolation"), "``create_series()`` or ``schedule_recurring_sessions()``: the rule "
        "would produce more than ``MAX_OCCURRENCES`` (``BookingError``). ``create_series()``: more than the "
        "teacher's ``max_series_occurrences`` (``PolicyViolation``). ``params[\"max\"]`` is the limit.",
    ),
    ErrorCode(
        "recurring_not_allowed",
        _("This teacher does not take recurring bookings; book the lessons one at a time."),
        raised_as=_POLICY, when="``create_series()``: the teacher's ``allow_recurring`` is ``False``.",
    ),
    ErrorCode(
        "invalid_on_conflict",
        _("on_conflict must be \"skip\" or \"fail\"."),
        raised_as=_ERROR, when="``create_series()`` or ``subscribe_to_recurring_sessions()``: ``on_conflict`` is "
        "neither ``\"skip\"`` nor ``\"fail\"``.",
    ),
    ErrorCode(
        "no_sessions",
        _("No upcoming session belongs to this class any more; pick another class."),
        raised_as=_ERROR, when="``subscribe_to_recurring_sessions()``: no upcoming scheduled session has that "
        "``recurrence_key``.",
    ),
    ErrorCode(
        "invalid_recurrence_key",
        _("Name the recurring class by its recurrence key: text of 1 to 64 characters."),
        raised_as=_ERROR, when="``subscribe_to_recurring_sessions()``: ``recurrence_key`` is not a non-empty "
        "``str`` of at most 64 characters.",
    ),
    ErrorCode(
        "invalid_weekday",
        _("The weekday must be a whole number from 0 (Monday) to 6 (Sunday), not %(value)s."),
        _("The weekday must be a whole number from 0 (Monday) to 6 (Sunday)."),
        _ERROR, "``add_availability()`` got a weekday other than an ``int`` from 0 (Monday) to 6 (Sunday).",
    ),
    ErrorCode(
        "range_too_long",
        _("Ask for at most %(max_days)s days of free slots at a time; shorten the range."),
        _("The range is too long: ask for fewer days of free slots at a time."),
        _ERROR, "``available_slots()``: ``end`` is more than 92 days after ``start`` "
        "(``params[\"max_days\"]``).",
    ),
    ErrorCode(
        "invalid_availability",
        _("The start and end of an availability window must be times of day (datetime.time values)."),
        raised_as=_ERROR, when="``add_availability()`` got a ``start_time`` or ``end_time`` that is not a "
        "``datetime.time``.",
    ),
    ErrorCode(
        "invalid_policy",
        _("These policy fields are unknown or invalid: %(fields)s. Correct them and try again."),
        _("Some policy fields are unknown or invalid; correct them and try again."),
        _ERROR, "``set_policy()`` got an unknown field or an invalid value (``params[\"fields\"]`` names them).",
    ),
    ErrorCode(
        "invalid_arguments",
        _("check_booking needs a session, or a teacher with a start and a duration."),
        raised_as=_ERROR, when="``check_booking()`` got neither a ``session`` nor a ``teacher`` with ``start`` "
        "and ``duration``.",
    ),
    ErrorCode(
        "invalid_window",
        _("%(field)s must be a saved availability window."),
        _("A saved availability window was expected."),
        _ERROR, "``remove_availability()`` got something other than a saved ``TeacherAvailability``.",
    ),
    ErrorCode(
        "invalid_time_off",
        _("%(field)s must be a saved period of time off."),
        _("A saved period of time off was expected."),
        _ERROR, "``remove_time_off()`` got something other than a saved ``TeacherTimeOff``.",
    ),
    ErrorCode(
        "session_closed",
        _("This session is cancelled or has already started; pick another session."),
        raised_as=_ERROR, when="``book_seat()``, ``check_booking()``, ``join_waitlist()``, ``accept_offer()`` or "
        "``offer_seat()``: the session is cancelled or has started. ``cancel_booking()``: a student cancels "
        "after the start. ``cancel_session()``: the session has started (record what happened with "
        "``record_outcome()``). ``request_reschedule()``, ``accept_reschedule()``, ``move_seat()`` and "
        "``reschedule_session()``: the lesson or class has started or is cancelled.",
    ),
    ErrorCode(
        "not_a_group_session",
        _("A 1:1 lesson has no seats to book: request a lesson from the teacher instead."),
        raised_as=_ERROR, when="``book_seat()``, ``check_booking()`` or ``join_waitlist()`` on a 1:1 lesson's "
        "session, or ``update_session()`` given a capacity for one.",
    ),
    ErrorCode(
        "own_session",
        _("Teachers cannot book their own sessions or lessons; sign in as the student to book."),
        raised_as=_ERROR, when="A teacher books a seat in their own session (``book_seat()``, "
        "``check_booking()``), joins its waitlist (``join_waitlist()``) or requests a lesson or a series from "
        "themselves (``request_lesson()``, ``create_series()``).",
    ),
    ErrorCode(
        "session_full",
        _("This session has no free seat for you: join its waitlist to be offered one, or pick another session."),
        raised_as=("SessionFull",), when="``book_seat()``: no free seat, after the seats of expired requests and "
        "offers have been handed on; or students are waiting, even if a seat is free (``params[\"waitlist\"]`` "
        "is ``True`` then: join the waitlist). ``check_booking()`` reports both cases. ``offer_seat()``: no free "
        "seat to offer.",
    ),
    ErrorCode(
        "already_booked",
        _("This student already has a booking for this session (confirmed, or a request awaiting an answer)."),
        raised_as=("AlreadyBooked",), when="``book_seat()`` or ``join_waitlist()``: the student already holds a "
        "confirmed booking, or a pending request not past its expiry, for the session (also when a concurrent "
        "request won the race). ``accept_offer()``: the student already holds an active booking for the session.",
    ),
    ErrorCode(
        "seats_available",
        _("A seat is free: book it instead of joining the waitlist."),
        raised_as=_ERROR, when="``join_waitlist()``: a seat is free and nobody waits; book it with "
        "``book_seat()``.",
    ),
    ErrorCode(
        "already_waitlisted",
        _("You are already on this session's waitlist; you will be offered a seat when one frees up."),
        raised_as=_ERROR, when="``join_waitlist()``: the student already has a ``waiting`` or ``offered`` entry "
        "for the session (also when a concurrent join won the race).",
    ),
    ErrorCode(
        "waitlist_disabled",
        _("This teacher does not keep waitlists; pick another session."),
        raised_as=_ERROR, when="``join_waitlist()``: the teacher's policy has ``waitlist_enabled = False``.",
    ),
    ErrorCode(
        "offer_expired",
        _("This offer expired at %(expired_at)s; join the waitlist again to wait for another seat."),
        _("This offer has expired; join the waitlist again to wait for another seat."),
        _ERROR, "``accept_offer()`` or ``decline_offer()``: the offer is past its ``offer_expires_at`` "
        "(``params[\"expired_at\"]``).",
    ),
    ErrorCode(
        "offer_pending",
        _("A seat in this session is offered to you: accept the offer instead of booking."),
        raised_as=_ERROR, when="``book_seat()``: a seat in this session is already offered to the student; "
        "accept the offer instead of booking a second seat.",
    ),
    ErrorCode(
        "not_a_lesson",
        _("Only a 1:1 lesson can be rescheduled this way; to change a class, move your seat to another date."),
        raised_as=_ERROR, when="``request_reschedule()`` on a group booking (use ``move_seat()``), or "
        "``reschedule_session()`` on a 1:1 lesson's session (use ``request_reschedule()``).",
    ),
    ErrorCode(
        "not_movable",
        _("A seat can only move to another upcoming group class of the same teacher."),
        raised_as=_ERROR, when="``move_seat()``: the target is the booking's own session, a 1:1 lesson, or a "
        "session of another teacher, or the booking is not a group booking (``params[\"session\"]``).",
    ),
    ErrorCode(
        "same_time",
        _("The lesson already takes place at that time; pick another time."),
        raised_as=_ERROR, when="``request_reschedule()``: the proposed start and length are the lesson's own.",
    ),
    ErrorCode(
        "reschedule_pending",
        _("This lesson already has a proposal for a new time waiting for an answer; withdraw it or wait for "
          "the answer."),
        raised_as=_ERROR, when="``request_reschedule()``: the booking already has a ``pending`` proposal (also "
        "when a concurrent proposal won the race).",
    ),
    ErrorCode(
        "reschedule_expired",
        _("This proposal for a new time expired at %(expired_at)s; propose another time."),
        _("This proposal for a new time has expired; propose another time."),
        _ERROR, "``accept_reschedule()``, ``decline_reschedule()`` or ``withdraw_reschedule()``: the proposal "
        "passed its ``expires_at`` (``params[\"expired_at\"]``).",
    ),
    ErrorCode(
        "capacity_below_taken",
        _("The capacity cannot go below the %(taken)s seats already taken."),
        _("The capacity cannot go below the seats already taken."),
        _ERROR, "``update_session()``: the new capacity is smaller than the session's ``seats_taken`` "
        "(``params[\"taken\"]``).",
    ),
    ErrorCode(
        "session_not_started",
        _("What happened in a lesson can only be recorded once it has started."),
        raised_as=_ERROR, when="``record_outcome()`` before the session's start.",
    ),
    ErrorCode(
        "outcome_window_closed",
        _("Outcomes can only be recorded up to %(hours)s hours after the lesson ended."),
        _("It is too late to record what happened in this lesson."),
        _ERROR, "``record_outcome()`` later than ``OUTCOME_WINDOW_HOURS`` after the session's end "
        "(``params[\"hours\"]``).",
    ),
    ErrorCode(
        "invalid_outcome",
        _("The outcome must be one of: completed, no_show, teacher_no_show."),
        raised_as=_ERROR, when="``record_outcome()`` got an ``outcome`` that is not ``completed``, ``no_show`` or "
        "``teacher_no_show``.",
    ),
    ErrorCode(
        "offer_not_due",
        _("This offer has not expired yet; wait until it does."),
        raised_as=_ERROR, when="``expire_offer()``: the offer has not reached its ``offer_expires_at`` yet.",
    ),
    ErrorCode(
        "not_first_in_line",
        _("Someone who joined the waitlist earlier is still waiting: offer the seat to them first."),
        raised_as=_ERROR, when="``offer_seat()``: a student who joined earlier is still waiting.",
    ),
    ErrorCode(
        "not_found",
        _("This waitlist entry no longer exists; reload the page."),
        raised_as=_ERROR, when="``accept_offer()``, ``decline_offer()``, ``leave_waitlist()``, ``offer_seat()`` "
        "or ``expire_offer()``: the waitlist entry no longer exists.",
    ),
    ErrorCode(
        "teacher_unavailable",
        _("The teacher already has a session at that time."),
        raised_as=("SlotUnavailable",), when="``schedule_session()``, ``schedule_recurring_sessions()`` or "
        "``request_lesson()``: another scheduled session of the teacher overlaps (for a lesson: comes within "
        "``buffer_minutes``), or PostgreSQL's exclusion constraint refused the overlap. "
        "``schedule_recurring_sessions()`` lists every conflicting start in ``params[\"starts\"]``. "
        "``create_series()`` reports it per occurrence (a ``PolicyViolation``, or a skipped item).",
    ),
    ErrorCode(
        "outside_availability",
        _("The teacher does not teach at that time (outside their availability, or away). Pick another time."),
        raised_as=("SlotUnavailable",), when="``request_lesson()`` (and per occurrence ``create_series()``): the "
        "lesson is not wholly inside an availability window, or overlaps the teacher's time off.",
    ),
    ErrorCode(
        "invalid_transition",
        # Translators: "from" and "to" are status values as stored, e.g. pending, confirmed, expired.
        _("This cannot change from %(from)s to %(to)s; reload the page to see its current status."),
        _("That status change is not allowed; reload the page to see the current status."),
        ("InvalidTransition",), "``confirm_booking()``, ``decline_booking()`` or ``cancel_booking()`` on a "
        "booking whose status does not allow it, including a pending request past its expiry "
        "(``params[\"from\"]`` is ``\"expired\"``); ``cancel_session()`` on a cancelled session. For a waitlist "
        "entry: ``accept_offer()``, ``decline_offer()`` or ``expire_offer()`` on an entry not ``offered``, "
        "``offer_seat()`` on one not ``waiting``, ``leave_waitlist()`` on one neither (including an offer past "
        "its expiry, ``params[\"from\"]`` is ``\"expired\"``). ``confirm_series()`` or ``decline_series()`` on a "
        "series with no pending occurrence.",
    ),
    ErrorCode(
        "not_allowed",
        _("You are not allowed to do that. Sign in with an account that may, such as the teacher's or a "
          "booking manager's."),
        raised_as=("NotAllowed",), when="The actor may not do this, the actor is missing or anonymous, or "
        "``request_lesson()`` or ``join_waitlist()`` got a student who is not signed in.",
    ),
    ErrorCode(
        "min_notice",
        _("Bookings with this teacher need %(min_notice_minutes)s minutes' notice; pick a later time."),
        _("This booking gives the teacher too little notice; pick a later time."),
        _POLICY, "``MinNoticeRule``: the booking starts sooner than ``min_notice_minutes`` from now.",
    ),
    ErrorCode(
        "max_advance",
        _("This teacher takes bookings at most %(max_advance_days)s days ahead; pick an earlier time."),
        _("This booking is too far ahead for this teacher; pick an earlier time."),
        _POLICY, "``MaxAdvanceRule``: the booking starts later than ``max_advance_days`` from now.",
    ),
    ErrorCode(
        "daily_limit",
        # Translators: count and limit are numbers; the sentence reads right for any of them, 1 included.
        _("Your bookings with this teacher that day: %(count)s, at most %(limit)s allowed. Pick another day."),
        _("You have reached this teacher's limit of bookings for that day; pick another day."),
        _POLICY, "``DailyLimitRule``: the student has ``max_bookings_per_day`` bookings with the teacher that "
        "local day.",
    ),
    ErrorCode(
        "weekly_limit",
        _("Your bookings with this teacher that week: %(count)s, at most %(limit)s allowed. Pick another week."),
        _("You have reached this teacher's limit of bookings for that week; pick another week."),
        _POLICY, "``WeeklyLimitRule``: the student has ``max_bookings_per_week`` bookings with the teacher that "
        "local week.",
    ),
    ErrorCode(
        "max_pending",
        _("Your requests waiting for this teacher's answer: %(count)s, at most %(limit)s allowed. "
          "Wait for an answer before asking again."),
        _("You have too many requests waiting for this teacher's answer; wait for an answer before asking again."),
        _POLICY, "``MaxPendingRule``: the student has ``max_pending_requests`` pending requests with the teacher.",
    ),
    ErrorCode(
        "duration_not_allowed",
        _("This teacher offers lessons of %(allowed)s minutes; pick one of those lengths."),
        _("This teacher does not offer lessons of that length; pick another length."),
        _POLICY, "``LessonDurationRule``, and ``available_slots()``: the lesson length is not in "
        "``lesson_durations``.",
    ),
    ErrorCode(
        "cancellation_window",
        _("Bookings with this teacher can only be cancelled up to %(cutoff_hours)s hours before the start; "
          "ask the teacher to cancel it."),
        _("It is too late to cancel this booking yourself; ask the teacher to cancel it."),
        _POLICY, "``cancel_booking()``: a student cancels later than ``cancellation_cutoff_hours`` before the "
        "start and the teacher's ``allow_late_cancellation`` is ``False``.",
    ),
    ErrorCode(
        GENERIC_CODE,
        _("The booking operation was refused and nothing was changed."),
        raised_as=_ERROR, when="``BookingError.default_code``: a ``BookingError`` raised without a more specific "
        "code (the app's own refusals always give one). Its message is also the last resort of every other.",
    ),
    ErrorCode(
        "policy_violation",
        _("The booking breaks the teacher's booking policy."),
        raised_as=_POLICY, when="``PolicyViolation.default_code``: a ``PolicyViolation`` with no violation in it.",
    ),
    ErrorCode(
        "invalid_lesson_durations",
        _("Lesson durations must be a list of at most %(count)s different whole minutes from 1 to %(max)s, "
          "e.g. [30, 60]."),
        _("Lesson durations must be a short list of different whole minutes from 1 to 1440, e.g. [30, 60]."),
        validation="``lesson_durations`` is not a list of at most 24 different whole minutes from 1 to 1440 "
        "(``set_policy()`` reports it as ``invalid_policy``), or the teacher's policy form of the optional views "
        "got something other than whole minutes.",
    ),
    ErrorCode(
        "null_characters_not_allowed",
        _("Null characters are not allowed."),
        validation="A text field of the models (a title, a reason, a message, a meeting field) holds a NUL "
        "character, which PostgreSQL cannot store; Django's own form fields give the same code. A service "
        "refuses such text with ``invalid_text``.",
    ),
    ErrorCode(
        "invalid",
        _("Enter a valid date and time."),
        validation="Django's own code for a value a form field cannot read: a date and time field of the teacher "
        "pages got text that is not a date and time, or a year out of range.",
    ),
    ErrorCode(
        "invalid_date",
        _("Enter a date between the years %(first)s and %(last)s."),
        _("Enter a valid date."),
        validation="The admin's add-session form: the date half of the start is missing. A form of the optional "
        "views: a date outside the years it accepts (``params`` name the ``first`` and ``last``).",
    ),
    ErrorCode(
        "invalid_time",
        _("Enter a valid time."),
        validation="The admin's add-session form: the time half of the start is missing.",
    ),
    ErrorCode(
        "invalid_start",
        _("Pick one of the times offered."),
        validation="A form of the optional views got a start time that is not an ISO 8601 instant.",
    ),
    ErrorCode(
        "first_lesson_missing",
        _("Pick one of the free times, or give the date and time of the first lesson."),
        validation="The weekly series page got neither a free time picked nor a date and time typed in.",
    ),
    ErrorCode(
        "nonexistent_time",
        _("%(time)s does not exist on %(day)s in %(zone)s (the clocks change); pick another time."),
        _("That time does not exist on that day (the clocks change); pick another time."),
        validation="A form of the optional views got a local date and time that the clocks skip on a DST change "
        "(``params`` name the ``time``, ``day`` and ``zone``).",
    ),
    ErrorCode(
        "not_authenticated",
        _("Sign in first: this request needs an authenticated user."),
        http="An HTTP API request came without credentials (401, or 403 when the host's first "
        "authentication class names no ``WWW-Authenticate`` scheme, as session authentication).",
    ),
    ErrorCode(
        "authentication_failed",
        _("The credentials sent with this request are not valid."),
        http="An HTTP API request came with credentials that the host's authentication refused (401/403).",
    ),
    ErrorCode(
        "method_not_allowed",
        _("This address does not take a %(method)s request."),
        _("This address does not take this kind of request."),
        http="An HTTP API address got a method it does not answer (405); ``params[\"method\"]`` names it.",
    ),
    ErrorCode(
        "parse_error",
        _("The request body could not be read: send JSON."),
        http="An HTTP API request body is not well-formed for its content type (400).",
    ),
    ErrorCode(
        "unsupported_media_type",
        _("This content type is not accepted: send application/json."),
        http="An HTTP API request body has a content type the API does not read (415).",
    ),
    ErrorCode(
        "not_acceptable",
        _("The API cannot answer in any format this request accepts."),
        http="An HTTP API request's ``Accept`` header names no format the API renders (406).",
    ),
    ErrorCode(
        "throttled",
        _("Too many requests: try again in %(wait)s seconds."),
        _("Too many requests: try again later."),
        http="The host's DRF throttling refused an HTTP API request (429); ``params[\"wait\"]`` is the "
        "number of seconds to wait, when known.",
    ),
    ErrorCode(
        "invalid_request",
        _("Some fields of the request are missing or not valid: see params."),
        http="An HTTP API request body or query string failed validation (400). ``params[\"fields\"]`` "
        "maps each field to its messages, each with its own ``code``.",
    ),
    ErrorCode(
        "unknown_field",
        _("This operation takes no such field."),
        http="An HTTP API request body names a field the operation does not take; it comes inside "
        "``invalid_request``'s ``params[\"fields\"]`` under that field's name.",
    ),
    ErrorCode(
        "invalid_idempotency_key",
        _("The Idempotency-Key header must be 1 to %(max)s printable ASCII characters."),
        _("The Idempotency-Key header must be 1 to 255 printable ASCII characters."),
        http="A creating POST of the HTTP API came with an empty, too long or non-ASCII ``Idempotency-Key`` "
        "header (400).",
    ),
    ErrorCode(
        "idempotency_key_reused",
        _("This Idempotency-Key was already used for another request: use a new key for a new request."),
        http="A creating POST of the HTTP API reused a user's ``Idempotency-Key`` with another address or body "
        "(422). The same request again is answered with the first response instead.",
    ),
)

KINDS = ("service", "validation", "http")


def error_codes(kind: str = "service") -> list[ErrorCode]:
    """The registered codes a service refusal (``"service"``), a form's ValidationError (``"validation"``)
    or only the HTTP API (``"http"``) carries, in reference order, for the documentation's tables."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return [entry for entry in ERROR_CODES.values() if getattr(entry, "when" if kind == "service" else kind)]


def _readable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    if isinstance(value, (set, frozenset)):
        return ", ".join(sorted(str(item) for item in value))
    return value


def message_for(code: str, params: Mapping[str, Any] | None = None) -> str:
    """The message of ``code`` in the active language, its placeholders filled from ``params``.

    Never raises: without every param its message needs, the code's fallback is used; an unregistered
    code gets the generic message.
    """
    generic = ERROR_CODES[GENERIC_CODE]
    entry = ERROR_CODES.get(code, generic)
    values = {key: _readable(value) for key, value in (params or {}).items()}
    for template in (entry.message, entry.fallback, generic.message):
        if template is None:
            continue
        try:
            return str(template) % values
        except (KeyError, TypeError, ValueError):
            continue
    return str(generic.message)
