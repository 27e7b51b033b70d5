"""``sessions/``: classes and lessons, booking a seat, joining the waitlist; for teachers, scheduling,
changing, moving and cancelling a class, and its roster.

A session the viewer may not see (another pair's 1:1 lesson) is a 404; the teacher operations on a
class the viewer sees but may not manage are refused by the service (403 ``not_allowed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..adapter import get_adapter
from ..exceptions import NotAllowed
from ..models import SessionKind, SessionWaitlist, get_booking_model, get_session_model
from .base import PAGE, ApiViewSet, booking_context, now, session_context, user_of
from .errors import unknown_fields
from .fields import Instant, Minutes
from .idempotency import idempotent
from .schema import operation
from .serializers import BookingSerializer, SessionSerializer, WaitlistEntrySerializer

BOOK_CODES = ("session_closed", "not_a_group_session", "own_session", "session_full", "already_booked",
              "offer_pending", "not_first_in_line", "daily_limit", "weekly_limit", "min_notice", "max_advance",
              "max_pending")
SCHEDULE_CODES = ("start_in_past", "invalid_duration", "invalid_capacity", "invalid_text", "invalid_timezone",
                  "invalid_session", "teacher_unavailable", "invalid_datetime", "not_allowed")


class SessionFilter(serializers.Serializer):
    start_after = Instant(required=False, help_text="Sessions starting after this instant (default: now).")
    start_before = Instant(required=False, help_text="Sessions starting before this instant.")
    teacher = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    kind = serializers.ChoiceField(choices=SessionKind.choices, required=False)


class MeetingFields(serializers.Serializer):
    meeting_provider = serializers.CharField(required=False, allow_blank=True, max_length=64)
    meeting_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    meeting_passcode = serializers.CharField(required=False, allow_blank=True, max_length=128)


class ScheduleInput(MeetingFields):
    start = Instant()
    duration_minutes = Minutes()
    capacity = serializers.IntegerField(min_value=1, max_value=100_000)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    timezone = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                     help_text="The IANA zone the class is planned in (shown with its times).")


class RecurringInput(ScheduleInput):
    start = None  # type: ignore[assignment]
    first_start = Instant()
    rrule = serializers.CharField(max_length=500, help_text="An RFC 5545 rule, e.g. FREQ=WEEKLY;COUNT=8.")
    timezone = serializers.CharField(max_length=64, help_text="The IANA zone the rule repeats in.")


class UpdateInput(MeetingFields):
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    capacity = serializers.IntegerField(required=False, min_value=1, max_value=100_000)


class RescheduleInput(serializers.Serializer):
    start = Instant()
    duration_minutes = Minutes(required=False)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


def as_json(fields: Mapping[str, serializers.Field], data: Any) -> Any:
    """A query string read as the same JSON object would be: one value a field, kept as sent.

    DRF would quietly take the last of repeated values and treat an empty one as left out (so
    ``?status=`` would list everything); here a repeated field is refused and an empty one judged.
    """
    if not isinstance(data, QueryDict):
        return data
    repeated = {name: [_("Give this field once.")] for name in fields if len(data.getlist(name)) > 1}
    if repeated:
        raise serializers.ValidationError(repeated, code="invalid")
    return {name: data[name] for name in fields if name in data}


def valid(serializer_class: type[serializers.Serializer], data: Any, *, query: bool = False) -> dict[str, Any]:
    """``data`` (a JSON body or a query string) validated by ``serializer_class`` (a 400 ``invalid_request``
    otherwise).

    A body naming a field the operation does not take is refused rather than half read; a query
    string may carry others (``page``, ``format``).
    """
    serializer = serializer_class(data=as_json(serializer_class().fields, data))
    serializer.is_valid(raise_exception=True)
    if not query:
        refuse_unknown(serializer, data)
    return dict(serializer.validated_data)


def refuse_unknown(serializer: serializers.BaseSerializer, data: Any) -> None:
    """A 400 ``invalid_request`` naming each field of ``data`` that ``serializer`` does not take."""
    writable = {name for name, field in getattr(serializer, "fields", {}).items() if not field.read_only}
    unknown = sorted(str(name) for name in data if name not in writable) if isinstance(data, Mapping) else []
    if unknown:
        raise unknown_fields(unknown)


def require_teacher(user: Any) -> None:
    """The teacher operations need a user the adapter counts as a teacher."""
    if not get_adapter().is_teacher(user):
        raise NotAllowed(code="not_allowed", params={"action": "teach"})


class SessionViewSet(ApiViewSet):
    """Classes and lessons the user may see."""

    serializer_class = SessionSerializer

    def get_queryset(self) -> QuerySet[Any]:
        sessions = get_session_model().objects.select_related("teacher").order_by("start_at_utc", "pk")
        return get_adapter().sessions_visible_to(user_of(self.request), sessions)

    def _one(self, session: Any, status: int = 200) -> Response:
        user = user_of(self.request)
        return Response(SessionSerializer(session, context=session_context(user, [session])).data, status)

    @operation(summary="List sessions", detail=False, response=SessionSerializer(many=True),
               parameters=[*PAGE, SessionFilter],
               description="Classes (and the viewer's own lessons), soonest first; by default only those "
               "starting from now.")
    def list(self, request: Request) -> Response:
        query = valid(SessionFilter, request.query_params, query=True)
        sessions = self.get_queryset().filter(start_at_utc__gt=query.get("start_after") or now())
        if "start_before" in query:
            sessions = sessions.filter(start_at_utc__lt=query["start_before"])
        if "teacher" in query:
            sessions = sessions.filter(teacher_id=query["teacher"])
        if "kind" in query:
            sessions = sessions.filter(kind=query["kind"])
        user = user_of(request)
        return self.page_of(sessions, lambda page: SessionSerializer(
            page, many=True, context=session_context(user, page)))

    @operation(summary="One session", response=SessionSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return self._one(self.get_object())

    @operation(summary="Schedule a class", method="post", detail=False, request=ScheduleInput,
               response=SessionSerializer, status=201, codes=SCHEDULE_CODES, idempotent=True,
               description="A group class taught by the signed-in teacher.")
    def create(self, request: Request) -> Response:
        teacher = user_of(request)
        require_teacher(teacher)
        data = valid(ScheduleInput, request.data)
        # Blank as left out: the class is planned in the teacher's zone.
        data["timezone"] = data.get("timezone") or None

        def schedule() -> Response:
            return self._one(services.schedule_session(
                teacher, start=data.pop("start"), duration=data.pop("duration_minutes"), **data), 201)

        return idempotent(request, schedule)

    @operation(summary="Schedule a recurring class", method="post", detail=False, request=RecurringInput,
               response=SessionSerializer(many=True), status=201, idempotent=True,
               codes=(*SCHEDULE_CODES, "invalid_rrule", "too_many_occurrences", "no_sessions"),
               description="One class per occurrence of the rule, in the rule's zone (DST-proof).")
    # Not paginated: the answer is every class made, in one list.
    @action(detail=False, methods=["post"], pagination_class=None)
    def recurring(self, request: Request) -> Response:
        teacher = user_of(request)
        require_teacher(teacher)
        data = valid(RecurringInput, request.data)

        def schedule() -> Response:
            sessions = services.schedule_recurring_sessions(
                teacher, first_start=data.pop("first_start"), duration=data.pop("duration_minutes"), **data)
            context = session_context(teacher, sessions)
            return Response(SessionSerializer(sessions, many=True, context=context).data, 201)

        return idempotent(request, schedule)

    @operation(summary="Change a class", method="patch", request=UpdateInput, response=SessionSerializer,
               codes=("capacity_below_taken", "invalid_capacity", "invalid_text", "invalid_session",
                      "not_a_group_session", "session_closed", "not_allowed"),
               description="Title, capacity or meeting details; seats added go to the waitlist at once.")
    def partial_update(self, request: Request, pk: str) -> Response:
        session = self.get_object()
        data = valid(UpdateInput, request.data)
        return self._one(services.update_session(session, actor=user_of(request), **data))

    @operation(summary="Move a class", method="post", request=RescheduleInput, response=SessionSerializer,
               codes=("start_in_past", "teacher_unavailable", "session_closed", "invalid_duration", "not_a_lesson",
                      "invalid_datetime", "not_allowed"),
               description="Every active booking moves with it.")
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: str) -> Response:
        session = self.get_object()
        data = valid(RescheduleInput, request.data)
        return self._one(services.reschedule_session(
            session, start=data["start"], duration=data.get("duration_minutes"), actor=user_of(request)))

    @operation(summary="Cancel a class", method="post", request=ReasonInput, response=SessionSerializer,
               codes=("invalid_transition", "session_closed", "invalid_text", "not_allowed"),
               description="Its bookings are cancelled and its waitlist closed.")
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        session = self.get_object()
        data = valid(ReasonInput, request.data)
        return self._one(services.cancel_session(session, actor=user_of(request), reason=data["reason"]))

    @operation(summary="Book a seat", method="post", request=None, response=BookingSerializer, status=201,
               codes=BOOK_CODES, idempotent=True,
               description="A seat for the signed-in user: confirmed, or pending when the teacher approves "
               "bookings. `GET` lists the class's bookings (its roster) for whoever manages it.")
    @action(detail=True, methods=["post"], url_path="bookings")
    def book(self, request: Request, pk: str) -> Response:
        session = self.get_object()

        def book() -> Response:
            user = user_of(request)
            booking = services.book_seat(user, session, actor=user)
            return Response(BookingSerializer(booking, context=booking_context(user, [booking])).data, 201)

        return idempotent(request, book)

    @operation(summary="The class's bookings (roster)", response=BookingSerializer(many=True),
               codes=("not_allowed",), parameters=PAGE)
    @book.mapping.get
    def roster(self, request: Request, pk: str) -> Response:
        session = self._managed()
        bookings = (get_booking_model().objects.filter(session_id=session.pk)
                    .select_related("session", "student", "teacher").order_by("created", "pk"))
        user = user_of(request)
        return self.page_of(bookings, lambda page: BookingSerializer(
            page, many=True, context=booking_context(user, page)))

    @operation(summary="Join the waitlist", method="post", request=None, response=WaitlistEntrySerializer,
               status=201, idempotent=True,
               codes=("session_closed", "not_a_group_session", "own_session", "seats_available", "already_booked",
                      "already_waitlisted", "waitlist_disabled", "daily_limit", "weekly_limit", "min_notice",
                      "max_advance", "max_pending"),
               description="A place in line for a full class. `GET` lists the line for whoever manages the class.")
    @action(detail=True, methods=["post"], url_path="waitlist")
    def join_waitlist(self, request: Request, pk: str) -> Response:
        session = self.get_object()

        def join() -> Response:
            entry = services.join_waitlist(user_of(request), session)
            return Response(WaitlistEntrySerializer(entry).data, 201)

        return idempotent(request, join)

    @operation(summary="The class's waitlist", response=WaitlistEntrySerializer(many=True), codes=("not_allowed",),
               parameters=PAGE)
    @join_waitlist.mapping.get
    def waitlist(self, request: Request, pk: str) -> Response:
        session = self._managed()
        entries = (SessionWaitlist.objects.filter(session_id=session.pk)
                   .select_related("session", "student").order_by("position", "pk"))
        return self.page_of(entries, lambda page: WaitlistEntrySerializer(page, many=True))

    def _managed(self) -> Any:
        session = self.get_object()
        if not get_adapter().can_manage_session(user_of(self.request), session):
            raise NotAllowed(code="not_allowed", params={"action": "manage"})
        return session
