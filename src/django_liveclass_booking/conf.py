"""The one settings object: ``LIVECLASS_BOOKING`` with defaults, validation and reload.

Hosts configure the app with one dict in their settings::

    LIVECLASS_BOOKING = {
        "POLICY_RULES": [...],
        "DEFAULT_POLICY": {"approval_mode": "manual"},
    }

``booking_settings.X`` reads a key; a bad value raises ``ImproperlyConfigured`` naming the key.
The object reloads itself when a test changes settings (``setting_changed``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

SETTING_NAME = "LIVECLASS_BOOKING"
SESSION_MODEL_SETTING = "LIVECLASS_BOOKING_SESSION_MODEL"
BOOKING_MODEL_SETTING = "LIVECLASS_BOOKING_BOOKING_MODEL"
DEFAULT_SESSION_MODEL = "liveclass_booking.LiveClassSession"
DEFAULT_BOOKING_MODEL = "liveclass_booking.LiveClassBooking"

#: Field values of a teacher's policy when the teacher has no TeacherBookingPolicy row yet.
POLICY_DEFAULTS: dict[str, Any] = {
    "timezone": "UTC",
    "approval_mode": "auto",
    "min_notice_minutes": 0,
    "max_advance_days": None,
    "max_bookings_per_day": None,
    "max_bookings_per_week": None,
    "max_pending_requests": None,
    "request_ttl_hours": 48,
    "cancellation_cutoff_hours": 0,
    "allow_late_cancellation": True,
    "buffer_minutes": 0,
    "lesson_durations": [],
    "allow_recurring": True,
    "max_series_occurrences": None,
    "waitlist_enabled": True,
    "waitlist_offer_ttl_minutes": 60,
}

DEFAULTS: dict[str, Any] = {
    # Rules the policy engine runs for every booking, shaped like AUTH_PASSWORD_VALIDATORS.
    "POLICY_RULES": [
        {"NAME": f"django_liveclass_booking.policy.rules.{name}"}
        for name in (
            "ApprovalModeRule", "MinNoticeRule", "MaxAdvanceRule", "DailyLimitRule", "WeeklyLimitRule",
            "MaxPendingRule", "LessonDurationRule",
        )
    ],
    # Class with now(), user timezone, permission and notification hooks.
    "ADAPTER": "django_liveclass_booking.adapter.DefaultBookingAdapter",
    # Overrides of POLICY_DEFAULTS for teachers without a policy row.
    "DEFAULT_POLICY": {},
    # Grid of 1:1 lesson start times offered by available_slots().
    "SLOT_STEP_MINUTES": 15,
    # Hard cap on the occurrences one recurrence rule may produce.
    "MAX_OCCURRENCES": 104,
    # True: 1:1 lessons only inside each teacher's availability windows (a teacher with none offers
    # none). False: windows are ignored and any time is requestable.
    "REQUIRE_AVAILABILITY": True,
    # Hours after a lesson's end during which its outcome may be recorded or corrected; after that
    # process_due() marks a still-confirmed booking completed.
    "OUTCOME_WINDOW_HOURS": 72,
    # The outbox: who is told what, by email unless the adapter's send_notification says otherwise.
    # Keys left out keep the values of NOTIFICATION_DEFAULTS.
    "NOTIFICATIONS": {},
    # Right-hand side of every iCalendar UID (feeds and invitations alike): a domain of the host's, so
    # calendar clients never mix its events with another site's.
    "ICS_UID_DOMAIN": "liveclass-booking",
    # Hours the HTTP API keeps the answer to a request sent with an Idempotency-Key; process_due()
    # deletes older keys, after which a retry with the same key is a new request.
    "IDEMPOTENCY_KEY_HOURS": 24,
    # PostgreSQL: the booking's one statement is PREPAREd once per connection and then only EXECUTEd,
    # so the server neither parses nor plans it again for every seat. False: always sent whole.
    "PREPARE_STATEMENTS": True,
}

#: Values of ``NOTIFICATIONS`` keys a host leaves out.
NOTIFICATION_DEFAULTS: dict[str, Any] = {
    # Off by default: a host turns it on once its email backend is set up.
    "ENABLED": False,
    # Reminders before each confirmed booking's start, in minutes; an offset already past when the
    # booking is made (or moved) is skipped.
    "REMINDERS_MINUTES": [1440, 60],
    # Sender address; None: Django's DEFAULT_FROM_EMAIL.
    "FROM_EMAIL": None,
    # Absolute address of the site (e.g. "https://school.example"), for links in the messages to the
    # optional pages; None: messages carry no links.
    "SITE_URL": None,
    # The site's name in the messages' footer.
    "SITE_NAME": "",
    # Send a change's messages right after its commit (in the same process) rather than leaving them
    # all to the next process_due() run.
    "DELIVER_ON_COMMIT": True,
}

IMPORT_STRINGS = {"ADAPTER"}
BOOLEANS = {"REQUIRE_AVAILABILITY", "PREPARE_STATEMENTS"}
POSITIVE_INTS = {"SLOT_STEP_MINUTES", "MAX_OCCURRENCES", "OUTCOME_WINDOW_HOURS", "IDEMPOTENCY_KEY_HOURS"}


def _improperly(key: str, problem: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{SETTING_NAME}[{key!r}] {problem}")


def _merged(key: str, value: Any, defaults: dict[str, Any], shape: str, names: str) -> dict[str, Any]:
    """A dict setting's value over its defaults; ``ImproperlyConfigured`` for another type or an unknown key."""
    if not isinstance(value, dict):
        raise _improperly(key, f"must be {shape}.")
    unknown = sorted(set(value) - set(defaults))
    if unknown:
        raise _improperly(key, f"has unknown {names} {unknown}; known {names}: {sorted(defaults)}.")
    return {**defaults, **value}


