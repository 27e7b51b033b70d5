"""The school's booking adapter: every seat or lesson costs one credit, charged inside the booking's transaction.

Policy:

* A booking (a seat, a 1:1 lesson, a series occurrence, an accepted waitlist offer) costs one
  credit when it takes its place, pending or confirmed. With no credit left the booking is refused
  with ``no_credits`` and nothing is written.
* The credit comes back when the place is given back: cancelled in time, declined, expired, or the
  session cancelled by the school.
* A late cancellation keeps the credit: the teacher kept the time free. The ledger says so with an
  entry of zero.
* A booking moved to another session keeps its credit: the move's release is skipped, and so is
  the charge of a booking that still holds an unrefunded charge. A move nets zero.

The ledger is the source of truth for a booking: at most one charge outstanding, refunded at most
once, whatever calls the hooks and however often.
"""

from __future__ import annotations

from typing import Any

from django.db import router
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.exceptions import BookingError

from .models import CreditAccount, CreditEntry, Profile

Reason = CreditEntry.Reason

#: What a booking costs, in credits.
PRICE = 1


def _alias(booking: Any) -> str:
    # The account must be locked in the booking's own transaction: on the booking's database.
    return booking._state.db or router.db_for_write(type(booking), instance=booking)


def locked_account(booking: Any) -> CreditAccount | None:
    """The student's account, its row locked until the booking's transaction ends."""
    return (CreditAccount.objects.using(_alias(booking)).select_for_update()
            .filter(student_id=booking.student_id).first())


def holds_charge(account: CreditAccount, booking: Any) -> bool:
    """Whether the booking has been charged and not yet refunded (nor forfeited)."""
    counts = CreditEntry.objects.using(account._state.db).filter(account=account, booking_id=booking.pk).aggregate(
        charged=Count("pk", filter=Q(reason=Reason.CHARGE)),
        settled=Count("pk", filter=Q(reason__in=[Reason.REFUND, Reason.FORFEIT])),
    )
    return bool(counts["charged"] > counts["settled"])


def record(account: CreditAccount, delta: int, reason: str, booking: Any = None) -> CreditEntry:
    """Change the locked account's balance and write why, in the caller's transaction."""
    account.balance += delta
    account.save(update_fields=["balance"], using=account._state.db)
    return CreditEntry.objects.using(account._state.db).create(account=account, booking=booking, delta=delta,
                                                               reason=reason)


class SchoolAdapter(DefaultBookingAdapter):
    """Charges a credit per booking and refunds it when the place is given back (see the module).

    Each person's time zone lives on their ``Profile``: picked in the pages' header or sent by the
    browser on their first page, it outlives logging out, and notifications use it too.
    """

    def get_user_timezone(self, user: Any) -> str | None:
        zone = Profile.objects.filter(user_id=user.pk).values_list("timezone", flat=True).first()
        return zone or super().get_user_timezone(user)

    def set_viewer_timezone(self, request: Any, zone: str) -> None:
        Profile.objects.update_or_create(user_id=request.user.pk, defaults={"timezone": zone})

    def on_place_taken(self, booking: Any) -> None:
        account = locked_account(booking)
        if account is not None and holds_charge(account, booking):
            return  # a move: the booking keeps the credit it paid
        if account is None or account.balance < PRICE:
            # A host's own code: its lazy message is rendered in the language of the page that shows it.
            raise BookingError(_("You have no lesson credits left. Buy more on the My credits page."),
                               code="no_credits", params={"balance": account.balance if account else 0})
        record(account, -PRICE, Reason.CHARGE, booking)

    def on_place_released(self, booking: Any, reason: str) -> None:
        if reason == "moved":
            return  # the booking takes its new place with the same credit
        account = locked_account(booking)
        if account is None or not holds_charge(account, booking):
            return  # never charged (booked before credits existed), or settled already
        if reason == "late_cancelled":
            record(account, 0, Reason.FORFEIT, booking)
        else:
            record(account, PRICE, Reason.REFUND, booking)


def add_credits(student: Any, amount: int, reason: str = Reason.PURCHASE, using: str | None = None) -> CreditAccount:
    """Credit ``amount`` to the student's account (created on first use), under its row lock.

    Call it inside a transaction (``transaction.atomic``) so the lock holds until the write commits.
    """
    alias = using or router.db_for_write(CreditAccount)
    CreditAccount.objects.using(alias).get_or_create(student_id=student.pk)
    account = CreditAccount.objects.using(alias).select_for_update().get(student_id=student.pk)
    record(account, amount, reason)
    return account
