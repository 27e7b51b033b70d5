"""Built-in policy rules, one per TeacherBookingPolicy field. Each reads the policy from the request.

The counting rules (daily, weekly, pending) share one aggregate query per request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .engine import BookingRequest, Rule, Violation


class ApprovalModeRule(Rule):
    """``approval_mode``: auto, manual, or manual for students with no confirmed booking with this teacher."""

    def requires_approval(self, request: BookingRequest) -> bool:
        from ..models import ApprovalMode, BookingStatus, get_booking_model
        from ..services._engine import db

        mode = request.policy.approval_mode
        if mode == ApprovalMode.MANUAL:
            return True
        if mode == ApprovalMode.MANUAL_FOR_NEW_STUDENTS:
            known = request.cached(
                "student_known",
                # On the booking database, inside the booking's transaction: never a replica's stale copy.
                lambda: get_booking_model()
                .objects.using(db.alias())
                .filter(student=request.student, teacher_id=request.teacher_id, status=BookingStatus.CONFIRMED)
                .exists(),
            )
            return not known
        return False


class MinNoticeRule(Rule):
    """``min_notice_minutes``: a booking must start at least this long after now."""

    def check(self, request: BookingRequest) -> list[Violation]:
        notice = request.policy.min_notice_minutes or 0
        earliest = request.now + dt.timedelta(minutes=notice)
        if request.start < earliest:
            return [Violation("min_notice", params={"min_notice_minutes": notice, "earliest": earliest.isoformat()})]
        return []


class MaxAdvanceRule(Rule):
    """``max_advance_days``: a booking may start at most this many days ahead."""

    def check(self, request: BookingRequest) -> list[Violation]:
        days = request.policy.max_advance_days
        if days is None:
            return []
        latest = request.now + dt.timedelta(days=days)
        if request.start > latest:
            return [Violation("max_advance", params={"max_advance_days": days, "latest": latest.isoformat()})]
        return []


_Span = tuple[dt.datetime, dt.datetime]


def local_day_and_week(start: dt.datetime, tz_name: str) -> tuple[_Span, _Span]:
    """The UTC bounds of the local day and the local week (from Monday) that contain ``start``.

    Bounds are local midnights, so a day is 23 or 25 hours long on a DST change, as the teacher lives it.
    """
    # Imported here: the policy engine loads before the services, and the one zone parser is the engine's.
    from ..services._engine.timezones import zone as parse_zone

    zone = parse_zone(tz_name)
    day = start.astimezone(zone).date()
    monday = day - dt.timedelta(days=day.weekday())

    def midnight(date: dt.date) -> dt.datetime:
        return dt.datetime.combine(date, dt.time(0), tzinfo=zone).astimezone(dt.UTC)

    day_span = (midnight(day), midnight(day + dt.timedelta(days=1)))
    return day_span, (midnight(monday), midnight(monday + dt.timedelta(days=7)))


def student_counts(request: BookingRequest) -> dict[str, int]:
    """The student's live bookings with this teacher on the request's local day and week, and pending ones."""

    def compute() -> dict[str, int]:
        from django.db.models import Count, Q

        from ..models import BookingStatus, get_booking_model
        from ..models.bookings import live_at
        from ..services._engine import db

        (day_start, day_end), (week_start, week_end) = local_day_and_week(request.start, request.policy.timezone)
        # Counted on the booking database, inside the booking's transaction under the teacher lock:
        # a read replica's count could lag behind a booking just made and let the limit be passed.
        bookings = get_booking_model().objects.using(db.alias()).filter(
            live_at(request.now), student=request.student, teacher_id=request.teacher_id)
        if request.moving is not None:
            bookings = bookings.exclude(pk=request.moving.pk)
        counts = (
            bookings.aggregate(
                day=Count("pk", filter=Q(start_at_utc__gte=day_start, start_at_utc__lt=day_end)),
                week=Count("pk", filter=Q(start_at_utc__gte=week_start, start_at_utc__lt=week_end)),
                pending=Count("pk", filter=Q(status=BookingStatus.PENDING)),
            )
        )
        # A series books its occurrences at once: those count against the limits too.
        for start, _end in request.planned:
            counts["day"] += day_start <= start < day_end
            counts["week"] += week_start <= start < week_end
        return counts

    return request.cached("student_counts", compute)


class _LimitRule(Rule):
    field: str
    count_key: str
    code: str

    def check(self, request: BookingRequest) -> list[Violation]:
        limit = getattr(request.policy, self.field)
        if limit is None:
            return []
        have = student_counts(request)[self.count_key]
        if have >= limit:
            return [Violation(self.code, params={"limit": limit, "count": have})]
        return []


class DailyLimitRule(_LimitRule):
    """``max_bookings_per_day``: per student with this teacher, per day in the teacher's timezone."""

    field, count_key, code = "max_bookings_per_day", "day", "daily_limit"


class WeeklyLimitRule(_LimitRule):
    """``max_bookings_per_week``: per student with this teacher, per week (from Monday) in the teacher's timezone."""

    field, count_key, code = "max_bookings_per_week", "week", "weekly_limit"


class MaxPendingRule(_LimitRule):
    """``max_pending_requests``: how many requests a student may have waiting for this teacher's answer.

    Only a booking that would itself wait for an answer is refused; one confirmed at once is not.
    """

    field, count_key, code = "max_pending_requests", "pending", "max_pending"

    def check(self, request: BookingRequest) -> list[Violation]:
        return super().check(request) if request.requires_approval else []


class LessonDurationRule(Rule):
    """``lesson_durations``: the lengths a 1:1 lesson may have (empty: any)."""

    def check(self, request: BookingRequest) -> list[Violation]:
        from ..models import SessionKind

        allowed: list[Any] = request.policy.lesson_durations or []
        if request.kind != SessionKind.ONE_ON_ONE or not allowed or request.duration_minutes in allowed:
            return []
        return [Violation("duration_not_allowed",
                          params={"duration_minutes": request.duration_minutes, "allowed": sorted(allowed)})]
