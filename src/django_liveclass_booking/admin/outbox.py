"""Admin for the outbox: every notification row, what became of it, and a way to retry failed ones.

Rows are written by the services and sent by the delivery workers, so they are read-only here. The
one action, "send now", makes the chosen unsent rows due at once and delivers them through the same
claim as ``process_due()`` (a row another worker holds is left to it); who may use it is the
adapter's ``is_staff_manager``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..adapter import get_adapter
from ..models import Notification
from ..services._engine import db, delivery
from ._common import acting_user
from .history import BookingSearchAdmin, describe


class DeliveryFilter(admin.SimpleListFilter):
    title = _("delivery")
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("sent", _("Sent")), ("waiting", _("Waiting")), ("failing", _("Failing (retrying)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "sent":
            return queryset.filter(sent_at__isnull=False)
        if self.value() == "waiting":
            return queryset.filter(sent_at__isnull=True, last_error="")
        if self.value() == "failing":
            return queryset.filter(sent_at__isnull=True).exclude(last_error="")
        return queryset


class NotificationAdmin(BookingSearchAdmin):
    """The outbox: one row per message to one person."""

    list_display = ("scheduled_for", "kind", "recipient", "booking", "session", "sent_at", "attempts", "error")
    list_filter = (DeliveryFilter, "kind")
    list_select_related = ("recipient", "booking", "session")
    date_hierarchy = "scheduled_for"
    fields = ("kind", "recipient", "booking", "session", "entry", "reschedule", "scheduled_for", "next_attempt_at",
              "sent_at", "attempts", "last_error", "details", "created_at")
    readonly_fields = fields
    actions = ["send_now"]

    @admin.display(description=_("last error"))
    def error(self, obj: Notification) -> str:
        return obj.last_error[:80]

    @admin.display(description=_("details"))
    def details(self, obj: Notification) -> Any:
        return describe(obj.data)

    def has_send_now_permission(self, request: HttpRequest) -> bool:
        return get_adapter().is_staff_manager(acting_user(request))

    @admin.action(description=_("Send the selected unsent notifications now"), permissions=["send_now"])
    def send_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        if not self.has_send_now_permission(request):
            raise PermissionDenied
        now = get_adapter().now()
        # Not a row a worker is sending now (its lease still runs); a row a dead worker left is taken again.
        free = Q(claim_token="") | Q(next_attempt_at__lte=now)
        pks = list(queryset.filter(free, sent_at__isnull=True).values_list("pk", flat=True))
        if pks:
            with db.atomic():
                Notification.objects.using(db.alias()).filter(free, pk__in=pks, sent_at__isnull=True) \
                    .update(next_attempt_at=now)
        sent = delivery.deliver(now, pks=pks, limit=len(pks)) if pks else 0
        failed = len(pks) - sent
        self.message_user(request, ngettext("%(count)d notification sent.", "%(count)d notifications sent.", sent)
                          % {"count": sent}, messages.SUCCESS if sent or not pks else messages.WARNING)
        if failed:
            self.message_user(request, ngettext(
                "%(count)d notification was not sent; its row shows why.",
                "%(count)d notifications were not sent; their rows show why.", failed) % {"count": failed},
                messages.WARNING)


admin.site.register(Notification, NotificationAdmin)
