"""Django admin for the booking models.

Booking state belongs to the services: status fields, seat counters, import references, the
bookings' history and reschedule proposals (``admin.history``) are read-only here, and every
state change (adding a session, the actions, a teacher's settings in ``admin.teachers``) goes
through ``services`` so the overlap checks, seat counters and signals stay right.
``LiveClassSessionAdmin`` and ``LiveClassBookingAdmin`` are reusable: a host that swaps a model
registers its own model with them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import services
from ..exceptions import BookingError
from ..models import (
    BookingSeries,
    CalendarFeedToken,
    LiveClassBooking,
    LiveClassSession,
    SessionWaitlist,
    TeacherAvailability,
    TeacherBookingPolicy,
    TeacherTimeOff,
    get_booking_model,
)
from ..models.validators import validate_timezone_name
from ..services._engine import db
from ..services._engine.timezones import find_zone
from ._common import (
    ReadOnlyInline,
    ReasonActionForm,
    ViewOnlyAdmin,
    acting_user,
    run_for_each,
    user_search_fields,
    with_extra_fields,
)
from .history import BookingEventAdmin, BookingEventInline, BookingSearchAdmin, RescheduleRequestAdmin
from .outbox import NotificationAdmin
from .records import BookingSeriesAdmin, BookingSeriesItemInline, CalendarFeedTokenAdmin, SessionWaitlistAdmin
from .teachers import (
    TeacherAvailabilityAdmin,
    TeacherBookingPolicyAdmin,
    TeacherTimeOffAdmin,
)

__all__ = [
    "BookingEventAdmin",
    "BookingEventInline",
    "BookingSearchAdmin",
    "BookingSeriesAdmin",
    "BookingSeriesItemInline",
    "CalendarFeedTokenAdmin",
    "LiveClassBookingAdmin",
    "LiveClassSessionAdmin",
    "NotificationAdmin",
    "ReadOnlyInline",
    "ReasonActionForm",
    "RescheduleRequestAdmin",
    "SESSION_SERVICE_OWNED",
    "SessionAddForm",
    "SessionBookingInline",
    "SessionWaitlistAdmin",
    "SessionWaitlistInline",
    "TeacherAvailabilityAdmin",
    "TeacherBookingPolicyAdmin",
    "TeacherTimeOffAdmin",
    "ViewOnlyAdmin",
    "WallClockField",
    "run_for_each",
    "user_search_fields",
    "with_extra_fields",
]


class SessionBookingInline(ReadOnlyInline):
    """A session's bookings."""

    model = get_booking_model()
    fields = ("student", "status", "source", "created")
    readonly_fields = fields
    ordering = ("created", "pk")
    show_change_link = True
    verbose_name_plural = _("bookings")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("student")


class SessionWaitlistInline(ReadOnlyInline):
    """A session's waitlist, in line order."""

    model = SessionWaitlist
    fields = ("position", "student", "status", "offered_at", "offer_expires_at")
    readonly_fields = fields
    ordering = ("position", "pk")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("student")


class WallClockField(forms.SplitDateTimeField):
    """A date and time kept naive, as typed: the form reads it in the timezone chosen beside it."""

    def compress(self, data_list: Sequence[Any] | None) -> dt.datetime | None:
        if not data_list:
            return None
        if data_list[0] in self.empty_values:
            raise forms.ValidationError(self.error_messages["invalid_date"], code="invalid_date")
        if data_list[1] in self.empty_values:
            raise forms.ValidationError(self.error_messages["invalid_time"], code="invalid_time")
        return dt.datetime.combine(*data_list)


