"""What the student-side API tests share: future times, error checks, snapshots of what is stored."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.models import (
    BookingEvent,
    BookingSeries,
    BookingSeriesItem,
    IdempotencyKey,
    Notification,
    RescheduleRequest,
    SessionWaitlist,
    TeacherBookingPolicy,
    get_booking_model,
    get_session_model,
)

KEY = "Idempotency-Key"


def soon(days: int = 2, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A time in the future of the real clock: the API judges bookings against it."""
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    """How the API writes an instant."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def body(response: Any) -> Any:
    return json.loads(response.content)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.content)
    return body(response)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The one error shape, with ``status`` and ``code``; returns the body."""
    assert response.status_code == status, (response.status_code, response.content)
    found = body(response)
    assert set(found) == {"code", "detail", "params"}, found
    assert found["code"] == code, found
    assert isinstance(found["detail"], str) and found["detail"]
    assert isinstance(found["params"], dict)
    return found


def assert_invalid(response: Any, *fields: str) -> dict[str, Any]:
    """A 400 ``invalid_request`` naming exactly ``fields``."""
    found = assert_error(response, 400, "invalid_request")
    assert set(found["params"]["fields"]) == set(fields), found
    return found


def snapshot() -> dict[str, Any]:
    """Every stored row the API could write, with its last change: equal snapshots mean nothing was written."""
    models: list[Any] = [get_session_model(), get_booking_model(), SessionWaitlist, BookingSeries, BookingSeriesItem,
                         RescheduleRequest, TeacherBookingPolicy]
    found: dict[str, Any] = {
        model._meta.label: sorted(model._default_manager.values_list("pk", "status", "modified"))
        if hasattr(model, "status") else sorted(model._default_manager.values_list("pk", "modified"))
        for model in models
    }
    for model in (BookingEvent, Notification, IdempotencyKey):
        found[model._meta.label] = sorted(model._default_manager.values_list("pk", flat=True))
    return found


def unchanged(before: dict[str, Any]) -> None:
    after = snapshot()
    assert after == before, {name: (before[name], after[name]) for name in before if before[name] != after[name]}


def queries(call: Callable[[], Any]) -> tuple[int, Any]:
    """How many queries ``call`` runs, and what it returns."""
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return len(captured.captured_queries), result


def open_all_week(teacher: Any, **policy: Any) -> Any:
    """Lessons any day 06:00-22:00 UTC, as ``policy`` says otherwise."""
    services.set_policy(teacher, timezone="UTC", **policy)
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(6), end_time=dt.time(22),
                                  timezone="UTC")
    return teacher


def group_class(teacher: Any, days: int = 2, hour: int = 10, capacity: int = 2, **kwargs: Any) -> Any:
    kwargs.setdefault("title", "Algebra II")
    kwargs.setdefault("meeting_url", "https://meet.example.org/alg")
    kwargs.setdefault("meeting_passcode", "s3cret")
    return services.schedule_session(teacher, start=soon(days, hour), duration=60, capacity=capacity,
                                     timezone="UTC", **kwargs)


MEETING = {"provider": "", "url": "https://meet.example.org/alg", "passcode": "s3cret"}
