"""``schema/``: the OpenAPI 3 document of this API alone, whatever else the host's URLconf holds."""

from __future__ import annotations

import threading
from typing import Any

from django.urls import reverse
from django.utils.translation import get_language
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


#: Built documents by (prefix, language), and the lock that lets one build run at a time.
DOCUMENTS: dict[tuple[str, str], Any] = {}
BUILDING = threading.Lock()


class SchemaView(SpectacularAPIView):
    """The schema of ``django_liveclass_booking.api.urls``, its paths under the prefix it is mounted at."""

    urlconf = "django_liveclass_booking.api.urls"
    # Not an operation of the API itself.
    schema = None

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The document, built once per prefix and language.

        drf-spectacular applies a view's settings by patching its process-wide settings while it
        builds: two builds at once could leave them patched for the host's own schema views. One
        build at a time, and each document built once, keep that from happening.
        """
        prefix = reverse("liveclass_booking_api:schema")[: -len("schema/")].rstrip("/")
        key = (prefix, get_language() or "")
        with BUILDING:
            if key not in DOCUMENTS:
                DOCUMENTS[key] = self.build(request, prefix, *args, **kwargs)
        return Response(DOCUMENTS[key])

    def build(self, request: Request, prefix: str, *args: Any, **kwargs: Any) -> Any:
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
        return super().get(request, *args, **kwargs).data
