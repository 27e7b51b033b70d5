from __future__ import annotations

from typing import cast

from django.apps import apps as django_apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from ..conf import BOOKING_MODEL_SETTING, SESSION_MODEL_SETTING, booking_settings
from .bookings import AbstractLiveClassBooking
from .sessions import AbstractLiveClassSession

#: Models found per setting value, once the registry is complete (it never changes after that).
_found: dict[str, type[models.Model]] = {}


def _resolve(setting_name: str, value: str) -> type[models.Model]:
    found = _found.get(value)
    if found is not None:
        return found
    try:
        model = django_apps.get_model(value, require_ready=False)
        if django_apps.ready:
            _found[value] = model
        return model
    except ValueError:
        raise ImproperlyConfigured(
            f"{setting_name} must be of the form 'app_label.model_name', not {value!r}."
        ) from None
    except LookupError:
        raise ImproperlyConfigured(
            f"{setting_name} refers to model {value!r} that has not been installed."
        ) from None


# The cast states what the system checks liveclass_booking.E002/E003 (checks.check_swapped_models)
# enforce: a swapped-in model subclasses the abstract model.


def get_session_model() -> type[AbstractLiveClassSession]:
    """The active session model (``LIVECLASS_BOOKING_SESSION_MODEL``)."""
    return cast(type[AbstractLiveClassSession], _resolve(SESSION_MODEL_SETTING, booking_settings.session_model))


def get_booking_model() -> type[AbstractLiveClassBooking]:
    """The active booking model (``LIVECLASS_BOOKING_BOOKING_MODEL``)."""
    return cast(type[AbstractLiveClassBooking], _resolve(BOOKING_MODEL_SETTING, booking_settings.booking_model))
