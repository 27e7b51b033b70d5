"""``teach/``: a teacher's own booking policy, weekly availability windows and time off.

Only for users the adapter counts as teachers (others: 403 ``not_allowed``); each works on the
signed-in teacher's own rows, and a manager's view of the windows is the adapter's
``teacher_rows_managed_by``. Every change is one service call with the user as the actor.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..adapter import get_adapter
from ..forms.teacher import POLICY_FIELDS
from ..models import TeacherAvailability, TeacherBookingPolicy, TeacherTimeOff
from .base import ApiViewSet, user_of
from .bookings import PAGE
from .schema import operation
from .serializers import AvailabilitySerializer, TimeOffSerializer
from .sessions import refuse_unknown, require_teacher, valid


class PolicySerializer(serializers.ModelSerializer):
    """A teacher's booking rules. ``null`` in an optional limit means no limit."""

    lesson_durations = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=1440), required=False, max_length=24,
        help_text="Lesson lengths (minutes) students may ask for; empty: any.")

    class Meta:
        model = TeacherBookingPolicy
        fields = POLICY_FIELDS


class TeacherApiViewSet(ApiViewSet):
    """Teachers only."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        require_teacher(user_of(request))

    def mine(self, rows: QuerySet[Any]) -> QuerySet[Any]:
        return get_adapter().teacher_rows_managed_by(user_of(self.request), rows)


class PolicyViewSet(TeacherApiViewSet):
    serializer_class = PolicySerializer

    @operation(summary="My booking policy", detail=False, response=PolicySerializer, codes=("not_allowed",))
    def retrieve(self, request: Request) -> Response:
        return Response(PolicySerializer(TeacherBookingPolicy.for_teacher(user_of(request))).data)

    @operation(summary="Change my booking policy", method="patch", detail=False, request=PolicySerializer,
               response=PolicySerializer, codes=("invalid_policy", "invalid_timezone", "not_allowed"),
               description="Only the fields sent change.")
    def partial_update(self, request: Request) -> Response:
        user = user_of(request)
        serializer = PolicySerializer(TeacherBookingPolicy.for_teacher(user), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        refuse_unknown(serializer, request.data)
        policy = services.set_policy(user, actor=user, **serializer.validated_data)
        return Response(PolicySerializer(policy).data)


class AvailabilityViewSet(TeacherApiViewSet, mixins.DestroyModelMixin):
    serializer_class = AvailabilitySerializer

    def get_queryset(self) -> QuerySet[Any]:
        return self.mine(TeacherAvailability.objects.select_related("teacher")).order_by("weekday", "start_time", "pk")

    @operation(summary="My weekly windows", detail=False, response=AvailabilitySerializer(many=True),
               codes=("not_allowed",), parameters=PAGE)
    def list(self, request: Request) -> Response:
        return self.page_of(self.get_queryset(), lambda page: AvailabilitySerializer(page, many=True))

    @operation(summary="Add a weekly window", method="post", detail=False, request=AvailabilitySerializer,
               response=AvailabilitySerializer, status=201,
               codes=("invalid_availability", "invalid_weekday", "end_before_start", "invalid_timezone", "not_allowed"))
    def create(self, request: Request) -> Response:
        user = user_of(request)
        data = valid(AvailabilitySerializer, request.data)
        window = services.add_availability(user, weekday=data["weekday"], start_time=data["start_time"],
                                           end_time=data["end_time"], timezone=data.get("timezone") or None,
                                           actor=user)
        return Response(AvailabilitySerializer(window).data, 201)

    @operation(summary="Remove a weekly window", method="delete", response=None, status=204, codes=("not_allowed",))
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.remove_availability(self.get_object(), actor=user_of(request))
        return Response(None, 204)


class TimeOffViewSet(TeacherApiViewSet, mixins.DestroyModelMixin):
    serializer_class = TimeOffSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return self.mine(TeacherTimeOff.objects.select_related("teacher")).order_by("start_at_utc", "pk")

    @operation(summary="My time off", detail=False, response=TimeOffSerializer(many=True), codes=("not_allowed",),
               parameters=PAGE)
    def list(self, request: Request) -> Response:
        return self.page_of(self.get_queryset(), lambda page: TimeOffSerializer(page, many=True))

    @operation(summary="Add time off", method="post", detail=False, request=TimeOffSerializer,
               response=TimeOffSerializer, status=201,
               codes=("end_before_start", "invalid_text", "invalid_datetime", "not_allowed"))
    def create(self, request: Request) -> Response:
        user = user_of(request)
        data = valid(TimeOffSerializer, request.data)
        period = services.add_time_off(user, start=data["start_at_utc"], end=data["end_at_utc"],
                                       reason=data.get("reason", ""), actor=user)
        return Response(TimeOffSerializer(period).data, 201)

    @operation(summary="Remove time off", method="delete", response=None, status=204, codes=("not_allowed",))
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.remove_time_off(self.get_object(), actor=user_of(request))
        return Response(None, 204)
