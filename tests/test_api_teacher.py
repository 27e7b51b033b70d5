"""The HTTP API for teachers: scheduling classes (one or recurring), changing, moving and cancelling them.

Times are in the future of the real clock (``soon``): the API judges them against ``adapter.now()``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission

from django_liveclass_booking import services
from django_liveclass_booking.models import (
    IdempotencyKey,
    SessionWaitlist,
    TeacherAvailability,
    TeacherBookingPolicy,
    TeacherTimeOff,
    get_booking_model,
    get_session_model,
)

from .test_api_core import assert_error, soon

pytestmark = pytest.mark.django_db

URL = "https://meet.example.org/alg"


def iso(value: dt.datetime) -> str:
    """An instant as the API writes it."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def body(response: Any) -> Any:
    return json.loads(response.content)


def rows() -> dict[str, list[dict[str, Any]]]:
    """Every row a teacher operation could write, to check that a refusal wrote nothing."""
    models = {"sessions": get_session_model(), "bookings": get_booking_model(), "waitlist": SessionWaitlist,
              "policies": TeacherBookingPolicy, "windows": TeacherAvailability, "time_off": TeacherTimeOff,
              "keys": IdempotencyKey}
    return {name: list(model._default_manager.order_by("pk").values()) for name, model in models.items()}


def refused(response: Any, status: int, code: str, before: dict[str, Any]) -> dict[str, Any]:
    """``assert_error``, and nothing written."""
    error = assert_error(response, status, code)
    assert rows() == before
    return error


def bad_fields(response: Any, before: dict[str, Any]) -> set[str]:
    """The fields a 400 ``invalid_request`` names; nothing written."""
    return set(refused(response, 400, "invalid_request", before)["params"]["fields"])


def make_manager(make_user: Any) -> Any:
    user = make_user()
    user.user_permissions.add(Permission.objects.get(codename="manage_bookings"))
    return user


def lesson_of(student: Any, teacher: Any) -> Any:
    """A confirmed 1:1 lesson of ``student`` with ``teacher`` (in 3 days at noon UTC)."""
    start = soon(3, 12)
    services.add_availability(teacher, weekday=start.weekday(), start_time=dt.time(8), end_time=dt.time(20),
                              timezone="UTC")
    return services.request_lesson(student, teacher, start=start, duration=60)


@pytest.fixture
def tutor(teacher: Any) -> Any:
    """A teacher to the adapter: one with a booking policy."""
    services.set_policy(teacher, timezone="Europe/Paris")
    return teacher


@pytest.fixture
def rival(make_user: Any) -> Any:
    user = make_user("rival")
    services.set_policy(user)
    return user


@pytest.fixture
def manager(make_user: Any) -> Any:
    return make_manager(make_user)


@pytest.fixture
def group(tutor: Any) -> Any:
    return services.schedule_session(tutor, start=soon(), duration=60, capacity=2, title="Algebra II",
                                     timezone="UTC", meeting_url=URL, meeting_passcode="42")


def stored(session: Any) -> Any:
    return get_session_model().objects.get(pk=session.pk)


def schedule_body(**extra: Any) -> dict[str, Any]:
    return {"start": iso(soon(4)), "duration_minutes": 45, "capacity": 8, "title": "Calculus",
            "timezone": "America/New_York", "meeting_provider": "zoom", "meeting_url": URL,
            "meeting_passcode": "s3cret", **extra}


# --- POST sessions/ ----------------------------------------------------------------------------------


def test_a_teacher_schedules_a_class_and_sees_its_meeting(api: Any, tutor: Any) -> None:
    response = api(tutor).post("sessions/", schedule_body())
    assert response.status_code == 201, response.content
    data = body(response)
    session = get_session_model().objects.get()
    assert data == {
        "id": session.pk, "kind": "group", "title": "Calculus", "teacher": {"id": tutor.pk, "name": "teacher"},
        "start": iso(soon(4)), "end": iso(soon(4) + dt.timedelta(minutes=45)), "duration_minutes": 45,
        "timezone": "America/New_York", "capacity": 8, "seats_taken": 0, "seats_left": 8, "status": "scheduled",
        "cancellation_reason": "", "recurrence_key": None, "my_booking": None, "my_waitlist_entry": None,
        "meeting": {"provider": "zoom", "url": URL, "passcode": "s3cret"},
    }
    assert (session.teacher_id, session.start_at_utc, session.end_at_utc, session.capacity) == (
        tutor.pk, soon(4), soon(4) + dt.timedelta(minutes=45), 8)
    assert (session.timezone_snapshot, session.meeting_url, session.meeting_passcode) == ("America/New_York", URL,
                                                                                           "s3cret")


def test_the_schema_says_a_class_on_its_own_has_no_recurrence_key(api: Any) -> None:
    document = body(api(None).get("schema/", {"format": "json"}))
    assert document["components"]["schemas"]["Session"]["properties"]["recurrence_key"]["nullable"] is True


