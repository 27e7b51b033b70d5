"""Admin for what happened to bookings: their history (``BookingEvent``) and the reschedule proposals.

Both are written only by the services, in the transaction of the change they record, so both are
read-only here: no add, no change, no delete. A proposal may be accepted or declined from its list,
through the services (which ask the adapter whether the signed-in user may). A booking's history
also shows on its own page (:class:`BookingEventInline`, which ``LiveClassBookingAdmin`` lists).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import services
from ..models import BookingEvent, RescheduleRequest, get_booking_model
from ._common import ReadOnlyInline, ReasonActionForm, ViewOnlyAdmin, acting_user, run_for_each, user_search_fields


def describe(data: Mapping[str, Any] | None) -> SafeString | None:
    """An event's ``data`` as escaped ``key: value`` lines, by key (PostgreSQL's jsonb keeps no key order)."""
    if not data:
        return None
    if not isinstance(data, Mapping):  # written by hand, not by the services: show it as stored
        data = {"": data}
    lines = ((f"{key}: " if key else "", value if isinstance(value, str)
              else json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True))
             for key, value in sorted(data.items(), key=lambda item: str(item[0])))
    return format_html_join(mark_safe("<br>"), "{}{}", lines)


def booking_search(queryset: QuerySet, search_term: str) -> QuerySet | None:
    """The rows of one booking when the term is its number (``42`` or ``#42``); None for any other term."""
    term = search_term.strip().removeprefix("#")
    if not term or any(c.isspace() for c in term):
        return None
    try:
        pk = get_booking_model()._meta.pk.to_python(term)
    except (ValidationError, ValueError, TypeError):
        return None
    return queryset.filter(booking__pk=pk)


class BookingEventInline(ReadOnlyInline):
    """A booking's history, oldest first."""

    model = BookingEvent
    fk_name = "booking"
    fields = ("at", "kind", "actor", "details")
    readonly_fields = fields
    ordering = ("at", "pk")
    verbose_name_plural = _("history")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("actor")

    @admin.display(description=_("details"))
    def details(self, obj: BookingEvent) -> SafeString | None:
        return describe(obj.data)


class BookingSearchAdmin(ViewOnlyAdmin):
    """A view-only list of rows about bookings, found by the booking's number or external reference."""

    search_help_text = _("A booking's number (42 or #42) or its external reference.")

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["booking__external_ref"]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        found = booking_search(queryset, search_term)
        if found is not None:
            return found, False
        return super().get_search_results(request, queryset, search_term)


class BookingEventAdmin(BookingSearchAdmin):
    """Every booking's history: one row per change, as the services wrote it."""

    list_display = ("at", "booking", "kind", "actor", "details")
    list_filter = ("kind", "at")
    list_select_related = ("booking", "actor")
    ordering = ("-at", "-pk")
    fields = ("booking", "kind", "actor", "at", "details")
    readonly_fields = ("details",)

    @admin.display(description=_("details"))
    def details(self, obj: BookingEvent) -> SafeString | None:
        return describe(obj.data)


class RescheduleRequestAdmin(BookingSearchAdmin):
    """Proposals to move a 1:1 lesson; answered through the services (the people involved), never here."""

    list_display = ("__str__", "booking", "proposed_by", "start_at_utc", "end_at_utc", "status", "expires_at",
                    "created")
    list_filter = ("status", "expires_at")
    list_select_related = ("booking", "proposed_by")
    ordering = ("-created", "-pk")
    fieldsets = [
        (None, {"fields": ("booking", "proposed_by", "status", "status_changed", "message")}),
        (_("Times"), {"fields": ("previous_start_at_utc", "previous_end_at_utc", "start_at_utc", "end_at_utc",
                                 "expires_at")}),
        (_("Answer"), {"fields": ("decided_by", "decided_at", "reason")}),
        (_("Records"), {"fields": ("created", "modified"), "classes": ("collapse",)}),
    ]

    action_form = ReasonActionForm
    actions = ["accept_proposals", "decline_proposals"]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [*super().get_search_fields(request), *user_search_fields("proposed_by")]

    @admin.action(description=_("Accept the selected proposals (the lessons move)"), permissions=["view"])
    def accept_proposals(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_for_each(self, request, queryset.select_related("booking"),
                     lambda p: services.accept_reschedule(p, actor=acting_user(request)),
                     lambda n: ngettext("Accepted %d proposal.", "Accepted %d proposals.", n) % n)

    @admin.action(description=_("Decline the selected proposals"), permissions=["view"])
    def decline_proposals(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = request.POST.get("reason", "")
        run_for_each(self, request, queryset.select_related("booking"),
                     lambda p: services.decline_reschedule(p, actor=acting_user(request), reason=reason),
                     lambda n: ngettext("Declined %d proposal.", "Declined %d proposals.", n) % n)


admin.site.register(BookingEvent, BookingEventAdmin)
admin.site.register(RescheduleRequest, RescheduleRequestAdmin)
