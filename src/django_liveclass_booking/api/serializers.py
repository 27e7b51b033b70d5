"""What the API answers with: sessions, bookings, waitlist entries, series, proposals, teachers' rows.

Every serializer reads attributes only (no query of its own): the views select and prefetch what
they show, and pass what depends on the viewer (their booking in each class, whether they may see
the meeting details) in the serializer context, computed once per page.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import (
    ApprovalMode,
    BookingStatus,
    OnConflict,
    RescheduleStatus,
    SeriesItemStatus,
    SeriesStatus,
    SessionKind,
    SessionStatus,
    WaitlistStatus,
)
from .fields import Instant, LocalTime, Person


class MeetingSerializer(serializers.Serializer):
    provider = serializers.CharField(source="meeting_provider")
    url = serializers.CharField(source="meeting_url")
    passcode = serializers.CharField(source="meeting_passcode")


class ViewerBookingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=BookingStatus.choices)


class ViewerEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=WaitlistStatus.choices)
    position = serializers.IntegerField()


class SessionSerializer(serializers.Serializer):
    """A class or lesson. ``meeting`` is ``null`` unless the viewer may see it (the adapter decides);
    ``my_booking`` and ``my_waitlist_entry`` are the viewer's own, if any."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=SessionKind.choices)
    title = serializers.CharField()
    teacher = Person()
    start = Instant(source="start_at_utc")
    end = Instant(source="end_at_utc")
    duration_minutes = serializers.IntegerField()
    timezone = serializers.CharField(source="timezone_snapshot")
    capacity = serializers.IntegerField()
    seats_taken = serializers.IntegerField()
    seats_left = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=SessionStatus.choices)
    cancellation_reason = serializers.CharField()
    recurrence_key = serializers.CharField(allow_null=True, help_text="Shared by the classes of one recurring "
                                           "class; null for a class scheduled on its own.")
    meeting = serializers.SerializerMethodField()
    my_booking = serializers.SerializerMethodField()
    my_waitlist_entry = serializers.SerializerMethodField()

    def get_seats_left(self, session: Any) -> int:
        return max(0, session.capacity - session.seats_taken)

    @extend_schema_field(MeetingSerializer(allow_null=True))
    def get_meeting(self, session: Any) -> dict[str, Any] | None:
        shown = self.context.get("meeting_shown", set())
        return MeetingSerializer(session).data if session.pk in shown else None

    @extend_schema_field(ViewerBookingSerializer(allow_null=True))
    def get_my_booking(self, session: Any) -> dict[str, Any] | None:
        booking = self.context.get("my_bookings", {}).get(session.pk)
        return {"id": booking.pk, "status": booking.status} if booking is not None else None

    @extend_schema_field(ViewerEntrySerializer(allow_null=True))
    def get_my_waitlist_entry(self, session: Any) -> dict[str, Any] | None:
        entry = self.context.get("my_entries", {}).get(session.pk)
        return ({"id": entry.pk, "status": entry.status, "position": entry.position}
                if entry is not None else None)


class BookingSerializer(serializers.Serializer):
    """A booking of a seat or a lesson. ``meeting`` as for sessions."""

    id = serializers.IntegerField(read_only=True)
    session = serializers.IntegerField(source="session_id")
    session_title = serializers.CharField(source="session.title")
    kind = serializers.ChoiceField(choices=SessionKind.choices)
    teacher = Person()
    student = Person()
    start = Instant(source="start_at_utc")
    end = Instant(source="end_at_utc")
    timezone = serializers.CharField(source="session.timezone_snapshot")
    status = serializers.ChoiceField(choices=BookingStatus.choices)
    message = serializers.CharField()
    reason = serializers.CharField()
    expires_at = Instant(allow_null=True)
    late_cancellation = serializers.BooleanField()
    created = Instant()
    meeting = serializers.SerializerMethodField()

    @extend_schema_field(MeetingSerializer(allow_null=True))
    def get_meeting(self, booking: Any) -> dict[str, Any] | None:
        shown = self.context.get("meeting_shown_bookings", set())
        return MeetingSerializer(booking.session).data if booking.pk in shown else None