@pytest.mark.parametrize(("path", "method", "codes"), [
    ("/sessions/", "post", {"start_in_past", "invalid_timezone", "invalid_session", "teacher_unavailable"}),
    ("/sessions/recurring/", "post", {"invalid_rrule", "too_many_occurrences", "teacher_unavailable"}),
    ("/sessions/{id}/", "patch", {"capacity_below_taken", "session_closed", "invalid_session", "not_a_group_session"}),
    ("/sessions/{id}/reschedule/", "post", {"start_in_past", "teacher_unavailable", "session_closed", "not_a_lesson"}),
    ("/sessions/{id}/cancel/", "post", {"invalid_transition", "session_closed"}),
    ("/bookings/{id}/confirm/", "post", {"invalid_transition"}),
    ("/bookings/{id}/decline/", "post", {"invalid_transition"}),
    ("/teach/policy/", "patch", {"invalid_policy"}),
    ("/teach/availability/", "post", {"end_before_start", "invalid_timezone"}),
    ("/teach/time-off/", "post", {"end_before_start"}),
])
def test_the_schema_names_the_refusals_a_teacher_meets(api: Any, path: str, method: str, codes: set[str]) -> None:
    """Every code these tests see an operation answer with is in its description, under its status."""
    operation = body(api(None).get("schema/", {"format": "json"}))["paths"][path][method]
    for code in codes | {"not_allowed", "not_authenticated", "invalid_request"}:
        statuses = [status for status, answer in operation["responses"].items()
                    if f"`{code}`" in answer.get("description", "")]
        # Without credentials: 401 where the scheme sends a challenge, 403 under session authentication.
        assert statuses == (["401", "403"] if code == "not_authenticated" else statuses[:1]), (path, method, code)
        assert statuses


@pytest.mark.parametrize("zone", [{}, {"timezone": ""}])
def test_a_class_without_a_zone_is_planned_in_the_teachers(api: Any, tutor: Any, zone: dict[str, str]) -> None:
    data = {"start": iso(soon(4)), "duration_minutes": 60, "capacity": 3, **zone}
    response = api(tutor).post("sessions/", data)
    assert response.status_code == 201, response.content
    assert body(response)["timezone"] == "Europe/Paris"
    assert get_session_model().objects.get().timezone_snapshot == "Europe/Paris"


def test_scheduling_twice_with_one_key_creates_one_class(api: Any, tutor: Any) -> None:
    caller = api(tutor)
    first = caller.post("sessions/", schedule_body(), **{"Idempotency-Key": "class-1"})
    again = caller.post("sessions/", schedule_body(), **{"Idempotency-Key": "class-1"})
    assert first.status_code == again.status_code == 201
    assert body(first) == body(again)
    assert again["Idempotent-Replayed"] == "true"
    assert get_session_model().objects.count() == 1
    assert IdempotencyKey.objects.get().user_id == tutor.pk


def test_a_key_used_for_another_class_is_refused(api: Any, tutor: Any) -> None:
    caller = api(tutor)
    assert caller.post("sessions/", schedule_body(), **{"Idempotency-Key": "once"}).status_code == 201
    before = rows()
    refused(caller.post("sessions/", schedule_body(start=iso(soon(5))), **{"Idempotency-Key": "once"}), 422,
            "idempotency_key_reused", before)
    refused(caller.post("sessions/recurring/", recurring_body(), **{"Idempotency-Key": "once"}), 422,
            "idempotency_key_reused", before)


def test_a_clash_with_the_teachers_calendar_is_a_conflict(api: Any, tutor: Any, group: Any) -> None:
    before = rows()
    clash = schedule_body(start=iso(group.start_at_utc + dt.timedelta(minutes=30)))
    refused(api(tutor).post("sessions/", clash, **{"Idempotency-Key": "k"}), 409, "teacher_unavailable", before)


@pytest.mark.parametrize(("change", "code"), [
    ({"start": iso(soon(-1))}, "start_in_past"),
    ({"timezone": "Mars/Olympus_Mons"}, "invalid_timezone"),
    ({"meeting_url": "not a link"}, "invalid_session"),
])
def test_a_refused_class_is_a_400_with_the_services_code(api: Any, tutor: Any, change: Any, code: str) -> None:
    before = rows()
    refused(api(tutor).post("sessions/", schedule_body(**change)), 400, code, before)


@pytest.mark.parametrize(("data", "fields"), [
    (schedule_body(start="2030-01-01T10:00:00"), {"start"}),
    ({}, {"start", "duration_minutes", "capacity"}),
    (schedule_body(duration_minutes=0, capacity=100_001), {"duration_minutes", "capacity"}),
    (schedule_body(duration_minutes=1441, capacity=0), {"duration_minutes", "capacity"}),
    (schedule_body(capacity="many", start="soon"), {"capacity", "start"}),
    (schedule_body(title="x" * 201, meeting_url="u" * 501), {"title", "meeting_url"}),
])
def test_bad_input_names_the_fields_and_schedules_nothing(api: Any, tutor: Any, data: Any, fields: set[str]) -> None:
    before = rows()
    assert bad_fields(api(tutor).post("sessions/", data, **{"Idempotency-Key": "k"}), before) == fields


