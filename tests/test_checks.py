import io
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connections
from django.db.utils import ConnectionHandler
from django.test import override_settings

from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.checks import (
    check_booking_settings,
    check_sqlite_transaction_mode,
    check_swapped_models,
    check_use_tz,
)
from django_liveclass_booking.policy import Rule

# Newer Django runs the model checks of a plain ``check`` against every database (asking each for its
# features), so the tests that run it may touch the test database.
pytestmark = pytest.mark.django_db


def ids(messages):
    return [m.id for m in messages]


def test_use_tz_is_required():
    with override_settings(USE_TZ=False):
        assert ids(check_use_tz()) == ["liveclass_booking.E001"]
    assert check_use_tz() == []


def test_sqlite_without_immediate_transactions_warns(monkeypatch):
    monkeypatch.setitem(connections.settings, "legacy", {"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {}})
    monkeypatch.setitem(connections.settings, "fine",
                        {"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {"transaction_mode": "IMMEDIATE"}})
    warnings = check_sqlite_transaction_mode()
    assert ids(warnings) == ["liveclass_booking.W001"]
    assert "'legacy'" in warnings[0].msg


def test_the_test_databases_pass_the_check():
    assert check_sqlite_transaction_mode() == []


def test_a_swapped_model_must_subclass_the_abstract_model():
    with override_settings(LIVECLASS_BOOKING_SESSION_MODEL="auth.Group"):
        errors = check_swapped_models()
    assert ids(errors) == ["liveclass_booking.E002"]
    assert "does not subclass AbstractLiveClassSession" in errors[0].msg


def test_a_swapped_model_that_does_not_exist_is_an_error():
    with override_settings(LIVECLASS_BOOKING_BOOKING_MODEL="nowhere.Booking"):
        errors = check_swapped_models()
    assert ids(errors) == ["liveclass_booking.E003"]
    assert "has not been installed" in errors[0].msg


def test_a_malformed_swapped_model_setting_is_an_error():
    with override_settings(LIVECLASS_BOOKING_BOOKING_MODEL="Booking"):
        errors = check_swapped_models()
    assert "app_label.model_name" in errors[0].msg


def test_the_configured_models_pass():
    assert check_swapped_models() == []


# --- what a plain ``manage.py check`` reports ---------------------------------------------------


def run_check() -> str:
    """The output of ``manage.py check``, whether it passes (warnings) or fails (errors)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check", stdout=out, stderr=err)
    except SystemCheckError as exc:
        return str(exc)
    return out.getvalue() + err.getvalue()


def test_the_plain_check_passes_with_the_test_settings():
    assert "no issues" in run_check()


class KeepsModelsOffLegacy:
    """Models are never migrated to the ``legacy`` alias, so no check opens a connection to it."""

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool | None:
        return False if db == "legacy" else None


def test_the_plain_check_warns_about_sqlite_without_immediate_transactions(monkeypatch):
    monkeypatch.setitem(connections.settings, "legacy", {"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {}})
    # Newer Django passes every alias to the model checks, which ask each database the models live on.
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.KeepsModelsOffLegacy"]):
        output = run_check()
    assert "liveclass_booking.W001" in output
    assert "SQLite database 'legacy' does not use transaction_mode IMMEDIATE" in output


def test_the_sqlite_check_reads_settings_without_opening_a_connection(monkeypatch):
    monkeypatch.setitem(connections.settings, "legacy", {"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {}})
    with mock.patch.object(ConnectionHandler, "__getitem__", side_effect=AssertionError("a connection was asked for")):
        assert ids(check_sqlite_transaction_mode()) == ["liveclass_booking.W001"]


def test_a_mistyped_key_is_reported_with_the_closest_known_key():
    with override_settings(LIVECLASS_BOOKING={"SLOT_STEP": 5}):
        output = run_check()
    assert "liveclass_booking.E005" in output
    assert "LIVECLASS_BOOKING has an unknown key 'SLOT_STEP'." in output
    assert "HINT: Did you mean 'SLOT_STEP_MINUTES'?" in output


def test_a_lowercase_key_is_matched_to_its_known_spelling():
    with override_settings(LIVECLASS_BOOKING={"adapter": "x.Y"}):
        errors = check_booking_settings()
    assert ids(errors) == ["liveclass_booking.E005"]
    assert errors[0].hint == "Did you mean 'ADAPTER'?"


def test_an_unknown_key_like_no_known_one_lists_the_known_keys():
    with override_settings(LIVECLASS_BOOKING={"COLOUR": "blue"}):
        (error,) = check_booking_settings()
    assert error.hint.startswith("The known keys are ADAPTER, DEFAULT_POLICY,")


def test_a_setting_that_is_not_a_dict_is_reported():
    with override_settings(LIVECLASS_BOOKING=["SLOT_STEP_MINUTES"]):
        output = run_check()
    assert "liveclass_booking.E004" in output and "LIVECLASS_BOOKING must be a dict, not list." in output


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"SLOT_STEP_MINUTES": 0}, "LIVECLASS_BOOKING['SLOT_STEP_MINUTES'] must be a positive integer, not 0."),
        ({"MAX_OCCURRENCES": "104"}, "LIVECLASS_BOOKING['MAX_OCCURRENCES'] must be a positive integer, not '104'."),
        ({"REQUIRE_AVAILABILITY": "yes"}, "LIVECLASS_BOOKING['REQUIRE_AVAILABILITY'] must be True or False"),
        ({"ADAPTER": "nowhere.Adapter"}, "LIVECLASS_BOOKING['ADAPTER'] could not import 'nowhere.Adapter'"),
        ({"DEFAULT_POLICY": {"approval": "manual"}}, "LIVECLASS_BOOKING['DEFAULT_POLICY'] has unknown fields"),
        ({"DEFAULT_POLICY": {"timezone": "Mars/Base"}}, "timezone: Mars/Base is not a known IANA timezone"),
        ({"POLICY_RULES": "x.Rule"}, "LIVECLASS_BOOKING['POLICY_RULES'] must be a list"),
        ({"NOTIFICATIONS": {"ENABLED": "yes"}}, "LIVECLASS_BOOKING['NOTIFICATIONS'] ENABLED must be True or False"),
        ({"NOTIFICATIONS": {"REMINDER_MINUTES": [60]}}, "LIVECLASS_BOOKING['NOTIFICATIONS'] has unknown keys"),
        ({"NOTIFICATIONS": {"REMINDERS_MINUTES": [0]}}, "REMINDERS_MINUTES must be a list of minutes"),
        ({"NOTIFICATIONS": {"SITE_URL": "school.example"}}, "SITE_URL must be an absolute http(s) address"),
        ({"ICS_UID_DOMAIN": "a b"}, "LIVECLASS_BOOKING['ICS_UID_DOMAIN'] must be a domain name"),
        ({"POLICY_RULES": [{"OPTIONS": {}}]}, "needs a 'NAME'"),
        ({"POLICY_RULES": [{"NAME": "nowhere.Rule"}]}, "the rule 'nowhere.Rule' cannot be loaded"),
        ({"POLICY_RULES": [{"NAME": "tests.test_checks.LimitRule", "OPTIONS": ["limit"]}]},
         "the rule 'tests.test_checks.LimitRule' cannot be loaded"),
    ],
)
def test_an_invalid_value_is_reported_by_the_plain_check(value, fragment):
    with override_settings(LIVECLASS_BOOKING=value):
        output = run_check()
    assert "liveclass_booking.E006" in output
    assert fragment in output


class LimitRule(Rule):
    def __init__(self, *, limit: int) -> None:
        super().__init__(limit=limit)


def test_a_rule_that_refuses_its_options_is_reported():
    rules = [{"NAME": "tests.test_checks.LimitRule", "OPTIONS": {"credits": 3}}]
    with override_settings(LIVECLASS_BOOKING={"POLICY_RULES": rules}):
        errors = check_booking_settings()
    assert ids(errors) == ["liveclass_booking.E006"]
    assert "unexpected keyword argument 'credits'" in errors[0].msg


def test_every_bad_key_is_reported_at_once():
    with override_settings(LIVECLASS_BOOKING={"SLOT_STEP": 5, "MAX_OCCURRENCES": 0, "REQUIRE_AVAILABILITY": 1}):
        errors = check_booking_settings()
    assert ids(errors) == ["liveclass_booking.E005", "liveclass_booking.E006", "liveclass_booking.E006"]


def test_valid_settings_pass():
    value = {"SLOT_STEP_MINUTES": 30, "DEFAULT_POLICY": {"approval_mode": "manual"}, "ADAPTER": DefaultBookingAdapter,
             "POLICY_RULES": [{"NAME": "django_liveclass_booking.policy.rules.MinNoticeRule"}]}
    with override_settings(LIVECLASS_BOOKING=value):
        assert check_booking_settings() == []
