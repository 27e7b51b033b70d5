"""The school's own pages: a student's lesson credits, and the outbox of notifications for staff."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import router, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from django_liveclass_booking import notifications
from django_liveclass_booking.adapter import get_adapter
from django_liveclass_booking.models import Notification
from django_liveclass_booking.views._common import render_page

from .adapter import add_credits
from .models import CreditAccount, CreditEntry

#: What the demo's "buy" button adds: no payment is taken in this example.
PACK = 5
#: Rows the outbox page lists.
OUTBOX_ROWS = 50


@login_required
def my_credits(request: HttpRequest) -> HttpResponse:
    """The balance and the ledger that explains it, newest first."""
    account = CreditAccount.objects.filter(student=request.user).first()
    entries = (CreditEntry.objects.filter(account=account).select_related("booking").order_by("-at", "-pk")[:200]
               if account else [])
    return render(request, "school/credits.html", {
        "balance": account.balance if account else 0, "entries": entries, "pack": PACK,
        # The booking pages' header shows the teacher link from this.
        "viewer_is_teacher": get_adapter().is_teacher(request.user),
    })


@login_required
@require_POST
def buy_credits(request: HttpRequest) -> HttpResponse:
    with transaction.atomic(using=router.db_for_write(CreditAccount)):
        account = add_credits(request.user, PACK, CreditEntry.Reason.PURCHASE)
    messages.success(request, ngettext("%(count)d credit added: your balance is %(balance)d.",
                                       "%(count)d credits added: your balance is %(balance)d.", PACK)
                     % {"count": PACK, "balance": account.balance})
    return redirect("my_credits")


# --- The outbox: what the notifications said, for staff ------------------------------------------


def _staff_only(request: HttpRequest) -> None:
    if not get_adapter().is_staff_manager(request.user):  # type: ignore[arg-type]
        raise PermissionDenied("Only staff can read the outbox.")


def _status(notification: Notification) -> str:
    """``sent``, ``failed`` (the last try did; it is retried later) or ``pending``."""
    if notification.sent_at is not None:
        return "sent"
    return "failed" if notification.last_error else "pending"


@login_required
def outbox(request: HttpRequest) -> HttpResponse:
    """The most recent notifications, newest first, and whether each went out."""
    _staff_only(request)
    rows = list(Notification.objects.select_related("recipient", "booking__session", "session")
                .order_by("-created_at", "-pk")[:OUTBOX_ROWS])
    for row in rows:
        row.status = _status(row)  # type: ignore[attr-defined]
    return render_page(request, "school/outbox.html", {"notifications": rows, "limit": OUTBOX_ROWS})


@login_required
def outbox_message(request: HttpRequest, pk: int) -> HttpResponse:
    """One notification as its recipient reads it: subject, text, HTML, and the invitation if any."""
    _staff_only(request)
    notification = get_object_or_404(
        Notification.objects.select_related("recipient", "booking__session", "session"), pk=pk)
    rendered, error = None, ""
    try:
        rendered = notifications.render(notification)
    except Exception as exc:  # shown on the page: a message that cannot be rendered cannot be sent either
        error = f"{type(exc).__name__}: {exc}"
    return render_page(request, "school/outbox_message.html", {
        "notification": notification, "status": _status(notification), "rendered": rendered, "error": error,
        "address": getattr(notification.recipient, notification.recipient.get_email_field_name(), ""),
        "calendar": rendered.calendar.decode("utf-8") if rendered and rendered.calendar else "",
    })
