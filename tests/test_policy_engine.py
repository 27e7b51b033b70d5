"""The rule list is the host's extension point, shaped like AUTH_PASSWORD_VALIDATORS."""

import pytest
from django.test import override_settings

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import PolicyViolation
from django_liveclass_booking.models import get_booking_model
from django_liveclass_booking.policy import Rule, Violation

pytestmark = pytest.mark.django_db

CREDITS = {}


class HasLessonCredits(Rule):
    """A host rule: a student needs ``min_credits`` lesson credits to book (kept by the host)."""

    def check(self, request):
        needed = self.options.get("min_credits", 1)
        have = CREDITS.get(request.student.username, 0)
        if have < needed:
            return [Violation("no_credits", f"You need {needed} lesson credit(s); you have {have}.",
                              {"needed": needed, "have": have})]
        return []


class WeekendNeedsApproval(Rule):
    def requires_approval(self, request):
        return request.start.weekday() >= 5


RULES = [
    {"NAME": "django_liveclass_booking.policy.rules.ApprovalModeRule"},
    {"NAME": "tests.test_policy_engine.HasLessonCredits", "OPTIONS": {"min_credits": 2}},
]


@pytest.fixture(autouse=True)
def _credits():
    CREDITS.clear()
    yield
    CREDITS.clear()


@override_settings(LIVECLASS_BOOKING={"POLICY_RULES": RULES})
def test_a_host_rule_refuses_with_its_own_code_and_nothing_is_written(session, student, now):
    with pytest.raises(PolicyViolation) as exc:
        services.book_seat(student, session, now=now)
    assert exc.value.codes == ["no_credits"]
    assert exc.value.violations[0].params == {"needed": 2, "have": 0}
    assert "lesson credit" in str(exc.value)
    session.refresh_from_db()
    assert session.seats_taken == 0
    assert not get_booking_model().objects.exists()


@override_settings(LIVECLASS_BOOKING={"POLICY_RULES": RULES})
def test_a_host_rule_lets_the_booking_through_when_satisfied(session, student, now):
    CREDITS[student.username] = 2
    assert services.book_seat(student, session, now=now).status == "confirmed"


class AlwaysRefuses(Rule):
    def check(self, request):
        return [Violation("blocked", "Blocked by the platform.")]


@override_settings(LIVECLASS_BOOKING={"POLICY_RULES": [
    *RULES, {"NAME": "tests.test_policy_engine.AlwaysRefuses"},
]})
def test_every_violation_is_collected_not_just_the_first(session, student, now):
    decision = services.check_booking(student, session=session, now=now)
    assert decision.codes == ["no_credits", "blocked"]
    with pytest.raises(PolicyViolation) as exc:
        services.book_seat(student, session, now=now)
    assert exc.value.codes == ["no_credits", "blocked"]
    assert exc.value.code == "no_credits"


@override_settings(LIVECLASS_BOOKING={"POLICY_RULES": [{"NAME": "tests.test_policy_engine.WeekendNeedsApproval"}]})
def test_a_host_rule_can_require_approval(make_session, student, now):
    saturday = make_session(start=now.replace(day=9, hour=10))  # 2026-05-09 is a Saturday
    decision = services.check_booking(student, session=saturday, now=now)
    assert decision.allowed and decision.requires_approval
    assert decision.approval_reasons == ["WeekendNeedsApproval"]
    assert services.book_seat(student, saturday, now=now).status == "pending"
