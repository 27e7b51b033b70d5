from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from django_liveclass_booking.admin import LiveClassSessionAdmin

from .models import CreditAccount, CreditEntry, Lesson, Profile


@admin.register(Lesson)
class LessonAdmin(LiveClassSessionAdmin):
    """The library's session admin, with the subject placed beside the title."""

    list_display = ("__str__", "subject", *LiveClassSessionAdmin.list_display[1:])
    list_filter = ("subject", *LiveClassSessionAdmin.list_filter)
    add_fieldsets = [
        (None, {"fields": ("teacher", "title", "subject")}),
        *LiveClassSessionAdmin.add_fieldsets[1:],
    ]
    fieldsets = [
        (None, {"fields": ("title", "subject", "teacher", "kind", "status", "status_changed")}),
        *LiveClassSessionAdmin.fieldsets[1:],
    ]

    def get_search_fields(self, request: HttpRequest) -> list[Any]:
        return [*super().get_search_fields(request), "subject"]


class CreditEntryInline(admin.TabularInline):
    """The ledger, read-only: a balance changes only with an entry that says why."""

    model = CreditEntry
    fields = ("at", "reason", "delta", "booking")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = ("student", "balance")
    search_fields = ("student__username",)
    readonly_fields = ("balance",)
    raw_id_fields = ("student",)
    inlines = [CreditEntryInline]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    """The time zone each person's pages use (set from their browser or the zone picker)."""

    list_display = ("user", "timezone")
    search_fields = ("user__username", "timezone")
    raw_id_fields = ("user",)
