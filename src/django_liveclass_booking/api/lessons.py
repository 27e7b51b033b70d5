"""``teachers/`` and ``series/``: 1:1 lessons a student asks a teacher for, one at a time or weekly, and the
series' decisions; subscribing to every class of a recurring group class.

Teachers listed are those who take 1:1 requests (with an availability window, or any policy when
the app does not require windows). A series the user may not see is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..adapter import get_adapter
from ..conf import booking_settings
from ..models import BookingSeries, OnConflict, TeacherAvailability, TeacherBookingPolicy
from ..services._engine import db
from .base import ApiViewSet, booking_context, user_of
from .bookings import LESSON_TIME_CODES, PAGE
from .fields import Instant, Minutes
from .idempotency import idempotent
from .schema import operation
from .serializers import BookingSerializer, SeriesSerializer, TeacherSerializer
from .sessions import ReasonInput, valid

SERIES_CODES = ("recurring_not_allowed", "invalid_rrule", "too_many_occurrences", "invalid_timezone",
                "invalid_on_conflict", "no_sessions", "own_session", "max_pending", "invalid_datetime",
                *LESSON_TIME_CODES)


class SlotQuery(serializers.Serializer):
    start = Instant(help_text="From this instant.")
    end = Instant(help_text="Up to this instant (at most 92 days after start).")
    duration_minutes = Minutes(help_text="The lesson length to find room for.")


class LessonInput(serializers.Serializer):
    start = Instant()
    duration_minutes = Minutes()
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SeriesInput(serializers.Serializer):
    first_start = Instant()
    duration_minutes = Minutes()
    rrule = serializers.CharField(max_length=500, help_text="An RFC 5545 rule, e.g. FREQ=WEEKLY;COUNT=6.")
    timezone = serializers.CharField(max_length=64, help_text="The IANA zone the lessons repeat in.")
    on_conflict = serializers.ChoiceField(choices=OnConflict.choices, required=False, default=OnConflict.SKIP)


class SubscribeInput(serializers.Serializer):
    recurrence_key = serializers.CharField(max_length=64, help_text="The `recurrence_key` of a recurring class.")
    on_conflict = serializers.ChoiceField(choices=OnConflict.choices, required=False, default=OnConflict.SKIP)


class SeriesCancelInput(ReasonInput):
    from_start = Instant(required=False, help_text="Cancel only the lessons from this instant on (default: all "
                         "upcoming ones).")


def teachers() -> QuerySet[Any]:
    """Users who take 1:1 requests, by username."""
    user_model = get_user_model()
    ids: QuerySet[Any, Any] = (TeacherAvailability.objects.values("teacher_id") if booking_settings.REQUIRE_AVAILABILITY
                               else TeacherBookingPolicy.objects.values("teacher_id"))
    return user_model._default_manager.filter(pk__in=ids, is_active=True).order_by(user_model.USERNAME_FIELD, "pk")


def with_policies(users: list[Any]) -> list[Any]:
    """``users``, each with its booking policy (the defaults where it has none) as ``.policy``: one query."""
    found = {p.teacher_id: p for p in TeacherBookingPolicy.objects.filter(teacher_id__in=[u.pk for u in users])}
    for user in users:
        user.policy = found.get(user.pk) or TeacherBookingPolicy(teacher_id=user.pk, **TeacherBookingPolicy.defaults())
    return users


class TeacherViewSet(ApiViewSet):
    """Teachers who take 1:1 lessons, their free times, and asking them for lessons."""

    serializer_class = TeacherSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return teachers()

    @operation(summary="List teachers", detail=False, response=TeacherSerializer(many=True), parameters=PAGE)
    def list(self, request: Request) -> Response:
        return self.page_of(self.get_queryset(), lambda page: TeacherSerializer(with_policies(page), many=True))

    @operation(summary="One teacher", response=TeacherSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(TeacherSerializer(with_policies([self.get_object()])[0]).data)

    @operation(summary="Free times for a lesson", codes=("range_too_long", "end_before_start", "invalid_duration",
                                                                "duration_not_allowed", "invalid_datetime"),
               response=inline_serializer("Slot", {"start": Instant(), "end": Instant()}, many=True),
               parameters=[SlotQuery, *PAGE],
               description="Start times the teacher could take a lesson of this length, soonest first.")
    @action(detail=True, methods=["get"])
    def slots(self, request: Request, pk: str) -> Response:
        teacher = self.get_object()
        query = valid(SlotQuery, request.query_params, query=True)
        found = services.available_slots(teacher, start=query["start"], end=query["end"],
                                         duration=query["duration_minutes"])
        return self.page_of(found, lambda page: _Slot(page, many=True))  # type: ignore[arg-type]

    @operation(summary="Ask for a lesson", method="post", request=LessonInput, response=BookingSerializer, status=201,
               idempotent=True,
               codes=(*LESSON_TIME_CODES, "own_session", "max_pending", "invalid_text", "invalid_datetime"),
               description="A 1:1 lesson with this teacher: confirmed at once or pending their approval, "
               "as their policy says.")
    @action(detail=True, methods=["post"])
    def lessons(self, request: Request, pk: str) -> Response:
        teacher = self.get_object()
        data = valid(LessonInput, request.data)

        def ask() -> Response:
            user = user_of(request)
            booking = services.request_lesson(user, teacher, start=data["start"], duration=data["duration_minutes"],
                                              message=data["message"])
            return Response(BookingSerializer(booking, context=booking_context(user, [booking])).data, 201)

        return idempotent(request, ask)

    @operation(summary="Book weekly lessons", method="post", request=SeriesInput, response=SeriesSerializer,
               status=201, idempotent=True, codes=SERIES_CODES,
               description="One lesson per occurrence of the rule, in its zone. Occurrences that cannot be booked "
               "are skipped (`on_conflict=skip`) or refuse the whole series (`fail`); see each item's status.")
    @action(detail=True, methods=["post"])
    def series(self, request: Request, pk: str) -> Response:
        teacher = self.get_object()
        data = valid(SeriesInput, request.data)

        def create() -> Response:
            created = services.create_series(
                user_of(request), teacher, first_start=data["first_start"], duration=data["duration_minutes"],
                rrule=data["rrule"], timezone=data["timezone"], on_conflict=data["on_conflict"])
            return Response(SeriesSerializer(series_of().using(db.alias()).get(pk=created.pk)).data, 201)

        return idempotent(request, create)


class _Slot(serializers.Serializer):
    start = Instant()
    end = Instant()

    def to_representation(self, instance: Any) -> Any:
        return {"start": self.fields["start"].to_representation(instance[0]),
                "end": self.fields["end"].to_representation(instance[1])}


def series_of() -> QuerySet[BookingSeries]:
    return BookingSeries.objects.select_related("student", "teacher").prefetch_related("items")


class SeriesViewSet(ApiViewSet):
    """The user's series: as the student, as the teacher, or all for a manager."""

    serializer_class = SeriesSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return get_adapter().series_visible_to(user_of(self.request), series_of()).order_by("-created", "-pk")

    @operation(summary="List series", detail=False, response=SeriesSerializer(many=True), parameters=PAGE,
               description="Newest first, each with its occurrences.")
    def list(self, request: Request) -> Response:
        return self.page_of(self.get_queryset(), lambda page: SeriesSerializer(page, many=True))

    @operation(summary="One series", response=SeriesSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SeriesSerializer(self.get_object()).data)

    @operation(summary="Take a seat in every class of a recurring class", method="post", detail=False,
               request=SubscribeInput, response=SeriesSerializer, status=201, idempotent=True,
               codes=("invalid_recurrence_key", "no_sessions", "invalid_on_conflict", "session_full",
                      "already_booked", "own_session", "daily_limit", "weekly_limit"))
    def create(self, request: Request) -> Response:
        data = valid(SubscribeInput, request.data)

        def subscribe() -> Response:
            created = services.subscribe_to_recurring_sessions(user_of(request), data["recurrence_key"],
                                                               on_conflict=data["on_conflict"])
            return Response(SeriesSerializer(series_of().using(db.alias()).get(pk=created.pk)).data, 201)

        return idempotent(request, subscribe)

    @operation(summary="Cancel a series", method="post", request=SeriesCancelInput,
               response=inline_serializer("SeriesCancelled", {"cancelled": serializers.IntegerField()}),
               codes=("invalid_text", "invalid_datetime", "not_allowed"),
               description="Its upcoming bookings (or those from `from_start` on); answers how many were cancelled.")
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        series = self.get_object()
        data = valid(SeriesCancelInput, request.data)
        count = services.cancel_series(series, actor=user_of(request), from_start=data.get("from_start"),
                                       reason=data["reason"])
        return Response({"cancelled": count})

    @operation(summary="Confirm a pending series", method="post", request=None, response=SeriesSerializer,
               codes=("invalid_transition", "teacher_unavailable", "not_allowed"))
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        series = services.confirm_series(self.get_object(), actor=user_of(request))
        return Response(SeriesSerializer(series_of().using(db.alias()).get(pk=series.pk)).data)

    @operation(summary="Decline a pending series", method="post", request=ReasonInput, response=SeriesSerializer,
               codes=("invalid_transition", "invalid_text", "not_allowed"))
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        series = self.get_object()
        data = valid(ReasonInput, request.data)
        series = services.decline_series(series, actor=user_of(request), reason=data["reason"])
        return Response(SeriesSerializer(series_of().using(db.alias()).get(pk=series.pk)).data)
