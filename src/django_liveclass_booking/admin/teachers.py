"""Admin for a teacher's own settings: booking policy, weekly availability windows, time off."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ._common import user_search_fields


class TeacherBookingPolicyAdmin(admin.ModelAdmin):
    """A teacher's booking rules; the model validators check the timezone and lesson durations."""

    list_display = ("teacher", "timezone", "approval_mode", "min_notice_minutes", "cancellation_cutoff_hours",
                    "waitlist_enabled")
    list_filter = ("approval_mode", "waitlist_enabled", "allow_recurring")
    list_select_related = ("teacher",)
    raw_id_fields = ("teacher",)
    fieldsets = [
        (None, {"fields": ("teacher", "timezone", "approval_mode")}),
        (_("Booking window"), {"fields": ("min_notice_minutes", "max_advance_days")}),
        (_("Limits per student"), {"fields": ("max_bookings_per_day", "max_bookings_per_week",
                                               "max_pending_requests", "request_ttl_hours")}),
        (_("Cancellation"), {"fields": ("cancellation_cutoff_hours", "allow_late_cancellation")}),
        (_("1:1 lessons"), {"fields": ("lesson_durations", "buffer_minutes", "allow_recurring",
                                        "max_series_occurrences")}),
        (_("Waitlist"), {"fields": ("waitlist_enabled", "waitlist_offer_ttl_minutes")}),
    ]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return user_search_fields("teacher")


class TeacherAvailabilityAdmin(admin.ModelAdmin):
    """Weekly windows in which a teacher takes 1:1 lessons."""

    list_display = ("teacher", "weekday", "start_time", "end_time", "timezone")
    list_filter = ("weekday", ("teacher", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("teacher",)
    raw_id_fields = ("teacher",)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return user_search_fields("teacher")


class TeacherTimeOffAdmin(admin.ModelAdmin):
    """Periods in which a teacher takes no 1:1 lessons."""

    list_display = ("teacher", "start_at_utc", "end_at_utc", "reason")
    list_filter = (("teacher", admin.RelatedOnlyFieldListFilter), "start_at_utc")
    list_select_related = ("teacher",)
    date_hierarchy = "start_at_utc"
    raw_id_fields = ("teacher",)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["reason", *user_search_fields("teacher")]
