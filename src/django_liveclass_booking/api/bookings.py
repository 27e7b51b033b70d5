"""``bookings/``, ``waitlist/`` and ``reschedule-requests/``: what a student (or the teacher) does with a
booking once it exists: cancel, confirm or decline, move, propose a new time, record what happened;
and answering a waitlist offer or a proposal.

Only what the adapter lets the user see is listed or found (another's is a 404); a visible object
the user may not act on is refused by the service (403 ``not_allowed``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..adapter import get_adapter
from ..models import (
    BookingStatus,
    RescheduleRequest,
    RescheduleStatus,
    SessionWaitlist,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from .base import PAGE, ApiViewSet, booking_context, user_of
from .fields import Instant, Minutes
from .idempotency import idempotent
from .schema import operation
from .serializers import BookingSerializer, RescheduleRequestSerializer, WaitlistEntrySerializer
from .sessions import BOOK_CODES, ReasonInput, valid

LESSON_TIME_CODES = ("start_in_past", "outside_availability", "teacher_unavailable", "min_notice", "max_advance",
                     "duration_not_allowed", "daily_limit", "weekly_limit", "invalid_duration")


class BookingFilter(serializers.Serializer):
    role = serializers.ChoiceField(choices=[("student", "student"), ("teacher", "teacher")], required=False,
                                   help_text="Only bookings the user holds as the student, or teaches.")
    status = serializers.ChoiceField(choices=BookingStatus.choices, required=False)
    start_after = Instant(required=False)
    start_before = Instant(required=False)


class ProposalInput(serializers.Serializer):
    start = Instant()
    duration_minutes = Minutes(required=False)
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class MoveInput(serializers.Serializer):
    session = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The class to move the seat to.")


class OutcomeInput(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[(s, s) for s in (
        BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.TEACHER_NO_SHOW)])
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class BookingViewSet(ApiViewSet):
    """The user's bookings: as the student, as the teacher, or all for a manager."""

    serializer_class = BookingSerializer

    def get_queryset(self) -> QuerySet[Any]:
        bookings = get_booking_model().objects.select_related("session", "student", "teacher")
        return get_adapter().bookings_visible_to(user_of(self.request), bookings).order_by("start_at_utc", "pk")

    def _one(self, booking: Any, status: int = 200) -> Response:
        user = user_of(self.request)
        return Response(BookingSerializer(booking, context=booking_context(user, [booking])).data, status)

    @operation(summary="List bookings", detail=False, response=BookingSerializer(many=True),
               parameters=[*PAGE, BookingFilter], description="Soonest first.")
    def list(self, request: Request) -> Response:
        query = valid(BookingFilter, request.query_params, query=True)
        user = user_of(request)
        bookings = self.get_queryset()
        if query.get("role") == "student":
            bookings = bookings.filter(student_id=user.pk)
        elif query.get("role") == "teacher":
            bookings = bookings.filter(teacher_id=user.pk)
        if "status" in query:
            bookings = bookings.filter(status=query["status"])
        if "start_after" in query:
            bookings = bookings.filter(start_at_utc__gt=query["start_after"])
        if "start_before" in query:
            bookings = bookings.filter(start_at_utc__lt=query["start_before"])
        return self.page_of(bookings, lambda page: BookingSerializer(
            page, many=True, context=booking_context(user, page)))

    @operation(summary="One booking", response=BookingSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return self._one(self.get_object())

    @operation(summary="Cancel a booking", method="post", request=ReasonInput, response=BookingSerializer,
               codes=("invalid_transition", "cancellation_window", "invalid_text", "not_allowed"),
               description="By its student, its teacher or a manager; the seat goes to the waitlist.")
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        booking = self.get_object()
        data = valid(ReasonInput, request.data)
        return self._one(services.cancel_booking(booking, actor=user_of(request), reason=data["reason"]))

    @operation(summary="Confirm a pending booking", method="post", request=None, response=BookingSerializer,
               codes=("invalid_transition", "teacher_unavailable", "session_full", "not_allowed"))
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        return self._one(services.confirm_booking(self.get_object(), actor=user_of(request)))

    @operation(summary="Decline a pending booking", method="post", request=ReasonInput, response=BookingSerializer,
               codes=("invalid_transition", "invalid_text", "not_allowed"))
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        booking = self.get_object()
        data = valid(ReasonInput, request.data)
        return self._one(services.decline_booking(booking, actor=user_of(request), reason=data["reason"]))

    @operation(summary="Move a seat to another class", method="post", request=MoveInput, response=BookingSerializer,
               codes=(*BOOK_CODES, "not_movable", "same_time", "invalid_transition", "cancellation_window",
                      "not_allowed"),
               description="To another group class of the same teacher, in one step; the booking keeps its id.")
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str) -> Response:
        booking = self.get_object()
        data = valid(MoveInput, request.data)
        sessions = get_adapter().sessions_visible_to(user_of(request), get_session_model().objects.all())
        target = sessions.filter(pk=data["session"]).first()
        if target is None:
            raise serializers.ValidationError({"session": ["No class with this id."]}, code="not_found")
        return self._one(services.move_seat(booking, target, actor=user_of(request)))

    @operation(summary="Propose a new time for a lesson", method="post", request=ProposalInput,
               response=RescheduleRequestSerializer, status=201, idempotent=True,
               codes=(*LESSON_TIME_CODES, "not_a_lesson", "reschedule_pending", "same_time", "invalid_transition",
                      "cancellation_window", "invalid_text", "invalid_datetime", "not_allowed"),
               description="By the student or the teacher of a 1:1 lesson. Applied at once (`accepted`) when the "
               "teacher's policy would confirm it; else `pending` for the other party.")
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: str) -> Response:
        booking = self.get_object()
        data = valid(ProposalInput, request.data)

        def propose() -> Response:
            proposal = services.request_reschedule(
                booking, start=data["start"], duration=data.get("duration_minutes"), message=data["message"],
                actor=user_of(request))
            return Response(RescheduleRequestSerializer(proposal).data, 201)

        return idempotent(request, propose)

    @operation(summary="Record what happened", method="post", request=OutcomeInput, response=BookingSerializer,
               codes=("session_not_started", "outcome_window_closed", "invalid_outcome", "invalid_transition",
                      "invalid_text", "not_allowed"),
               description="The teacher records `completed` or `no_show`, the student `teacher_no_show`; "
               "a disagreement makes the booking `disputed`.")
    @action(detail=True, methods=["post"])
    def outcome(self, request: Request, pk: str) -> Response:
        booking = self.get_object()
        data = valid(OutcomeInput, request.data)
        return self._one(services.record_outcome(booking, outcome=data["outcome"], note=data["note"],
                                                 actor=user_of(request)))


class WaitlistFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=WaitlistStatus.choices, required=False)


class WaitlistViewSet(ApiViewSet):
    """The user's own places on waitlists, and the places in line for the classes they manage (the
    adapter's ``teacher_rows_managed_by``: a teacher's own classes, every class for a manager)."""

    serializer_class = WaitlistEntrySerializer

    def get_queryset(self) -> QuerySet[Any]:
        entries = SessionWaitlist.objects.select_related("session", "student").order_by("-created", "-pk")
        user = user_of(self.request)
        managed = get_adapter().teacher_rows_managed_by(user, get_session_model().objects.all())
        return entries.filter(Q(student_id=user.pk) | Q(session_id__in=managed.values("pk")))

    @operation(summary="List my waitlist places", detail=False, response=WaitlistEntrySerializer(many=True),
               parameters=[*PAGE, WaitlistFilter], description="Newest first.")
    def list(self, request: Request) -> Response:
        query = valid(WaitlistFilter, request.query_params, query=True)
        entries = self.get_queryset()
        if "status" in query:
            entries = entries.filter(status=query["status"])
        return self.page_of(entries, lambda page: WaitlistEntrySerializer(page, many=True))

    @operation(summary="One waitlist place", response=WaitlistEntrySerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(WaitlistEntrySerializer(self.get_object()).data)

    @operation(summary="Accept a seat offer", method="post", request=None, response=BookingSerializer, status=201,
               codes=("invalid_transition", "offer_expired", "session_closed", "already_booked", "not_allowed"),
               description="Turns the offer into a confirmed booking, without a new decision of the policy "
               "(it was checked when the student joined the line).")
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        booking = services.accept_offer(self.get_object(), actor=user_of(request))
        user = user_of(request)
        return Response(BookingSerializer(booking, context=booking_context(user, [booking])).data, 201)

    @operation(summary="Decline a seat offer", method="post", request=None, response=WaitlistEntrySerializer,
               codes=("invalid_transition", "not_allowed"), description="The seat goes to the next in line.")
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        entry = services.decline_offer(self.get_object(), actor=user_of(request))
        return Response(WaitlistEntrySerializer(entry).data)

    @operation(summary="Leave the waitlist", method="post", request=None, response=WaitlistEntrySerializer,
               codes=("invalid_transition", "not_allowed"))
    @action(detail=True, methods=["post"])
    def leave(self, request: Request, pk: str) -> Response:
        entry = services.leave_waitlist(self.get_object(), actor=user_of(request))
        return Response(WaitlistEntrySerializer(entry).data)


class RescheduleFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=RescheduleStatus.choices, required=False)


