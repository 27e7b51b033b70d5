"""``schema/``: the OpenAPI 3 document of this API alone, whatever else the host's URLconf holds."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from .errors import exception_handler

DESCRIPTION = """\
Group classes with seats, 1:1 lessons, weekly series, a waitlist and everything around a lesson.

Every time is an instant in ISO 8601 (answered in UTC with `Z`; a time sent without a UTC offset is
refused). Every error is `{"code", "detail", "params"}`: each operation lists the codes it may answer
with, under their status. Lists are paginated (`page`, `page_size` up to 200).
"""


class SchemaView(SpectacularAPIView):
    """The schema of ``django_liveclass_booking.api.urls``, its paths under the prefix it is mounted at."""

    urlconf = "django_liveclass_booking.api.urls"
    # Not an operation of the API itself.
    schema = None

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        prefix = reverse("liveclass_booking_api:schema")[: -len("schema/")].rstrip("/")
        self.custom_settings = {
            "TITLE": "django-liveclass-booking API",
            "DESCRIPTION": DESCRIPTION,
            "VERSION": "1",
            "SERVERS": [{"url": prefix or "/"}],
            "COMPONENT_SPLIT_REQUEST": True,
            "SCHEMA_PATH_PREFIX": "",
            "ENUM_NAME_OVERRIDES": {f"{name}Enum": f"django_liveclass_booking.models.{name}" for name in (
                "BookingStatus", "SessionStatus", "WaitlistStatus", "SeriesStatus", "SeriesItemStatus",
                "RescheduleStatus", "SessionKind", "ApprovalMode", "OnConflict")},
        }
        return super().get(request, *args, **kwargs)
