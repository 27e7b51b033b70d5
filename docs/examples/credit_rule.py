"""Two host policy rules (``docs/extending.rst``): lesson credits, and approval at weekends."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.utils.module_loading import import_string

from django_liveclass_booking.policy import BookingRequest, Rule, Violation


class HasLessonCredits(Rule):
    """Refuse a booking unless the student holds enough lesson credits.

    OPTIONS: ``balance``, the dotted path of a function ``balance(student) -> int`` that reads the
    host's own records, and ``min_credits`` (default 1).
    """

    def __init__(self, *, balance: str, min_credits: int = 1) -> None:
        super().__init__(balance=balance, min_credits=min_credits)
        self.balance = import_string(balance)
        self.min_credits = min_credits

    def check(self, request: BookingRequest) -> list[Violation]:
        # Cached on the request: other rules asking for the balance reuse this one query.
        have = request.cached("credits:balance", lambda: self.balance(request.student))
        if have >= self.min_credits:
            return []
        return [Violation(
            "no_credits",
            f"You need {self.min_credits} lesson credit(s) to book; you have {have}.",
            {"needed": self.min_credits, "have": have},
        )]


class WeekendNeedsApproval(Rule):
    """A booking that starts on a Saturday or Sunday, in the teacher's timezone, waits for the teacher."""

    def requires_approval(self, request: BookingRequest) -> bool:
        local_start = request.start.astimezone(zoneinfo.ZoneInfo(request.policy.timezone))
        return local_start.weekday() >= 5


RULES: list[dict[str, Any]] = [
    {"NAME": "django_liveclass_booking.policy.rules.ApprovalModeRule"},
    {"NAME": "django_liveclass_booking.policy.rules.MinNoticeRule"},
    {"NAME": "django_liveclass_booking.policy.rules.MaxAdvanceRule"},
    {"NAME": "django_liveclass_booking.policy.rules.DailyLimitRule"},
    {"NAME": "django_liveclass_booking.policy.rules.WeeklyLimitRule"},
    {"NAME": "django_liveclass_booking.policy.rules.MaxPendingRule"},
    {"NAME": "django_liveclass_booking.policy.rules.LessonDurationRule"},
    {"NAME": "credits.policy.HasLessonCredits",
     "OPTIONS": {"balance": "credits.wallet.balance", "min_credits": 2}},
    {"NAME": "credits.policy.WeekendNeedsApproval"},
]
