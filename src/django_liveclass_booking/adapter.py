"""The adapter: hooks a host overrides by subclassing and naming its class in ``LIVECLASS_BOOKING["ADAPTER"]``."""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any

from django.utils import timezone

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.contrib.auth.models import AbstractBaseUser

    from .models import AbstractLiveClassBooking, AbstractLiveClassSession

MANAGE_BOOKINGS_PERMISSION = "liveclass_booking.manage_bookings"


class DefaultBookingAdapter:
    """Default behaviour; every method is a hook a host may override."""

    def now(self) -> dt.datetime:
        """The current time. Hosts with a simulated clock (demos, tests) override it."""
        return timezone.now()

    def get_user_timezone(self, user: AbstractBaseUser) -> str | None:
        """IANA name of the user's timezone, if the host knows it (e.g. from a profile)."""
        return getattr(user, "timezone", None) or None

    def is_staff_manager(self, actor: AbstractBaseUser) -> bool:
        """Whether ``actor`` may manage every booking (staff tooling, support agents)."""
        return bool(getattr(actor, "is_active", False) and actor.has_perm(MANAGE_BOOKINGS_PERMISSION))

    def is_teacher(self, user: AbstractBaseUser) -> bool:
        """Who may open the teacher pages of the optional views.

        Default: a user with a booking policy (created by ``set_policy`` or the admin, or the first
        time someone books them) or a booking manager. Hosts with a teacher role override it.
        """
        from .models import TeacherBookingPolicy

        return self.is_staff_manager(user) or TeacherBookingPolicy.objects.filter(teacher_id=user.pk).exists()

    def can_manage_session(self, actor: AbstractBaseUser, session: AbstractLiveClassSession) -> bool:
        """Who may cancel a session: its teacher or a manager."""
        return actor.pk == session.teacher_id or self.is_staff_manager(actor)

    def can_decide_booking(self, actor: AbstractBaseUser, booking: AbstractLiveClassBooking) -> bool:
        """Who may confirm or decline a booking: the teacher or a manager (never the student alone)."""
        return actor.pk == booking.teacher_id or self.is_staff_manager(actor)

    def can_cancel_booking(self, actor: AbstractBaseUser, booking: AbstractLiveClassBooking) -> bool:
        """Who may cancel a booking: the student, the teacher, or a manager."""
        return actor.pk in (booking.student_id, booking.teacher_id) or self.is_staff_manager(actor)

    def format_error_message(self, code: str, params: Mapping[str, Any], default: str) -> str:
        """The message shown for a refusal with ``code``; ``default`` is the app's, in the active language.

        Called each time an error's or violation's message is read. Override it to reword some codes
        (e.g. with your own translations); return ``default`` for the rest.
        """
        return default


@functools.cache
def get_adapter() -> Any:
    from .conf import booking_settings

    return booking_settings.ADAPTER()
