"""Admin for a teacher's own settings: booking policy, weekly availability windows, time off.

Every write goes through the services, as on the teacher pages: ``set_policy`` for a policy,
``add_availability``/``remove_availability`` and ``add_time_off``/``remove_time_off`` for the rest,
so the same checks run under the teacher lock and a refusal shows on the form, never as "saved".
The service runs once the form is otherwise valid (like ``SessionAddForm``); when it refuses,
nothing is written. The services add and remove windows and time off but do not edit them, so an
existing one is shown read-only here: remove it and add the new one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .. import services
from ..adapter import get_adapter
from ..exceptions import BookingError
from ..services._engine import db
from ._common import acting_user, user_search_fields


class ServiceForm(forms.ModelForm):
    """A model form whose save is one service call, made while validating so its refusal is a form error."""

    #: Error code -> the form field its message goes next to (else ``params["fields"]``, else the top).
    ERROR_FIELDS: Mapping[str, str] = {}
    #: The signed-in user the service acts for: set by the admin on the form class it builds per request.
    acting: Any = None

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and not self.errors:
            try:
                saved = self.save_through_service()
            except BookingError as exc:
                self._add_service_error(exc)
            else:
                if saved is not None:
                    self.instance = saved

    def save_through_service(self) -> Model | None:
        """Call the service with ``cleaned_data``; the saved row, or None when there was nothing to write."""
        raise NotImplementedError

    def _add_service_error(self, exc: BookingError) -> None:
        named = [exc.params["field"]] if "field" in exc.params else list(exc.params.get("fields", []))
        targets = [self.ERROR_FIELDS[exc.code]] if exc.code in self.ERROR_FIELDS else named
        targets = [name for name in targets if name in self.fields] or [None]
        for target in targets:
            self.add_error(target, forms.ValidationError(exc.message, code=exc.code))


class PolicyAdminForm(ServiceForm):
    """A new policy is all the form's values; a changed one only the values that differ from the stored ones."""

    ERROR_FIELDS = {"invalid_timezone": "timezone"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Kept before validation copies the posted values onto the instance.
        self.stored = {name: copy.deepcopy(getattr(self.instance, name)) for name in self.policy_fields}

    @property
    def policy_fields(self) -> list[str]:
        """The form's fields that ``set_policy`` takes: all but the teacher, whose policy it is."""
        return [name for name in self.fields if name != "teacher"]

    def clean_lesson_durations(self) -> Any:
        # An emptied field means "any length" (an empty list); the column holds no NULL.
        value = self.cleaned_data.get("lesson_durations")
        return [] if value is None else value

    def save_through_service(self) -> Model | None:
        adding = self.instance.pk is None
        names = [name for name in self.policy_fields if adding or self.cleaned_data[name] != self.stored[name]]
        if not adding and not names:
            return None
        teacher = self.cleaned_data["teacher"] if adding else self.instance.teacher
        return services.set_policy(teacher, actor=self.acting, **{name: self.cleaned_data[name] for name in names})


class AvailabilityAdminForm(ServiceForm):
    ERROR_FIELDS = {"invalid_weekday": "weekday", "end_before_start": "end_time", "invalid_timezone": "timezone"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "timezone" in self.fields:
            self.fields["timezone"].required = False
            self.fields["timezone"].initial = None
            self.fields["timezone"].help_text = _("IANA name, e.g. Europe/London. Empty: the teacher's policy "
                                                  "timezone.")

    def save_through_service(self) -> Model | None:
        data = self.cleaned_data
        return services.add_availability(data["teacher"], weekday=data["weekday"], start_time=data["start_time"],
                                         end_time=data["end_time"], timezone=data.get("timezone") or None,
                                         actor=self.acting)


class TimeOffAdminForm(ServiceForm):
    ERROR_FIELDS = {"end_before_start": "end_at_utc", "naive_datetime": "start_at_utc",
                    "invalid_datetime": "start_at_utc"}

    def save_through_service(self) -> Model | None:
        data = self.cleaned_data
        return services.add_time_off(data["teacher"], start=data["start_at_utc"], end=data["end_at_utc"],
                                     reason=data.get("reason", ""), actor=self.acting)


class SavedByFormAdmin(admin.ModelAdmin):
    """For a ``ServiceForm``: its service call has written the row while the form was validated."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        # A class of its own per request: the service then acts for, and asks the adapter about, this user.
        return type(form.__name__, (form,), {"acting": acting_user(request)})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        pass


class ServiceAdmin(SavedByFormAdmin):
    """Rows added by the form's service call, removed by the service named ``remove_service``, never edited."""

    #: Name of the ``services`` function that removes one row, given the row and ``actor``.
    remove_service: str

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _remove(self, request: HttpRequest, obj: Any) -> None:
        try:
            getattr(services, self.remove_service)(obj, actor=acting_user(request))
        except BookingError as exc:
            # Only a change of rights since the page was shown gets here; the transaction is undone.
            raise PermissionDenied(exc.message) from exc

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The hook the remove services ask, so the admin offers exactly the deletions they would make.
        if not super().has_delete_permission(request, obj):
            return False
        return obj is None or get_adapter().can_manage_teacher(acting_user(request), obj.teacher_id)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._remove(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        # On the services' own database, so that one refused removal undoes the others.
        with db.atomic():
            for obj in queryset.order_by("pk"):
                self._remove(request, obj)


class TeacherBookingPolicyAdmin(SavedByFormAdmin):
    """A teacher's booking rules, saved by ``services.set_policy``."""

    form = PolicyAdminForm
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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # set_policy changes a teacher's own policy; moving a policy to another teacher is no change of it.
        return () if obj is None else ("teacher",)


class TeacherAvailabilityAdmin(ServiceAdmin):
    """Weekly windows in which a teacher takes 1:1 lessons; added and removed by the services."""

    form = AvailabilityAdminForm
    remove_service = "remove_availability"
    list_display = ("teacher", "weekday", "start_time", "end_time", "timezone")
    list_filter = ("weekday", ("teacher", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("teacher",)
    raw_id_fields = ("teacher",)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return user_search_fields("teacher")


class TeacherTimeOffAdmin(ServiceAdmin):
    """Periods in which a teacher takes no 1:1 lessons; added and removed by the services."""

    form = TimeOffAdminForm
    remove_service = "remove_time_off"
    list_display = ("teacher", "start_at_utc", "end_at_utc", "reason")
    list_filter = (("teacher", admin.RelatedOnlyFieldListFilter), "start_at_utc")
    list_select_related = ("teacher",)
    date_hierarchy = "start_at_utc"
    raw_id_fields = ("teacher",)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["reason", *user_search_fields("teacher")]
