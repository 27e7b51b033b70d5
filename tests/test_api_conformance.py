"""The HTTP API answers as its schema says, for requests a client gets wrong too.

Each test pins an answer that once strayed from the schema under fuzzing (.ci/schemathesis.sh): an
HTML page where JSON was promised, a refused value taken as if left out, a body or a field the
schema described otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.models import TeacherAvailability

pytestmark = pytest.mark.django_db


def soon(days: int = 2, hour: int = 10) -> dt.datetime:
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = json.loads(response.content)
    assert body["code"] == code, body
    return body


@pytest.fixture
def document(api: Any) -> dict[str, Any]:
    response = api(None).get("schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def parameters(document: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    return {p["name"]: p["schema"] for p in document["paths"][path][method].get("parameters", [])}


# --- addresses that name no operation ------------------------------------------------------------


def test_a_write_to_an_unknown_address_is_a_json_404_not_a_csrf_page(student: Any) -> None:
    from rest_framework.test import APIClient

    # As a browser or any client that does not send Django's CSRF token.
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(student)
    for method in ("post", "patch", "delete"):
        error(getattr(client, method)("/api/sessions/abc/cancel/"), 404, "not_found")
    error(client.post("/api/no/such/thing/"), 404, "not_found")


def test_an_address_with_a_newline_is_a_json_404(api: Any, student: Any) -> None:
    # As a client sends it: a newline escaped, which Django unescapes before it resolves the path.
    error(api(student).get("waitlist/%0AcH/"), 404, "not_found")


# --- pagination -----------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "page=0", "page=-3", "page=abc", "page=1.0", "page=", "page=1&page=2",
    "page_size=0", "page_size=201", "page_size=null", "page_size=-5", "page_size=",
])
def test_a_page_out_of_range_is_refused_not_replaced(api: Any, student: Any, query: str) -> None:
    body = error(api(student).client.get(f"/api/sessions/?{query}"), 400, "invalid_request")
    assert set(body["params"]["fields"]) == {query.split("=")[0]}


def test_a_page_past_the_last_is_a_404_and_the_largest_page_is_200(api: Any, student: Any, teacher: Any) -> None:
    services.schedule_session(teacher, start=soon(), duration=60, capacity=2, timezone="UTC")
    error(api(student).get("sessions/", {"page": 2}), 404, "not_found")
    response = api(student).get("sessions/", {"page": 1, "page_size": 200})
    assert response.status_code == 200
    assert json.loads(response.content)["count"] == 1


def test_lists_document_their_page_bounds_and_the_404_past_the_last(document: dict[str, Any]) -> None:
    lists = [(path, op) for path, item in document["paths"].items() for method, op in item.items()
             if method == "get" and "page" in {p["name"] for p in op.get("parameters", [])}]
    assert len(lists) >= 11
    for path, op in lists:
        given = {p["name"]: p["schema"] for p in op["parameters"]}
        assert given["page"] == {"type": "integer", "minimum": 1}, path
        assert given["page_size"] == {"type": "integer", "minimum": 1, "maximum": 200}, path
        assert "404" in op["responses"], path


# --- filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, query", [
    ("sessions/", "start_before="), ("sessions/", "kind="), ("bookings/", "status="), ("waitlist/", "status="),
    ("reschedule-requests/", "status="), ("sessions/", "teacher=1&teacher=2"),
])
def test_an_empty_or_repeated_filter_is_refused_not_ignored(api: Any, student: Any, path: str, query: str) -> None:
    body = error(api(student).client.get(f"/api/{path}?{query}"), 400, "invalid_request")
    name = query.split("=")[0]
    assert list(body["params"]["fields"]) == [name]
    if "&" in query:
        assert body["params"]["fields"][name][0]["detail"] == "Give this field once."


def test_the_filters_are_in_the_schema(document: dict[str, Any]) -> None:
    assert {"start_after", "start_before", "teacher", "kind"} <= set(parameters(document, "/sessions/"))
    assert {"role", "status", "start_after", "start_before"} <= set(parameters(document, "/bookings/"))
    assert "status" in parameters(document, "/waitlist/")
    assert "status" in parameters(document, "/reschedule-requests/")
    slots = parameters(document, "/teachers/{id}/slots/")
    assert slots["duration_minutes"] == {"type": "integer", "minimum": 1, "maximum": 1440}
    assert slots["start"]["format"] == "date-time"


# --- bodies ---------------------------------------------------------------------------------------


def test_a_form_body_is_refused_and_the_schema_lists_json_only(api: Any, teacher: Any, set_policy: Any,
                                                               document: dict[str, Any]) -> None:
    set_policy()
    caller = api(teacher)
    response = caller.client.post("/api/teach/time-off/", {"start": "2030-01-01T10:00:00Z",
                                                           "end": "2030-01-01T12:00:00Z"})
    error(response, 415, "unsupported_media_type")
    bodies = [op["requestBody"]["content"] for item in document["paths"].values() for op in item.values()
              if "requestBody" in op]
    assert bodies and all(list(content) == ["application/json"] for content in bodies)


def test_a_recurring_class_answers_a_plain_list_as_documented(api: Any, teacher: Any, set_policy: Any,
                                                              document: dict[str, Any]) -> None:
    set_policy()
    op = document["paths"]["/sessions/recurring/"]["post"]
    assert op["responses"]["201"]["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/Session"}}
    assert "page" not in parameters(document, "/sessions/recurring/", "post")
    response = api(teacher).post("sessions/recurring/", {
        "first_start": soon().isoformat(), "duration_minutes": 60, "capacity": 3, "rrule": "FREQ=WEEKLY;COUNT=2",
        "timezone": "UTC"})
    assert response.status_code == 201, response.content
    sessions = json.loads(response.content)
    assert isinstance(sessions, list) and len(sessions) == 2


# --- fields ---------------------------------------------------------------------------------------


def test_a_class_without_recurrence_shows_a_null_key_as_documented(api: Any, student: Any, teacher: Any,
                                                                   document: dict[str, Any]) -> None:
    session = services.schedule_session(teacher, start=soon(), duration=60, capacity=2, timezone="UTC")
    assert json.loads(api(student).get(f"sessions/{session.pk}/").content)["recurrence_key"] is None
    for name in ("Session", "Series"):
        assert document["components"]["schemas"][name]["properties"]["recurrence_key"]["nullable"] is True


def test_wall_clock_times_match_their_schema_and_refuse_an_offset(api: Any, teacher: Any, set_policy: Any,
                                                                  document: dict[str, Any]) -> None:
    set_policy(timezone="Europe/London")
    schemas = document["components"]["schemas"]
    pattern = schemas["Availability"]["properties"]["start_time"]["pattern"]
    assert "format" not in schemas["Availability"]["properties"]["start_time"]
    assert schemas["Series"]["properties"]["first_start_time"]["pattern"] == pattern
    caller = api(teacher)
    body = error(caller.post("teach/availability/", {"weekday": 0, "start_time": "09:00+01:00", "end_time": "12:00"}),
                 400, "invalid_request")
    assert list(body["params"]["fields"]) == ["start_time"]
    assert not TeacherAvailability.objects.exists()
    response = caller.post("teach/availability/", {"weekday": 0, "start_time": "09:00", "end_time": "12:30:00"})
    assert response.status_code == 201, response.content
    window = json.loads(response.content)
    assert (window["start_time"], window["end_time"]) == ("09:00:00", "12:30:00")
    assert re.fullmatch(pattern, window["start_time"]) and re.fullmatch(pattern, window["end_time"])


# --- refusals listed --------------------------------------------------------------------------------

#: Operations that hand an instant of the request to a service, which refuses one outside 1900-9000.
INSTANT_OPERATIONS = [
    ("post", "/sessions/"), ("post", "/sessions/recurring/"), ("post", "/sessions/{id}/reschedule/"),
    ("post", "/bookings/{id}/reschedule/"), ("post", "/teachers/{id}/lessons/"), ("post", "/teachers/{id}/series/"),
    ("get", "/teachers/{id}/slots/"), ("post", "/series/{id}/cancel/"), ("post", "/teach/time-off/"),
]


@pytest.mark.parametrize("method, path", INSTANT_OPERATIONS)
def test_an_instant_out_of_range_is_a_listed_refusal(document: dict[str, Any], method: str, path: str) -> None:
    op = document["paths"][path][method]
    assert "`invalid_datetime` (400)" in op["description"], path
    assert "`invalid_datetime`" in op["responses"]["400"]["description"], path


def test_an_instant_out_of_range_is_refused_with_its_code(api: Any, teacher: Any, student: Any,
                                                          set_policy: Any) -> None:
    set_policy()
    # A teacher who takes 1:1 lessons (the slots of others are a 404).
    services.add_availability(teacher, weekday=0, start_time=dt.time(9), end_time=dt.time(12), timezone="UTC")
    caller = api(teacher)
    far = "9999-06-01T10:00:00Z"
    body = error(caller.post("sessions/", {"start": far, "duration_minutes": 60, "capacity": 3}),
                 400, "invalid_datetime")
    assert body["params"] == {"field": "start"}
    error(caller.post("teach/time-off/", {"start": far, "end": "9999-06-02T10:00:00Z"}), 400, "invalid_datetime")
    error(api(student).get(f"teachers/{teacher.pk}/slots/", {"start": far, "end": "9999-06-02T10:00:00Z",
                                                             "duration_minutes": 60}), 400, "invalid_datetime")