class RescheduleRequestViewSet(ApiViewSet):
    """Proposals to move the user's lessons, made by them or to them."""

    serializer_class = RescheduleRequestSerializer

    def get_queryset(self) -> QuerySet[Any]:
        bookings = get_adapter().bookings_visible_to(user_of(self.request), get_booking_model().objects.all())
        return (RescheduleRequest.objects.filter(booking__in=bookings.values("pk"))
                .select_related("proposed_by", "decided_by").order_by("-created", "-pk"))

    @operation(summary="List proposals", detail=False, response=RescheduleRequestSerializer(many=True),
               parameters=[*PAGE, RescheduleFilter], description="Newest first.")
    def list(self, request: Request) -> Response:
        query = valid(RescheduleFilter, request.query_params, query=True)
        proposals = self.get_queryset()
        if "status" in query:
            proposals = proposals.filter(status=query["status"])
        return self.page_of(proposals, lambda page: RescheduleRequestSerializer(page, many=True))

    @operation(summary="One proposal", response=RescheduleRequestSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(RescheduleRequestSerializer(self.get_object()).data)

    @operation(summary="Accept a proposal", method="post", request=None, response=BookingSerializer,
               codes=("invalid_transition", "reschedule_expired", "teacher_unavailable", *LESSON_TIME_CODES,
                      "not_allowed"),
               description="By the other party: the lesson moves (it keeps its id).")
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        booking = services.accept_reschedule(self.get_object(), actor=user_of(request))
        user = user_of(request)
        return Response(BookingSerializer(booking, context=booking_context(user, [booking])).data)

    @operation(summary="Decline a proposal", method="post", request=ReasonInput, response=RescheduleRequestSerializer,
               codes=("invalid_transition", "reschedule_expired", "invalid_text", "not_allowed"))
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        proposal = self.get_object()
        data = valid(ReasonInput, request.data)
        return Response(RescheduleRequestSerializer(services.decline_reschedule(
            proposal, actor=user_of(request), reason=data["reason"])).data)

    @operation(summary="Withdraw my proposal", method="post", request=None, response=RescheduleRequestSerializer,
               codes=("invalid_transition", "not_allowed"))
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        return Response(RescheduleRequestSerializer(services.withdraw_reschedule(
            self.get_object(), actor=user_of(request))).data)