class BookingSettings:
    """Lazy, validated view of ``settings.LIVECLASS_BOOKING`` merged over ``DEFAULTS``."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}
        self._user: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        if self._user is None:
            value = getattr(settings, SETTING_NAME, {}) or {}
            if not isinstance(value, dict):
                raise ImproperlyConfigured(f"{SETTING_NAME} must be a dict, not {type(value).__name__}.")
            unknown = sorted(set(value) - set(DEFAULTS))
            if unknown:
                raise ImproperlyConfigured(
                    f"{SETTING_NAME} has unknown keys {unknown}; known keys: {sorted(DEFAULTS)}."
                )
            self._user = value
        return self._user

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key not in DEFAULTS:
            raise AttributeError(f"Invalid {SETTING_NAME} setting: {key!r}")
        if key not in self._cache:
            self._cache[key] = self.validate(key, self.user_settings.get(key, DEFAULTS[key]))
        return self._cache[key]

    def validate(self, key: str, value: Any) -> Any:
        """``value`` as the app uses it for ``key``; ``ImproperlyConfigured`` naming the key if it is unusable."""
        if key in IMPORT_STRINGS:
            if isinstance(value, str):
                try:
                    return import_string(value)
                except ImportError as exc:
                    raise _improperly(key, f"could not import {value!r}: {exc}") from exc
            return value
        if key in POSITIVE_INTS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise _improperly(key, f"must be a positive integer, not {value!r}.")
            return value
        if key == "NOTIFICATIONS":
            return self._notifications(value)
        if key == "ICS_UID_DOMAIN":
            if not isinstance(value, str) or not value or any(c in value for c in " @\r\n\t"):
                raise _improperly(key, f"must be a domain name such as 'school.example', not {value!r}.")
            return value
        if key in BOOLEANS:
            if not isinstance(value, bool):
                raise _improperly(key, f"must be True or False, not {value!r}.")
            return value
        if key == "DEFAULT_POLICY":
            merged = _merged(key, value, POLICY_DEFAULTS, "a dict of TeacherBookingPolicy field values", "fields")
            self._check_policy_values(merged)
            return merged
        if key == "POLICY_RULES":
            if not isinstance(value, (list, tuple)):
                raise _improperly(key, "must be a list of {'NAME': ..., 'OPTIONS': {...}} dicts.")
            for entry in value:
                if not isinstance(entry, dict) or "NAME" not in entry:
                    raise _improperly(key, f"entry {entry!r} needs a 'NAME' (dotted path of a rule class).")
            return list(value)
        return value

    @staticmethod
    def _notifications(value: Any) -> dict[str, Any]:
        key = "NOTIFICATIONS"
        merged = _merged(key, value, NOTIFICATION_DEFAULTS, "a dict such as {'ENABLED': True}", "keys")
        for name in ("ENABLED", "DELIVER_ON_COMMIT"):
            if not isinstance(merged[name], bool):
                raise _improperly(key, f"{name} must be True or False, not {merged[name]!r}.")
        offsets = merged["REMINDERS_MINUTES"]
        if not isinstance(offsets, (list, tuple)) or any(
                not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= 60 * 24 * 60 for m in offsets):
            raise _improperly(key, f"REMINDERS_MINUTES must be a list of minutes from 1 to 86400, not {offsets!r}.")
        merged["REMINDERS_MINUTES"] = sorted(set(offsets), reverse=True)
        for name in ("FROM_EMAIL", "SITE_URL"):
            if merged[name] is not None and (not isinstance(merged[name], str) or not merged[name]):
                raise _improperly(key, f"{name} must be a non-empty string or None, not {merged[name]!r}.")
        site = merged["SITE_URL"]
        if site is not None and not site.startswith(("https://", "http://")):
            raise _improperly(key, f"SITE_URL must be an absolute http(s) address, not {site!r}.")
        if site is not None:
            merged["SITE_URL"] = site.rstrip("/")
        if not isinstance(merged["SITE_NAME"], str):
            raise _improperly(key, f"SITE_NAME must be a string, not {merged['SITE_NAME']!r}.")
        return merged

    @staticmethod
    def _check_policy_values(values: dict[str, Any]) -> None:
        from django.core.exceptions import ValidationError

        from .models import TeacherBookingPolicy

        try:
            TeacherBookingPolicy(**values).full_clean(exclude=["teacher"], validate_unique=False,
                                                      validate_constraints=False)
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise _improperly("DEFAULT_POLICY", f"has invalid values: {problems}") from exc

    def reload(self) -> None:
        self._cache.clear()
        self._user = None

    @property
    def session_model(self) -> str:
        return getattr(settings, SESSION_MODEL_SETTING, DEFAULT_SESSION_MODEL)

    @property
    def booking_model(self) -> str:
        return getattr(settings, BOOKING_MODEL_SETTING, DEFAULT_BOOKING_MODEL)


booking_settings = BookingSettings()


def _ensure_swappable_defaults() -> None:
    # Migrations (ours and any host migration with a foreign key to our models) name the swappable
    # targets as settings.LIVECLASS_BOOKING_*_MODEL, so the setting must exist even when the host
    # never sets it, just as AUTH_USER_MODEL always exists.
    defaults = ((SESSION_MODEL_SETTING, DEFAULT_SESSION_MODEL), (BOOKING_MODEL_SETTING, DEFAULT_BOOKING_MODEL))
    for name, default in defaults:
        if not hasattr(settings, name):
            setattr(settings, name, default)


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        booking_settings.reload()
        from .policy import loader

        loader.clear_cache()
        from . import adapter

        adapter.get_adapter.cache_clear()


setting_changed.connect(_reload, dispatch_uid="liveclass_booking_settings_reload")
_ensure_swappable_defaults()