class SessionAddForm(forms.ModelForm):
    """Adds a session through ``services.schedule_session``, so its checks run and its refusal is a form error.

    The service runs once the form is otherwise valid; when it refuses, nothing is written. Model
    fields the service does not take (a swapped model's own fields) are saved onto the new session.
    """

    SERVICE_FIELDS = frozenset({
        "teacher", "title", "duration_minutes", "capacity", "meeting_provider", "meeting_url", "meeting_passcode",
    })

    start = WallClockField(label=_("Starts at"), widget=AdminSplitDateTime, help_text=_("In the timezone below."))
    timezone = forms.CharField(
        label=_("Timezone"), max_length=64, initial=timezone.get_current_timezone_name,
        validators=[validate_timezone_name], help_text=_("IANA name, e.g. Europe/London."),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        wall, tz_name = cleaned.get("start"), cleaned.get("timezone")
        if wall is not None and tz_name:
            zone = find_zone(tz_name) or zoneinfo.ZoneInfo("UTC")
            start = wall.replace(tzinfo=zone)
            # A wall-clock time skipped by a DST change does not survive the round trip.
            if start.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != wall:
                self.add_error("start", _("This time does not exist in %(tz)s (clocks change).") % {"tz": tz_name})
            else:
                cleaned["start"] = start
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and not self.errors and self.instance.pk is None:
            self._schedule()

    def _schedule(self) -> None:
        data = self.cleaned_data
        concrete = {f.name: f for f in self.instance._meta.concrete_fields}
        extra = [concrete[name] for name in self.fields if name in concrete and name not in self.SERVICE_FIELDS]
        try:
            # On the services' own database: a failing save of the extra fields undoes the session too.
            with db.atomic():
                session = services.schedule_session(
                    data["teacher"], start=data["start"], duration=data["duration_minutes"],
                    capacity=data["capacity"], title=data.get("title", ""), timezone=data["timezone"],
                    meeting_provider=data.get("meeting_provider", ""), meeting_url=data.get("meeting_url", ""),
                    meeting_passcode=data.get("meeting_passcode", ""),
                )
                for field in extra:
                    setattr(session, field.attname, getattr(self.instance, field.attname))
                if extra:
                    session.save(update_fields=[f.name for f in extra])
        except BookingError as exc:
            self.add_error(None, forms.ValidationError(exc.message, code=exc.code))
            return
        self.instance = session


SESSION_SERVICE_OWNED = (
    "teacher", "kind", "start_at_utc", "end_at_utc", "duration_minutes", "timezone_snapshot", "capacity",
    "seats_taken", "status", "status_changed", "cancellation_reason", "recurrence_key", "external_ref",
    "created", "modified",
)


class LiveClassSessionAdmin(admin.ModelAdmin):
    """Admin for the session model (or a swapped subclass): adds go through the services, time and seats are fixed."""

    add_form = SessionAddForm
    action_form = ReasonActionForm
    actions = ["cancel_sessions"]
    inlines = [SessionBookingInline, SessionWaitlistInline]
    list_display = ("__str__", "teacher", "kind", "start_at_utc", "duration_minutes", "seats", "status")
    list_filter = ("status", "kind", ("teacher", admin.RelatedOnlyFieldListFilter), "start_at_utc")
    list_select_related = ("teacher",)
    date_hierarchy = "start_at_utc"
    raw_id_fields = ("teacher",)
    ordering = ("-start_at_utc", "-pk")
    # Meeting links are https in practice; also Django 6's default, stated so 5.2 agrees.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    add_fieldsets = [
        (None, {"fields": ("teacher", "title")}),
        (_("When"), {"fields": ("start", "timezone", "duration_minutes")}),
        (_("Seats"), {"fields": ("capacity",)}),
        (_("Meeting"), {"fields": ("meeting_provider", "meeting_url", "meeting_passcode")}),
    ]
    fieldsets = [
        (None, {"fields": ("title", "teacher", "kind", "status", "status_changed")}),
        (_("When"), {"fields": ("start_at_utc", "end_at_utc", "duration_minutes", "timezone_snapshot")}),
        (_("Seats"), {"fields": ("capacity", "seats_taken")}),
        (_("Meeting"), {"fields": ("meeting_provider", "meeting_url", "meeting_passcode")}),
        (_("Records"), {"fields": ("cancellation_reason", "recurrence_key", "external_ref", "created", "modified"),
                        "classes": ("collapse",)}),
    ]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["title", *user_search_fields("teacher")]

    @admin.display(description=_("seats taken"))
    def seats(self, obj: Any) -> str:
        return f"{obj.seats_taken}/{obj.capacity}"

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[tuple[Any, Any]]:
        return with_extra_fields(self.model, self.add_fieldsets if obj is None else self.fieldsets,
                                 SESSION_SERVICE_OWNED)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> type:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else SESSION_SERVICE_OWNED

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is None or obj.pk is None:
            return []
        return super().get_inline_instances(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # A new session was written by the service during validation.
        if change:
            super().save_model(request, obj, form, change)

    @admin.action(description=_("Cancel selected sessions"), permissions=["change"])
    def cancel_sessions(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = request.POST.get("reason", "")
        run_for_each(
            self, request, queryset, lambda s: services.cancel_session(s, actor=acting_user(request), reason=reason),
            lambda n: ngettext("Cancelled %d session.", "Cancelled %d sessions.", n) % n,
        )


class LiveClassBookingAdmin(admin.ModelAdmin):
    """Admin for the booking model (or a swapped subclass): read-mostly, state changes only by the actions.

    Bookings are created by ``services.book_seat`` (or the other booking services), never here.
    The status filter and column list every status, outcomes included; the page shows the
    booking's history below it.
    """

    action_form = ReasonActionForm
    actions = ["confirm_bookings", "decline_bookings", "cancel_bookings"]
    inlines = [BookingEventInline]
    list_display = ("__str__", "session", "student", "teacher", "kind", "status", "source", "start_at_utc",
                    "late_cancellation", "created")
    list_filter = ("status", "kind", "source", ("teacher", admin.RelatedOnlyFieldListFilter), "late_cancellation",
                   "start_at_utc")
    list_select_related = ("session", "student", "teacher")
    date_hierarchy = "start_at_utc"
    ordering = ("-start_at_utc", "-pk")
    fieldsets = [
        (None, {"fields": ("session", "student", "teacher", "kind", "status", "status_changed", "source")}),
        (_("When"), {"fields": ("start_at_utc", "end_at_utc")}),
        (_("Decision"), {"fields": ("decided_by", "decided_at", "cancelled_by", "cancelled_at", "late_cancellation",
                                    "reason", "message")}),
        (_("Records"), {"fields": ("external_ref", "active_key", "created", "modified"), "classes": ("collapse",)}),
    ]
    readonly_fields = (
        "session", "student", "teacher", "kind", "status", "status_changed", "source", "start_at_utc", "end_at_utc",
        "decided_by", "decided_at", "cancelled_by", "cancelled_at", "late_cancellation", "reason", "message",
        "external_ref", "active_key", "created", "modified",
    )

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["session__title", *user_search_fields("student", "teacher")]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[tuple[Any, Any]]:
        return with_extra_fields(self.model, self.fieldsets)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a booking would leave its seat counted; cancel it instead.
        return False

    def _transition(self, request: HttpRequest, queryset: QuerySet, operation: Callable[[Any], Any],
                    done: Callable[[int], str]) -> None:
        run_for_each(self, request, queryset.select_related("session"), operation, done)

    @admin.action(description=_("Confirm selected bookings"), permissions=["change"])
    def confirm_bookings(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._transition(request, queryset, lambda b: services.confirm_booking(b, actor=acting_user(request)),
                         lambda n: ngettext("Confirmed %d booking.", "Confirmed %d bookings.", n) % n)

    @admin.action(description=_("Decline selected bookings"), permissions=["change"])
    def decline_bookings(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = request.POST.get("reason", "")
        self._transition(request, queryset,
                         lambda b: services.decline_booking(b, actor=acting_user(request), reason=reason),
                         lambda n: ngettext("Declined %d booking.", "Declined %d bookings.", n) % n)

    @admin.action(description=_("Cancel selected bookings"), permissions=["change"])
    def cancel_bookings(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = request.POST.get("reason", "")
        self._transition(request, queryset,
                         lambda b: services.cancel_booking(b, actor=acting_user(request), reason=reason),
                         lambda n: ngettext("Cancelled %d booking.", "Cancelled %d bookings.", n) % n)


admin.site.register(CalendarFeedToken, CalendarFeedTokenAdmin)
admin.site.register(TeacherBookingPolicy, TeacherBookingPolicyAdmin)
admin.site.register(TeacherAvailability, TeacherAvailabilityAdmin)
admin.site.register(TeacherTimeOff, TeacherTimeOffAdmin)
admin.site.register(BookingSeries, BookingSeriesAdmin)
admin.site.register(SessionWaitlist, SessionWaitlistAdmin)
# A swapped-out model has no table; the host registers its own model with the classes above.
if not LiveClassSession._meta.swapped:
    admin.site.register(LiveClassSession, LiveClassSessionAdmin)
if not LiveClassBooking._meta.swapped:
    admin.site.register(LiveClassBooking, LiveClassBookingAdmin)
