"""The school's own pages: a student's lesson credits."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import router, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from django_liveclass_booking.adapter import get_adapter

from .adapter import add_credits
from .models import CreditAccount, CreditEntry

#: What the demo's "buy" button adds: no payment is taken in this example.
PACK = 5


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
    messages.success(request, f"{PACK} credits added: your balance is {account.balance}.")
    return redirect("my_credits")
