"""Every refusal's message comes from one registry, rendered when read, and a host may reword it."""

from __future__ import annotations

import pickle
import re
from typing import Any

import pytest
from django.test import override_settings
from django.utils import translation
from django.utils.functional import Promise

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.errors import ERROR_CODES, GENERIC_CODE, error_codes, message_for
from django_liveclass_booking.exceptions import BookingError, InvalidTransition, PolicyViolation, SessionFull
from django_liveclass_booking.policy import Violation

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class RewordingAdapter(DefaultBookingAdapter):
    def format_error_message(self, code: str, params: Any, default: str) -> str:
        if code == "session_full":
            return "Sold out: every seat of this class is taken."
        return default


class LanguageTaggingAdapter(DefaultBookingAdapter):
    def format_error_message(self, code: str, params: Any, default: str) -> str:
        return f"[{translation.get_language()}] {default}"


# --- the registry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_message_is_marked_for_translation(code):
    entry = ERROR_CODES[code]
    assert isinstance(entry.message, Promise)
    assert entry.fallback is None or isinstance(entry.fallback, Promise)


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_a_message_with_placeholders_has_a_fallback_without_them(code):
    entry = ERROR_CODES[code]
    if PLACEHOLDER.search(str(entry.message)):
        assert entry.fallback is not None and not PLACEHOLDER.search(str(entry.fallback))
        assert message_for(code, {}) == str(entry.fallback)
    else:
        assert message_for(code, {}) == str(entry.message)


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_code_is_listed_in_a_reference_table(code):
    assert code in {entry.code for kind in ("service", "validation", "http") for entry in error_codes(kind)}


def test_an_unknown_table_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        error_codes("admin")


def test_params_fill_the_placeholders():
    assert message_for("min_notice", {"min_notice_minutes": 90, "earliest": "x"}) == (
        "Bookings with this teacher need 90 minutes' notice; pick a later time.")


def test_a_missing_param_falls_back_to_the_message_without_it():
    assert message_for("invalid_transition", {"from": "expired"}) == (
        "That status change is not allowed; reload the page to see the current status.")


def test_a_list_param_reads_as_a_list():
    assert message_for("duration_not_allowed", {"allowed": [30, 60]}) == (
        "This teacher offers lessons of 30, 60 minutes; pick one of those lengths.")


def test_an_unknown_code_gets_the_generic_message():
    assert message_for("no_such_code", {"x": 1}) == str(ERROR_CODES[GENERIC_CODE].message)


# --- errors and violations ----------------------------------------------------------------------


def test_a_registered_code_takes_the_registry_message_over_the_given_text():
    error = BookingError("Old wording.", code="session_closed", params={"session": 3})
    assert str(error) == error.message == "This session is cancelled or has already started; pick another session."


def test_an_unregistered_code_keeps_the_given_text():
    error = BookingError("Your subscription has lapsed.", code="subscription_lapsed")
    assert (error.code, str(error)) == ("subscription_lapsed", "Your subscription has lapsed.")


def test_an_error_without_code_or_text_has_the_generic_code_and_message():
    error = BookingError()
    assert (error.code, error.message) == (GENERIC_CODE, str(ERROR_CODES[GENERIC_CODE].message))


def test_a_subclass_brings_its_code_and_message():
    error = SessionFull(params={"session": 1, "capacity": 4})
    assert error.code == "session_full"
    assert str(error) == message_for("session_full")


def test_a_host_subclass_with_its_own_code_uses_its_default_message():
    class CreditsExhausted(BookingError):
        default_code = "credits_exhausted"
        default_message = "Buy more credits to book."

    assert (CreditsExhausted().code, str(CreditsExhausted())) == ("credits_exhausted", "Buy more credits to book.")


def test_params_reach_the_message():
    error = InvalidTransition(params={"from": "expired", "to": "confirmed"})
    assert str(error) == "This cannot change from expired to confirmed; reload the page to see its current status."
    assert error.params == {"from": "expired", "to": "confirmed"}


def test_a_policy_violation_joins_the_messages_of_its_violations():
    error = PolicyViolation([Violation("daily_limit", "", {"limit": 2, "count": 2}),
                             Violation("no_credits", "You need a lesson credit.")])
    assert str(error) == (
        "Your bookings with this teacher that day: 2, at most 2 allowed. Pick another day.; "
        "You need a lesson credit.")
    assert (error.code, error.params, error.codes) == ("daily_limit", {"limit": 2, "count": 2},
                                                       ["daily_limit", "no_credits"])


def test_a_policy_violation_without_violations_has_its_own_message():
    error = PolicyViolation([])
    assert (error.code, str(error)) == ("policy_violation", message_for("policy_violation"))


def test_a_violation_of_a_registered_code_takes_the_registry_message():
    violation = Violation("max_advance", "Old wording.", {"max_advance_days": 14})
    assert violation.message == "This teacher takes bookings at most 14 days ahead; pick an earlier time."


def test_a_violation_of_a_host_code_keeps_its_text():
    assert Violation("no_credits", "You need a lesson credit.").message == "You need a lesson credit."


def test_a_violation_is_immutable():
    violation = Violation("min_notice", params={"min_notice_minutes": 5})
    with pytest.raises(AttributeError):
        violation.code = "other"


def test_an_error_survives_pickling_with_its_violations():
    error = PolicyViolation([Violation("min_notice", params={"min_notice_minutes": 5})])
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.code, copy.params, copy.violations) == (
        PolicyViolation, "min_notice", {"min_notice_minutes": 5}, error.violations)
    assert str(copy) == str(error)


def test_the_repr_names_the_code_and_the_message():
    assert repr(SessionFull()) == f"SessionFull(code='session_full', message={message_for('session_full')!r})"


# --- rendering and the adapter hook --------------------------------------------------------------


@override_settings(LIVECLASS_BOOKING={"ADAPTER": "tests.test_errors.LanguageTaggingAdapter"})
def test_the_message_is_rendered_in_the_language_active_when_it_is_read():
    with translation.override("es"):
        error = SessionFull()
        violation = Violation("min_notice", params={"min_notice_minutes": 5})
    with translation.override("de"):
        assert str(error).startswith("[de] ")
        assert violation.message.startswith("[de] ")


@override_settings(LIVECLASS_BOOKING={"ADAPTER": "tests.test_errors.RewordingAdapter"})
@pytest.mark.django_db
def test_a_host_adapter_rewords_one_message(make_session, student, other_student, now):
    session = make_session(capacity=1)
    services.book_seat(other_student, session, now=now)
    with pytest.raises(SessionFull) as exc:
        services.book_seat(student, session, now=now)
    assert str(exc.value) == "Sold out: every seat of this class is taken."
    assert exc.value.code == "session_full"
    assert str(BookingError(code="session_closed")) == message_for("session_closed")


@override_settings(LIVECLASS_BOOKING={"ADAPTER": "tests.test_errors.RewordingAdapter"})
@pytest.mark.django_db
def test_check_booking_reports_the_reworded_message(make_session, student, other_student, now):
    session = make_session(capacity=1)
    services.book_seat(other_student, session, now=now)
    decision = services.check_booking(student, session=session, now=now)
    assert [v.message for v in decision.violations] == ["Sold out: every seat of this class is taken."]
