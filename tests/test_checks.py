from django.db import connections
from django.test import override_settings

from django_liveclass_booking.checks import check_sqlite_transaction_mode, check_swapped_models, check_use_tz


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
