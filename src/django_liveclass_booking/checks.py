"""System checks: settings the booking guarantees depend on.

Each runs with a plain ``manage.py check`` (none is tagged ``database``), and none opens a database
connection: they read settings only.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.utils.module_loading import import_string


@register(Tags.compatibility)
def check_use_tz(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if not settings.USE_TZ:
        return [Error(
            "django-liveclass-booking stores every time in UTC and needs USE_TZ = True.",
            hint="Set USE_TZ = True in your settings.",
            id="liveclass_booking.E001",
        )]
    return []


@register(Tags.compatibility)
def check_sqlite_transaction_mode(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Warning]:
    found = []
    for alias, conf in connections.settings.items():
        if conf.get("ENGINE") != "django.db.backends.sqlite3":
            continue
        if (conf.get("OPTIONS") or {}).get("transaction_mode") != "IMMEDIATE":
            found.append(Warning(
                f"SQLite database {alias!r} does not use transaction_mode IMMEDIATE: concurrent bookings can "
                "fail with 'database is locked' instead of waiting their turn.",
                hint=f'Set DATABASES[{alias!r}]["OPTIONS"]["transaction_mode"] = "IMMEDIATE".',
                id="liveclass_booking.W001",
            ))
    return found


@register(Tags.models)
def check_swapped_models(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from .conf import BOOKING_MODEL_SETTING, SESSION_MODEL_SETTING
    from .models import (
        AbstractLiveClassBooking,
        AbstractLiveClassSession,
        get_booking_model,
        get_session_model,
    )

    errors = []
    for setting, getter, base, code in (
        (SESSION_MODEL_SETTING, get_session_model, AbstractLiveClassSession, "E002"),
        (BOOKING_MODEL_SETTING, get_booking_model, AbstractLiveClassBooking, "E003"),
    ):
        try:
            model = getter()
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id=f"liveclass_booking.{code}"))
            continue
        if not issubclass(model, base):
            errors.append(Error(
                f"{setting} = {model._meta.label!r} does not subclass {base.__name__}.",
                hint=f"Define it as class {model.__name__}({base.__name__}) so it has the fields, "
                "constraints and methods the services rely on.",
                obj=model,
                id=f"liveclass_booking.{code}",
            ))
    return errors


@register(Tags.compatibility)
def check_booking_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every key of ``LIVECLASS_BOOKING`` is known and has a usable value, as the app would read it."""
    from .conf import DEFAULTS, SETTING_NAME, booking_settings

    value = getattr(settings, SETTING_NAME, {}) or {}
    if not isinstance(value, dict):
        return [Error(
            f"{SETTING_NAME} must be a dict, not {type(value).__name__}.",
            hint=f"Write {SETTING_NAME} = {{...}} with the keys of the settings reference.",
            id="liveclass_booking.E004",
        )]
    errors: list[CheckMessage] = []
    for key in sorted(set(value) - set(DEFAULTS), key=str):
        errors.append(Error(
            f"{SETTING_NAME} has an unknown key {key!r}.",
            hint=_closest_key_hint(key, DEFAULTS),
            id="liveclass_booking.E005",
        ))
    for key in DEFAULTS:
        if key not in value:
            continue
        try:
            checked = booking_settings.validate(key, value[key])
        except ImproperlyConfigured as exc:
            errors.append(_invalid_value(str(exc), key))
            continue
        if key == "POLICY_RULES":
            errors.extend(_invalid_value(problem, key) for problem in _rule_problems(checked))
    return errors


def _closest_key_hint(key: Any, known: Any) -> str:
    close = difflib.get_close_matches(str(key).upper(), list(known), n=1)
    if close:
        return f"Did you mean {close[0]!r}?"
    return f"The known keys are {', '.join(sorted(known))}."


def _invalid_value(problem: str, key: str) -> Error:
    return Error(problem, hint=f"Correct {key}; the settings reference describes its values.",
                 id="liveclass_booking.E006")


def _rule_problems(entries: list[dict[str, Any]]) -> list[str]:
    """Why each rule of ``POLICY_RULES`` could not be loaded, as the first booking would find out."""
    problems = []
    for entry in entries:
        name = entry["NAME"]
        try:
            rule = import_string(name) if isinstance(name, str) else name
            rule(**entry.get("OPTIONS", {}))
        except (ImportError, TypeError, ValueError, ImproperlyConfigured) as exc:
            problems.append(f"LIVECLASS_BOOKING['POLICY_RULES']: the rule {name!r} cannot be loaded: {exc}")
    return problems
