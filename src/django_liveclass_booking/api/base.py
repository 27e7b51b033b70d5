"""What every API view shares: sign-in required, pagination, the error handler, the viewer's context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.db.models import QuerySet
from drf_spectacular.openapi import AutoSchema
from rest_framework import permissions, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from ..adapter import get_adapter
from ..models import ACTIVE_BOOKING_STATUSES, OPEN_WAITLIST_STATUSES, SessionWaitlist, get_booking_model
from .errors import exception_handler


class Pagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (up to 200), 50 items a page: ``{"count", "next", "previous", "results"}``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ApiViewSet(viewsets.GenericViewSet):
    """A signed-in user only; errors as ``{"code", "detail", "params"}`` whatever the host's handler."""

    permission_classes = [permissions.IsAuthenticated]
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
