"""What every API view shares: sign-in required, pagination, the error handler, the viewer's context."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers, viewsets
from rest_framework.exceptions import ParseError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from ..adapter import get_adapter
from ..models import ACTIVE_BOOKING_STATUSES, OPEN_WAITLIST_STATUSES, SessionWaitlist, get_booking_model
from .errors import exception_handler

#: The most items a page holds (``?page_size=``).
MAX_PAGE_SIZE = 200

#: The query parameters of every list: a page past the last is a 404, a value out of range a 400.
PAGE = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1}, description="The page, from 1."),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                     description=f"Items a page, 1 to {MAX_PAGE_SIZE} (default 50)."),
]

WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


class Pagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (up to 200), 50 items a page: ``{"count", "next", "previous", "results"}``.

    A value that is not a whole number in range is refused (400 ``invalid_request``), not replaced
    by the default as DRF would; a page past the last is a 404 ``not_found``.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        problems = {}
        for name, top in (("page", None), ("page_size", MAX_PAGE_SIZE)):
            values = request.query_params.getlist(name)
            if values and not (len(values) == 1 and WHOLE_NUMBER.fullmatch(values[0])
                               and 1 <= int(values[0]) <= (top or int(values[0]))):
                problems[name] = [_("A whole number from 1 to %(top)s.") % {"top": top} if top
                                  else _("A whole number from 1.")]
        if problems:
            raise serializers.ValidationError(problems, code="invalid")
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [{"name": p.name, "in": "query", "required": False, "description": p.description, "schema": p.type}
                for p in PAGE]


class BoundedJSONParser(JSONParser):
    """JSON, with a body nested too deep for Python's parser refused as a parse error (not a 500)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError() from exc


class ApiViewSet(viewsets.GenericViewSet):
    """A signed-in user only, JSON bodies only; errors as ``{"code", "detail", "params"}`` whatever the host's
    handler."""

    permission_classes = [permissions.IsAuthenticated]
    # JSON bodies only, whatever the host's DEFAULT_PARSER_CLASSES: a form has no null, no number and
    # no way to tell an empty value from a missing one, and a broken one would read as empty.
    parser_classes = [BoundedJSONParser]
    pagination_class = Pagination
    # The schema works whatever the host's DEFAULT_SCHEMA_CLASS.
    schema = AutoSchema()
    lookup_value_regex = "[0-9]{1,18}"

    def get_exception_handler(self) -> Callable[..., Response | None]:
        return exception_handler

    def get_renderers(self) -> list[BaseRenderer]:
        # The browsable API's pages need "rest_framework" in INSTALLED_APPS; without it a browser
        # gets JSON rather than a missing-template error.
        renderers = super().get_renderers()
        if not apps.is_installed("rest_framework"):
            renderers = [r for r in renderers if not isinstance(r, BrowsableAPIRenderer)] or [JSONRenderer()]
        return renderers

    def page_of(self, queryset: QuerySet[Any], serialize: Callable[[list[Any]], BaseSerializer]) -> Response:
        """One page of ``queryset``, each item through ``serialize(items)`` (built once per page)."""
        items = self.paginate_queryset(queryset)
        assert items is not None  # the pagination class is always set
        return self.get_paginated_response(serialize(list(items)).data)


def now() -> dt.datetime:
    return get_adapter().now()


def user_of(request: Request) -> Any:
    """The signed-in user of a request that passed the permission check."""
    return request.user


def session_context(user: Any, sessions: Iterable[Any]) -> dict[str, Any]:
    """What ``SessionSerializer`` shows per viewer: their booking and waitlist place, and who sees the meeting.

    Two queries for any number of sessions.
    """
    sessions = list(sessions)
    ids = [s.pk for s in sessions]
    mine = {b.session_id: b for b in get_booking_model().objects.filter(
        student_id=user.pk, session_id__in=ids, status__in=ACTIVE_BOOKING_STATUSES).order_by("pk")}
    entries = {e.session_id: e for e in SessionWaitlist.objects.filter(
        student_id=user.pk, session_id__in=ids, status__in=OPEN_WAITLIST_STATUSES)}
    adapter = get_adapter()
    shown = {s.pk for s in sessions if adapter.can_see_meeting_details(user, s, mine.get(s.pk))}
    return {"my_bookings": mine, "my_entries": entries, "meeting_shown": shown}


def booking_context(user: Any, bookings: Iterable[Any]) -> dict[str, Any]:
    """Which bookings' meeting details ``user`` may see (the adapter decides); no query of its own
    beyond the adapter's."""
    adapter = get_adapter()
    return {"meeting_shown_bookings": {
        b.pk for b in bookings if adapter.can_see_meeting_details(user, b.session, b)}}
