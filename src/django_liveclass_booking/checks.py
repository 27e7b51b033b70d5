"""System checks: settings the booking guarantees depend on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import connections


@register(Tags.compatibility)
def check_use_tz(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if not settings.USE_TZ:
        return [Error(
            "django-liveclass-booking stores every time in UTC and needs USE_TZ = True.",
            hint="Set USE_TZ = True in your settings.",
            id="liveclass_booking.E001",
        )]
    return []


@register(Tags.database, Tags.compatibility)
def check_sqlite_transaction_mode(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Warning]:
    found = []
    for alias in connections:
        conf = connections.settings[alias]
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
    from django.core.exceptions import ImproperlyConfigured

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
