"""The adapter: hooks a host overrides by subclassing and naming its class in ``LIVECLASS_BOOKING["ADAPTER"]``."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest

    from .models import (
        AbstractLiveClassBooking,
        AbstractLiveClassSession,
        BookingSeries,
        Notification,
        RescheduleRequest,
        SessionWaitlist,
    )

MANAGE_BOOKINGS_PERMISSION = "liveclass_booking.manage_bookings"
#: Key in ``request.session`` under which the default adapter keeps the zone the viewer's pages use.
TIMEZONE_SESSION_KEY = "liveclass_booking_timezone"


class DefaultBookingAdapter:
    """Default behaviour; every method is a hook a host may override."""

    def now(self) -> dt.datetime:
        """The current time. Hosts with a simulated clock (demos, tests) override it."""
        return timezone.now()

    def get_user_timezone(self, user: AbstractBaseUser) -> str | None:
        """IANA name of the user's timezone, if the host knows it (e.g. from a profile)."""
        return getattr(user, "timezone", None) or None

    def get_viewer_timezone(self, request: HttpRequest) -> str | None:
        """IANA name of the zone the pages show times in for this request's viewer; None: not known yet.

        Default: the zone kept in the session by ``set_viewer_timezone``, else ``get_user_timezone``.
        With None the pages fall back to the teacher policy's zone or ``TIME_ZONE``, and the page's
        script sends the browser's zone to ``set_viewer_timezone``.
        """
        session = getattr(request, "session", None)
        name = session.get(TIMEZONE_SESSION_KEY) if session is not None else None
        user = getattr(request, "user", None)
        if not name and user is not None and user.is_authenticated:
            name = self.get_user_timezone(user)
        return str(name) if name else None

    def set_viewer_timezone(self, request: HttpRequest, zone: str) -> None:
        """Remember ``zone`` (a checked IANA name) for this request's viewer, picked or detected.

        Default: in the session, which logging out forgets. Hosts keep it on a profile instead.
        """
        request.session[TIMEZONE_SESSION_KEY] = zone

    def get_user_language(self, user: AbstractBaseUser) -> str | None:
        """Language code the user's messages are written in (e.g. from a profile); None: ``LANGUAGE_CODE``."""
        return getattr(user, "language", None) or None

    def is_staff_manager(self, actor: AbstractBaseUser) -> bool:
        """Whether ``actor`` may manage every booking (staff tooling, support agents)."""
        # has_perm comes with PermissionsMixin, which a custom user model may leave out.
        has_perm = getattr(actor, "has_perm", None)
        return bool(getattr(actor, "is_active", False) and has_perm is not None
                    and has_perm(MANAGE_BOOKINGS_PERMISSION))

    def is_teacher(self, user: AbstractBaseUser) -> bool:
        """Who may open the teacher pages of the optional views.

        Default: a user with a booking policy (created by ``set_policy`` or the admin, or the first
        time someone books them) or a booking manager. Hosts with a teacher role override it.
        """
        from .models import TeacherBookingPolicy

        return self.is_staff_manager(user) or TeacherBookingPolicy.objects.filter(teacher_id=user.pk).exists()

    # --- permissions: every decision of the services and the pages is one of these ---------------

    def can_book_for(self, actor: AbstractBaseUser, student: AbstractBaseUser) -> bool:
        """Who may book a seat for ``student``: the student, or a manager (front-desk staff)."""
        return actor.pk == student.pk or self.is_staff_manager(actor)

    def can_manage_session(self, actor: AbstractBaseUser, session: AbstractLiveClassSession) -> bool:
        """Who may cancel or change a session: its teacher or a manager."""
        return actor.pk == session.teacher_id or self.is_staff_manager(actor)

    def can_manage_teacher(self, actor: AbstractBaseUser, teacher: Any) -> bool:
        """Who may change a teacher's policy, availability and time off: the teacher or a manager.

        ``teacher`` is a user or a user's primary key. Hosts with assistants who keep a teacher's
        calendar widen it.
        """
        return actor.pk == getattr(teacher, "pk", teacher) or self.is_staff_manager(actor)

    def can_decide_booking(self, actor: AbstractBaseUser, booking: AbstractLiveClassBooking) -> bool:
        """Who may confirm or decline a booking: the teacher or a manager (never the student alone)."""
        return actor.pk == booking.teacher_id or self.is_staff_manager(actor)

    def can_cancel_booking(self, actor: AbstractBaseUser, booking: AbstractLiveClassBooking) -> bool:
        """Who may cancel a booking: the student, the teacher, or a manager."""
        return actor.pk in (booking.student_id, booking.teacher_id) or self.is_staff_manager(actor)

    def can_decide_series(self, actor: AbstractBaseUser, series: BookingSeries,
                          bookings: Sequence[AbstractLiveClassBooking] = ()) -> bool:
        """Who may confirm or decline a whole series: whoever may decide each of its ``bookings``.

        So a host that overrides ``can_decide_booking`` governs series too. With no bookings to
        judge, a booking of the series' student with its teacher stands in.
        """
        return all(self.can_decide_booking(actor, b) for b in bookings or [_stand_in(series)])

    def can_cancel_series(self, actor: AbstractBaseUser, series: BookingSeries,
                          bookings: Sequence[AbstractLiveClassBooking] = ()) -> bool:
        """Who may cancel a series: whoever may cancel each of its ``bookings`` (see ``can_decide_series``)."""
        return all(self.can_cancel_booking(actor, b) for b in bookings or [_stand_in(series)])

    def can_act_on_waitlist_entry(self, actor: AbstractBaseUser, entry: SessionWaitlist, action: str) -> bool:
        """Who may ``accept``, ``decline`` or ``leave`` a waitlist entry.

        The waiting student or a manager; the session's manager (its teacher) may also take a student
        off the line (``leave``).
        """
        if actor.pk == entry.student_id or self.is_staff_manager(actor):
            return True
        return action == "leave" and self.can_manage_session(actor, entry.session)

    def can_propose_reschedule(self, actor: AbstractBaseUser, booking: AbstractLiveClassBooking) -> bool:
        """Who may propose a new time for a 1:1 lesson: its student, its teacher, or a manager."""
        return actor.pk in (booking.student_id, booking.teacher_id) or self.is_staff_manager(actor)

    def can_answer_reschedule(self, actor: AbstractBaseUser, request: RescheduleRequest, action: str) -> bool:
        """Who may ``accept``, ``decline`` or ``withdraw`` a proposed new time.

        Accept and decline: the other party of the lesson (not whoever proposed it) or a manager.
        Withdraw: whoever proposed it, or a manager.
        """
        # The parties first: the manager check costs permission queries.
        if action == "withdraw":
            party = actor.pk == request.proposed_by_id
        else:
            booking = request.booking
            party = actor.pk in (booking.student_id, booking.teacher_id) and actor.pk != request.proposed_by_id
        return party or self.is_staff_manager(actor)

    def can_move_booking(self, actor: AbstractBaseUser, booking: AbstractLiveClassBooking,
                         session: AbstractLiveClassSession) -> bool:
        """Who may move a group booking to ``session``: its student, its teacher, or a manager."""
        return actor.pk in (booking.student_id, booking.teacher_id) or self.is_staff_manager(actor)

    def can_record_outcome(self, actor: AbstractBaseUser, booking: AbstractLiveClassBooking, outcome: str) -> bool:
        """Who may record ``outcome`` for a booking.

        The teacher records ``completed`` or ``no_show``; the student may record ``teacher_no_show``;
        a manager records any outcome (and resolves disputes).
        """
        # The parties first: their own account needs no permission lookup.
        if actor.pk == booking.teacher_id and outcome in ("completed", "no_show"):
            return True
        if actor.pk == booking.student_id and outcome == "teacher_no_show":
            return True
        return self.is_staff_manager(actor)

    # --- what the pages show ------------------------------------------------------------------------

    def sessions_visible_to(self, user: AbstractBaseUser, sessions: QuerySet[Any]) -> QuerySet[Any]:
        """Sessions ``user`` may open: every group class; a 1:1 lesson only for its teacher and student."""
        from .models import SessionKind, get_booking_model

        if self.is_staff_manager(user):
            return sessions
        mine = get_booking_model().objects.filter(student_id=user.pk).values("session_id")
        return sessions.filter(Q(kind=SessionKind.GROUP) | Q(teacher_id=user.pk) | Q(pk__in=mine))

    def bookings_visible_to(self, user: AbstractBaseUser, bookings: QuerySet[Any]) -> QuerySet[Any]:
        """Bookings ``user`` may open: their own, their students', or all for a manager."""
        if self.is_staff_manager(user):
            return bookings
        return bookings.filter(Q(student_id=user.pk) | Q(teacher_id=user.pk))

    def series_visible_to(self, user: AbstractBaseUser, series: QuerySet[Any]) -> QuerySet[Any]:
        """Series ``user`` may open: their own, their students', or all for a manager."""
        return self.bookings_visible_to(user, series)

    def teacher_rows_managed_by(self, user: AbstractBaseUser, rows: QuerySet[Any]) -> QuerySet[Any]:
        """Rows with a ``teacher`` (sessions, bookings, series, windows, time off) on ``user``'s teacher pages."""
        return rows if self.is_staff_manager(user) else rows.filter(teacher_id=user.pk)

    def can_see_meeting_details(self, user: AbstractBaseUser, session: AbstractLiveClassSession,
                                booking: AbstractLiveClassBooking | None) -> bool:
        """Meeting link and passcode: the teacher, a manager, or the student of a confirmed ``booking``."""
        from .models import BookingStatus

        # The cheap answers first: a feed asks once per event, and the permission check costs queries.
        if user.pk == session.teacher_id:
            return True
        if booking is not None and booking.student_id == user.pk and booking.status == BookingStatus.CONFIRMED:
            return True
        return self.is_staff_manager(user)

    # --- transactional hooks: called inside the service's transaction -------------------------------

    def on_place_taken(self, booking: AbstractLiveClassBooking) -> None:
        """A booking has just taken a seat or a slot: booked, requested, an offer accepted, a series
        occurrence, or a booking moved to another session.

        Runs inside the transaction, after the booking is written (it has its primary key). Charge a
        lesson credit here, locking the student's balance row: a ``BookingError`` raised here refuses
        the whole call with its code and nothing is written. Default: nothing.
        """

    def on_place_released(self, booking: AbstractLiveClassBooking, reason: str) -> None:
        """A booking has given its seat or slot back; ``reason`` is one of ``cancelled``,
        ``late_cancelled``, ``declined``, ``expired``, ``moved``, ``session_cancelled``.

        Runs inside the transaction (refund a credit here). Default: nothing.
        """

    # --- messages -----------------------------------------------------------------------------------

    def format_error_message(self, code: str, params: Mapping[str, Any], default: str) -> str:
        """The message shown for a refusal with ``code``; ``default`` is the app's, in the active language.

        Called each time an error's or violation's message is read. Override it to reword some codes
        (e.g. with your own translations); return ``default`` for the rest.
        """
        return default

    # --- notifications ------------------------------------------------------------------------------

    def send_notification(self, notification: Notification) -> None:
        """Deliver one outbox row; the channel hook (override it for SMS, push or a chat app).

        Called by the delivery workers outside any transaction, at most once per row unless it
        raises: an exception marks the row failed (``last_error``) and it is tried again later, so
        raise only when nothing reached the recipient. Default: an email in the recipient's
        language and timezone through Django's email backend (see ``notifications.send_email``);
        a recipient without an email address is skipped.
        """
        from .notifications import send_email

        send_email(notification)


def _stand_in(series: BookingSeries) -> AbstractLiveClassBooking:
    from .models import get_booking_model

    return get_booking_model()(student_id=series.student_id, teacher_id=series.teacher_id, kind=series.kind)


@functools.cache
def get_adapter() -> DefaultBookingAdapter:
    from .conf import booking_settings

    return booking_settings.ADAPTER()
