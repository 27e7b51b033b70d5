"""Admin for rows only the services write: series and their occurrences, waitlist entries, feed tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import services
from ..models import BookingSeriesItem
from ..models.calendar import CalendarFeedTokenQuerySet
from ._common import ReadOnlyInline, ViewOnlyAdmin, user_search_fields


class BookingSeriesItemInline(ReadOnlyInline):
    """A series' occurrences, in order."""

    model = BookingSeriesItem
    fields = ("index", "start_at_utc", "end_at_utc", "status", "skip_reason", "booking")
    readonly_fields = fields
    ordering = ("index",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("booking")


class BookingSeriesAdmin(ViewOnlyAdmin):
    """Recurring bookings with what became of each occurrence."""

    inlines = [BookingSeriesItemInline]
    list_display = ("__str__", "student", "teacher", "kind", "first_start_date", "first_start_time", "timezone",
                    "status", "created")
    list_filter = ("status", "kind", "on_conflict")
    list_select_related = ("student", "teacher")
    date_hierarchy = "first_start_date"

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["rrule", "recurrence_key", *user_search_fields("student", "teacher")]


class SessionWaitlistAdmin(ViewOnlyAdmin):
    """Waiting students per session, in line order."""

    list_display = ("session", "position", "student", "status", "offered_at", "offer_expires_at")
    list_filter = ("status",)
    list_select_related = ("session", "student")
    ordering = ("session", "position", "pk")

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["session__title", *user_search_fields("student")]


class CalendarFeedTokenAdmin(ViewOnlyAdmin):
    """Feed tokens (only their digests are stored); support staff revoke a leaked feed address here."""

    list_display = ("user", "created", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user",)
    fields = ("user", "created", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return user_search_fields("user")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoking is the one change allowed, and only through the action below.
        return obj is None and super(ViewOnlyAdmin, self).has_change_permission(request, obj)

    @admin.action(description=_("Revoke the selected feed tokens"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: CalendarFeedTokenQuerySet) -> None:
        users = {token.user for token in queryset.live().select_related("user")}
        count = sum(services.revoke_feed_token(user) for user in users)
        self.message_user(request, ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count)
                          % {"count": count}, messages.SUCCESS)
