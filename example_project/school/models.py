from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from django_liveclass_booking.models import AbstractLiveClassSession


class Lesson(AbstractLiveClassSession):
    """The school's session model: a live class with a subject (``LIVECLASS_BOOKING_SESSION_MODEL``)."""

    subject = models.CharField("subject", max_length=100, blank=True)

    class Meta(AbstractLiveClassSession.Meta):
        verbose_name = "lesson"
        verbose_name_plural = "lessons"


# --- Lesson credits: a balance per student and the ledger that explains it ------------------------
# school.adapter.SchoolAdapter charges and refunds them inside the booking transaction.


class CreditAccount(models.Model):
    """A student's lesson credits. The balance never goes below zero: the database refuses it."""

    student = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_account")
    balance = models.PositiveIntegerField("balance", default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0),
                                   name="school_creditaccount_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.student} ({self.balance} credits)"


class CreditEntry(models.Model):
    """One change of a balance, and why: the account's history, newest last."""

    class Reason(models.TextChoices):
        PURCHASE = "purchase", _("Bought")
        GIFT = "gift", _("Welcome credits")
        CHARGE = "charge", _("Booked")
        REFUND = "refund", _("Refunded")
        FORFEIT = "forfeit", _("Kept: cancelled late")

    account = models.ForeignKey(CreditAccount, on_delete=models.CASCADE, related_name="entries")
    # Kept when a booking is deleted: the ledger is the account's history, not the booking's.
    booking = models.ForeignKey(settings.LIVECLASS_BOOKING_BOOKING_MODEL, on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+")
    delta = models.IntegerField("change")
    reason = models.CharField("reason", max_length=16, choices=Reason.choices)
    at = models.DateTimeField("at", default=now)

    class Meta:
        verbose_name_plural = "credit entries"
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.delta:+d} {self.get_reason_display()}"


# --- The demo -------------------------------------------------------------------------------------


class DemoSeeding(models.Model):
    """When ``liveclass_demo`` seeded this database: a run that finds a row seeds nothing.

    So rows deleted or edited since (in the admin, on the pages) stay deleted or edited; only
    ``liveclass_demo --reset``, which empties the database first, seeds again.
    """

    seeded_at = models.DateTimeField("seeded at", default=now)

    def __str__(self) -> str:
        return f"demo data seeded at {self.seeded_at:%Y-%m-%d %H:%M} UTC"


# --- The platform's tables before it adopted the booking app ---------------------------------------
# Kept only so that migration 0003 can import their rows (see docs/legacy.rst). The old schema had
# no unique constraints, so they may hold duplicates, overbooked classes and overlapping lessons.

LEGACY_CLASS_STATUSES = [("scheduled", "Scheduled"), ("cancelled", "Cancelled"), ("completed", "Completed")]
LEGACY_BOOKING_STATUSES = [
    ("pending", "Pending"), ("confirmed", "Confirmed"), ("booked", "Booked"), ("cancelled", "Cancelled"),
    ("declined", "Declined"), ("attended", "Attended"), ("no_show", "No-show"),
]


class LegacyClass(models.Model):
    """A group class with a seat count, as the old platform stored it."""

    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200, blank=True)
    scheduled_start = models.DateTimeField()
    timezone = models.CharField(max_length=64, default="UTC")
    duration_minutes = models.PositiveIntegerField()
    total_seats = models.PositiveIntegerField()
    meeting_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=LEGACY_CLASS_STATUSES, default="scheduled")

    def __str__(self) -> str:
        return f"Legacy class #{self.pk} ({self.status})"


class LegacyBooking(models.Model):
    """A seat in a legacy group class."""

    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(LegacyClass, on_delete=models.CASCADE, related_name="bookings")
    status = models.CharField(max_length=16, choices=LEGACY_BOOKING_STATUSES, default="pending")
    created = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"Legacy booking #{self.pk} ({self.status})"


class LegacyOneOnOneBooking(models.Model):
    """A legacy 1:1 lesson: the booking carries its own time (there was no session row)."""

    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    scheduled_start = models.DateTimeField()
    timezone = models.CharField(max_length=64, default="UTC")
    duration_minutes = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=LEGACY_BOOKING_STATUSES, default="pending")
    created = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"Legacy 1:1 booking #{self.pk} ({self.status})"


# --- Each person's own settings ---------------------------------------------------------------------


class Profile(models.Model):
    """A person's time zone, kept across logins (school.adapter.SchoolAdapter reads and writes it)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="school_profile")
    timezone = models.CharField("time zone", max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.timezone or 'no time zone'})"