def test_only_teachers_schedule(api: Any, student: Any) -> None:
    before = rows()
    refused(api(student).post("sessions/", schedule_body()), 403, "not_allowed", before)
    refused(api(None).post("sessions/", schedule_body()), 403, "not_authenticated", before)
    # The teacher of the fixture has no policy yet: not a teacher to the default adapter.
    assert not TeacherBookingPolicy.objects.exists()


def test_a_manager_schedules_a_class_of_their_own(api: Any, manager: Any) -> None:
    response = api(manager).post("sessions/", schedule_body())
    assert response.status_code == 201, response.content
    assert body(response)["teacher"]["id"] == manager.pk
    assert get_session_model().objects.get().teacher_id == manager.pk


# --- POST sessions/recurring/ --------------------------------------------------------------------------


def recurring_body(**extra: Any) -> dict[str, Any]:
    return {"first_start": iso(soon(2, 9)), "duration_minutes": 60, "capacity": 4, "rrule": "FREQ=WEEKLY;COUNT=3",
            "timezone": "UTC", "title": "Weekly", "meeting_url": URL, **extra}


def test_a_teacher_schedules_a_recurring_class(api: Any, tutor: Any) -> None:
    response = api(tutor).post("sessions/recurring/", recurring_body())
    assert response.status_code == 201, response.content
    data = body(response)
    starts = [soon(2 + 7 * week, 9) for week in range(3)]
    assert [item["start"] for item in data] == [iso(start) for start in starts]
    [key] = {item["recurrence_key"] for item in data}
    assert key and isinstance(key, str)
    assert all(item["meeting"] == {"provider": "", "url": URL, "passcode": ""} for item in data)
    sessions = get_session_model().objects.order_by("start_at_utc")
    assert [s.start_at_utc for s in sessions] == starts
    assert [s.pk for s in sessions] == [item["id"] for item in data]
    assert {(s.teacher_id, s.capacity, s.title, s.status) for s in sessions} == {(tutor.pk, 4, "Weekly", "scheduled")}


def test_a_recurring_class_keeps_its_local_hour_across_a_clock_change(api: Any, tutor: Any) -> None:
    first = soon(2, 9)
    data = recurring_body(first_start=iso(first), timezone="Europe/London", rrule="FREQ=WEEKLY;COUNT=30")
    response = api(tutor).post("sessions/recurring/", data)
    assert response.status_code == 201, response.content
    london = ZoneInfo("Europe/London")
    hours = {dt.datetime.fromisoformat(item["start"]).astimezone(london).time() for item in body(response)}
    assert hours == {first.astimezone(london).time()}
    assert get_session_model().objects.count() == 30


def test_scheduling_a_recurring_class_twice_with_one_key_creates_one_set(api: Any, tutor: Any) -> None:
    caller = api(tutor)
    first = caller.post("sessions/recurring/", recurring_body(), **{"Idempotency-Key": "weekly"})
    again = caller.post("sessions/recurring/", recurring_body(), **{"Idempotency-Key": "weekly"})
    assert first.status_code == again.status_code == 201
    assert body(first) == body(again)
    assert again["Idempotent-Replayed"] == "true"
    assert get_session_model().objects.count() == 3


def test_a_recurring_class_that_clashes_schedules_nothing(api: Any, tutor: Any) -> None:
    services.schedule_session(tutor, start=soon(9, 9), duration=30, capacity=1, timezone="UTC")
    before = rows()
    error = refused(api(tutor).post("sessions/recurring/", recurring_body(), **{"Idempotency-Key": "k"}), 409,
                    "teacher_unavailable", before)
    assert [dt.datetime.fromisoformat(start) for start in error["params"]["starts"]] == [soon(9, 9)]


@pytest.mark.parametrize(("change", "code"), [
    ({"rrule": "FREQ=SOMETIMES"}, "invalid_rrule"),
    ({"rrule": "FREQ=DAILY;COUNT=500"}, "too_many_occurrences"),
    ({"timezone": "Nowhere/Special"}, "invalid_timezone"),
    ({"first_start": iso(soon(-2))}, "start_in_past"),
])
def test_a_refused_recurring_class_writes_nothing(api: Any, tutor: Any, change: Any, code: str) -> None:
    before = rows()
    refused(api(tutor).post("sessions/recurring/", recurring_body(**change)), 400, code, before)


@pytest.mark.parametrize(("data", "fields"), [
    ({}, {"first_start", "duration_minutes", "capacity", "rrule", "timezone"}),
    (recurring_body(first_start="2030-01-01T09:00", capacity=-1), {"first_start", "capacity"}),
    (recurring_body(start=iso(soon()), rrule="", timezone=""), {"rrule", "timezone"}),
])
def test_bad_recurring_input_names_the_fields(api: Any, tutor: Any, data: Any, fields: set[str]) -> None:
    before = rows()
    assert bad_fields(api(tutor).post("sessions/recurring/", data), before) == fields


def test_only_teachers_schedule_recurring_classes(api: Any, student: Any) -> None:
    before = rows()
    refused(api(student).post("sessions/recurring/", recurring_body()), 403, "not_allowed", before)
    refused(api(None).post("sessions/recurring/", recurring_body()), 403, "not_authenticated", before)