class WaitlistEntrySerializer(serializers.Serializer):
    """A place on a class's waitlist; an offer holds a seat until ``offer_expires_at``."""

    id = serializers.IntegerField(read_only=True)
    session = serializers.IntegerField(source="session_id")
    session_title = serializers.CharField(source="session.title")
    session_start = Instant(source="session.start_at_utc")
    student = Person()
    position = serializers.IntegerField()
    status = serializers.ChoiceField(choices=WaitlistStatus.choices)
    offered_at = Instant(allow_null=True)
    offer_expires_at = Instant(allow_null=True)
    booking = serializers.IntegerField(source="booking_id", allow_null=True)


class SeriesItemSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    start = Instant(source="start_at_utc")
    end = Instant(source="end_at_utc")
    status = serializers.ChoiceField(choices=SeriesItemStatus.choices)
    skip_reason = serializers.CharField()
    booking = serializers.IntegerField(source="booking_id", allow_null=True)


class SeriesSerializer(serializers.Serializer):
    """A weekly series of lessons (or a subscription to a recurring class) and its occurrences."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=SessionKind.choices)
    teacher = Person()
    student = Person()
    rrule = serializers.CharField()
    first_start_date = serializers.DateField()
    first_start_time = LocalTime(help_text="In the series' zone.")
    timezone = serializers.CharField()
    duration_minutes = serializers.IntegerField()
    status = serializers.ChoiceField(choices=SeriesStatus.choices)
    on_conflict = serializers.ChoiceField(choices=OnConflict.choices)
    recurrence_key = serializers.CharField(allow_null=True, help_text="The recurring class a subscription "
                                           "follows; null for weekly 1:1 lessons.")
    items = SeriesItemSerializer(many=True, read_only=True)


class RescheduleRequestSerializer(serializers.Serializer):
    """A proposal to move a 1:1 lesson to a new time."""

    id = serializers.IntegerField(read_only=True)
    booking = serializers.IntegerField(source="booking_id")
    proposed_by = Person()
    start = Instant(source="start_at_utc")
    end = Instant(source="end_at_utc")
    previous_start = Instant(source="previous_start_at_utc")
    previous_end = Instant(source="previous_end_at_utc")
    status = serializers.ChoiceField(choices=RescheduleStatus.choices)
    message = serializers.CharField()
    expires_at = Instant(allow_null=True)
    decided_by = Person()
    decided_at = Instant(allow_null=True)
    reason = serializers.CharField()


class TeacherSerializer(serializers.Serializer):
    """A teacher who takes 1:1 lesson requests, with what their policy tells a student up front."""

    id = serializers.IntegerField(source="pk")
    name = serializers.SerializerMethodField()
    timezone = serializers.CharField(source="policy.timezone", default="UTC")
    approval_mode = serializers.ChoiceField(source="policy.approval_mode", choices=ApprovalMode.choices,
                                            default=ApprovalMode.AUTO)
    lesson_durations = serializers.ListField(child=serializers.IntegerField(), source="policy.lesson_durations",
                                             default=list)
    allow_recurring = serializers.BooleanField(source="policy.allow_recurring", default=True)

    def get_name(self, user: Any) -> str:
        from .fields import display_name

        return display_name(user)


class AvailabilitySerializer(serializers.Serializer):
    """A weekly window in which a teacher takes 1:1 lessons, in the window's own zone."""

    id = serializers.IntegerField(read_only=True)
    teacher = Person()
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 is Monday, 6 is Sunday.")
    start_time = LocalTime(help_text="In the window's zone.")
    end_time = LocalTime(help_text="In the window's zone.")
    timezone = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                     help_text="An IANA zone; the teacher's policy zone when left out.")


class TimeOffSerializer(serializers.Serializer):
    """A stretch of time in which a teacher takes no lesson."""

    id = serializers.IntegerField(read_only=True)
    teacher = Person()
    start = Instant(source="start_at_utc")
    end = Instant(source="end_at_utc")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)
