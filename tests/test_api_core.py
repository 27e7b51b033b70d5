"""The HTTP API's shared behaviour: one error shape for every error, idempotent retries, its schema."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.errors import message_for
from django_liveclass_booking.models import IdempotencyKey, get_booking_model

pytestmark = pytest.mark.django_db


def soon(days: int = 2, hour: int = 10) -> dt.datetime:
    """A time in the future of the real clock: the API judges bookings against it."""
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def group(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=soon(), duration=60, capacity=2, title="Algebra II",
                                     timezone="UTC", meeting_url="https://meet.example.org/alg")


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content)
    body = json.loads(response.content)
    assert set(body) == {"code", "detail", "params"}, body
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# --- one error shape ------------------------------------------------------------------------------


def test_nobody_signed_in_gets_not_authenticated(api: Any, group: Any) -> None:
    # Session authentication names no WWW-Authenticate scheme: DRF answers 403.
    assert_error(api(None).get("sessions/"), 403, "not_authenticated")
    assert_error(api(None).post(f"sessions/{group.pk}/bookings/"), 403, "not_authenticated")
    assert not get_booking_model().objects.exists()


def test_a_scheme_with_a_challenge_answers_401(api: Any, student: Any, monkeypatch: Any) -> None:
    # A view reads the host's DEFAULT_AUTHENTICATION_CLASSES when it is imported.
    from rest_framework.authentication import BasicAuthentication

    from django_liveclass_booking.api.sessions import SessionViewSet

    monkeypatch.setattr(SessionViewSet, "authentication_classes", [BasicAuthentication])
    response = api(None).get("sessions/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Basic")
    bad = api(None).get("sessions/", Authorization="Basic c3R1ZGVudDp3cm9uZw==")
    assert_error(bad, 401, "authentication_failed")


def test_unknown_addresses_and_objects_are_json_404s(api: Any, student: Any) -> None:
    assert_error(api(student).get("nothing/here/"), 404, "not_found")
    assert_error(api(student).get("sessions/999999/"), 404, "not_found")
    assert_error(api(student).get("sessions/abc/"), 404, "not_found")


def test_wrong_method_and_body_type(api: Any, student: Any, group: Any) -> None:
    body = assert_error(api(student)("delete", f"sessions/{group.pk}/"), 405, "method_not_allowed")
    assert body["params"] == {"method": "DELETE"}
    caller = api(student)
    response = caller.client.post(f"/api/sessions/{group.pk}/cancel/", "reason=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")
    response = caller.client.post(f"/api/sessions/{group.pk}/cancel/", "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_bad_input_names_each_field_and_writes_nothing(api: Any, teacher: Any, set_policy: Any) -> None:
    set_policy()
    body = assert_error(api(teacher).post("sessions/", {"start": "2030-01-01T10:00:00", "capacity": 0}),
                        400, "invalid_request")
    fields = body["params"]["fields"]
    assert set(fields) == {"start", "capacity", "duration_minutes"}
    assert all({"code", "detail"} <= set(problem) for problems in fields.values() for problem in problems)
    assert fields["duration_minutes"][0]["code"] == "required"
    assert "offset" in fields["start"][0]["detail"]
    from django_liveclass_booking.models import get_session_model
    assert not get_session_model().objects.exists()


def test_a_refusal_keeps_the_service_code_and_params(api: Any, student: Any, other_student: Any,
                                                    make_user: Any, group: Any) -> None:
    services.book_seat(other_student, group)
    services.book_seat(make_user(), group)
    body = assert_error(api(student).post(f"sessions/{group.pk}/bookings/"), 409, "session_full")
    assert body["detail"] == message_for("session_full", body["params"])
    assert get_booking_model().objects.filter(student=student).count() == 0


# --- idempotency --------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_response(api: Any, student: Any, group: Any) -> None:
    caller = api(student)
    first = caller.post(f"sessions/{group.pk}/bookings/", **{"Idempotency-Key": "k-1"})
    again = caller.post(f"sessions/{group.pk}/bookings/", **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert json.loads(first.content) == json.loads(again.content)
    assert again["Idempotent-Replayed"] == "true"
    assert get_booking_model().objects.filter(student=student).count() == 1
    # Without the key, the same request is a new one (and refused: already booked).
    assert_error(caller.post(f"sessions/{group.pk}/bookings/"), 409, "already_booked")


def test_a_key_is_the_users_own(api: Any, student: Any, other_student: Any, group: Any) -> None:
    api(student).post(f"sessions/{group.pk}/bookings/", **{"Idempotency-Key": "shared"})
    response = api(other_student).post(f"sessions/{group.pk}/bookings/", **{"Idempotency-Key": "shared"})
    assert response.status_code == 201
    assert json.loads(response.content)["student"]["id"] == other_student.pk
    assert get_booking_model().objects.count() == 2


def test_a_key_reused_for_another_request_is_refused(api: Any, student: Any, group: Any, teacher: Any) -> None:
    other = services.schedule_session(teacher, start=soon(3), duration=60, capacity=2, timezone="UTC")
    caller = api(student)
    caller.post(f"sessions/{group.pk}/bookings/", **{"Idempotency-Key": "once"})
    assert_error(caller.post(f"sessions/{other.pk}/bookings/", **{"Idempotency-Key": "once"}),
                 422, "idempotency_key_reused")
    assert not get_booking_model().objects.filter(session=other).exists()


def test_a_refused_call_keeps_no_key(api: Any, student: Any, other_student: Any, make_user: Any,
                                     group: Any) -> None:
    services.book_seat(other_student, group)
    taken = services.book_seat(make_user(), group)
    caller = api(student)
    assert_error(caller.post(f"sessions/{group.pk}/bookings/", **{"Idempotency-Key": "retry-me"}), 409,
                 "session_full")
    assert not IdempotencyKey.objects.exists()
    services.cancel_booking(taken, actor=taken.student)
    # The retry runs again, and this time there is a seat.
    assert caller.post(f"sessions/{group.pk}/bookings/", **{"Idempotency-Key": "retry-me"}).status_code == 201
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there"])
def test_a_malformed_key_is_refused_before_anything(api: Any, student: Any, group: Any, key: str) -> None:
    caller = api(student)
    response = caller.client.post(f"/api/sessions/{group.pk}/bookings/", HTTP_IDEMPOTENCY_KEY=key)
    assert_error(response, 400, "invalid_idempotency_key")
    assert not get_booking_model().objects.exists()
    assert not IdempotencyKey.objects.exists()


# --- the schema --------------------------------------------------------------------------------


def schema(api: Any) -> dict[str, Any]:
    response = api(None).get("schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_schema_is_valid_openapi(api: Any) -> None:
    from openapi_spec_validator import validate

    document = schema(api)
    validate(document)
    assert document["servers"] == [{"url": "/api"}]


def test_every_operation_describes_its_errors(api: Any) -> None:
    document = schema(api)
    operations = [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]
    assert len(operations) >= 45
    for path, method, op in operations:
        statuses = set(op["responses"])
        assert {"400", "401", "403"} <= statuses, (method, path)
        assert any(s.startswith("2") for s in statuses), (method, path)
        if "{id}" in path:
            assert "404" in statuses, (method, path)
        for status, response in op["responses"].items():
            if status >= "400":
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/Error"), (method, path, status)
                assert "Codes: `" in response["description"]


def test_bad_input_with_a_key_takes_no_key(api: Any, teacher: Any, set_policy: Any) -> None:
    set_policy()
    caller = api(teacher)
    assert_error(caller.post("sessions/", {"start": "tomorrow"}, **{"Idempotency-Key": "fix-and-retry"}),
                 400, "invalid_request")
    assert not IdempotencyKey.objects.exists()
    # Corrected, the same key now creates the class.
    body = {"start": soon(3).isoformat(), "duration_minutes": 60, "capacity": 4, "timezone": "UTC"}
    assert caller.post("sessions/", body, **{"Idempotency-Key": "fix-and-retry"}).status_code == 201
    assert IdempotencyKey.objects.get().status_code == 201


def test_a_browser_gets_json_without_the_browsable_apis_templates(api: Any, student: Any) -> None:
    # The test project leaves "rest_framework" out of INSTALLED_APPS: its browsable pages can't render.
    response = api(student).client.get("/api/sessions/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_a_session_post_without_its_csrf_token_says_why(student: Any, group: Any) -> None:
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(student)
    body = assert_error(client.post(f"/api/sessions/{group.pk}/bookings/"), 403, "not_allowed")
    assert "CSRF" in body["params"]["reason"]
    assert not get_booking_model().objects.exists()
    assert_error(client.post("/api/no/such/place/"), 404, "not_found")


def test_without_the_extra_the_api_says_what_to_install() -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['rest_framework'] = None\n"
            "import django; from django.conf import settings; settings.configure(); django.setup()\n"
            "import django_liveclass_booking.api\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "django-liveclass-booking[api]" in result.stderr
    assert "rest_framework" in result.stderr


def test_the_same_json_in_another_order_is_the_same_request(api: Any, teacher: Any, set_policy: Any) -> None:
    set_policy()
    caller = api(teacher)
    start = soon(3).isoformat()
    first = caller.client.post("/api/sessions/", f'{{"start": "{start}", "duration_minutes": 60, "capacity": 4}}',
                               content_type="application/json", HTTP_IDEMPOTENCY_KEY="order")
    again = caller.client.post("/api/sessions/", f'{{"capacity":4,"duration_minutes":60,"start":"{start}"}}',
                               content_type="application/json", HTTP_IDEMPOTENCY_KEY="order")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert json.loads(first.content) == json.loads(again.content)


def test_a_body_field_the_operation_does_not_take_is_refused(api: Any, student: Any, group: Any) -> None:
    booking = services.book_seat(student, group)
    body = assert_error(api(student).post(f"bookings/{booking.pk}/cancel/", {"reason": "ill", "refund": True}),
                        400, "invalid_request")
    assert body["params"]["fields"] == {"refund": [{"code": "unknown_field",
                                                    "detail": "This operation takes no such field."}]}
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_instants_in_error_params_are_utc_like_the_bodies() -> None:
    from django_liveclass_booking.api.errors import jsonable

    berlin = dt.datetime(2030, 1, 31, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert jsonable({"starts": berlin, "minutes": dt.timedelta(minutes=90), "ids": {3, 1}}) == {
        "starts": "2030-01-31T09:00:00Z", "minutes": 90.0, "ids": [1, 3]}


def test_a_replay_is_the_first_answer_byte_for_byte(api: Any, student: Any, group: Any) -> None:
    caller = api(student)
    first = caller.post(f"sessions/{group.pk}/bookings/", **{"Idempotency-Key": "bytes"})
    again = caller.post(f"sessions/{group.pk}/bookings/", **{"Idempotency-Key": "bytes"})
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert again["Content-Type"] == "application/json"


def test_keys_are_compared_exactly_whatever_the_collation(api: Any, student: Any, group: Any, teacher: Any) -> None:
    other = services.schedule_session(teacher, start=soon(3), duration=60, capacity=2, timezone="UTC")
    third = services.schedule_session(teacher, start=soon(4), duration=60, capacity=2, timezone="UTC")
    caller = api(student)
    assert caller.post(f"sessions/{group.pk}/bookings/", **{"Idempotency-Key": "AbC"}).status_code == 201
    assert caller.post(f"sessions/{other.pk}/bookings/", **{"Idempotency-Key": "abc"}).status_code == 201
    assert caller.post(f"sessions/{third.pk}/bookings/", **{"Idempotency-Key": "abc "}).status_code == 201
    assert IdempotencyKey.objects.count() == 3


def test_a_request_refused_on_its_input_by_the_service_takes_no_lock_and_no_key(
        api: Any, teacher: Any, set_policy: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    set_policy()
    body = {"first_start": soon(3).isoformat(), "duration_minutes": 60, "capacity": 2, "rrule": "FREQ=SECONDLY;COUNT=3",
            "timezone": "UTC"}
    caller = api(teacher)
    with CaptureQueriesContext(connection) as seen:
        assert_error(caller.post("sessions/recurring/", body, **{"Idempotency-Key": "r"}), 400, "invalid_rrule")
    statements = [q["sql"].split()[0].upper() for q in seen.captured_queries]
    assert "INSERT" not in statements and "UPDATE" not in statements, statements
    assert not any("FOR UPDATE" in q["sql"] for q in seen.captured_queries)
    assert not IdempotencyKey.objects.exists()


def test_an_operation_without_a_body_refuses_one(api: Any, student: Any, other_student: Any, group: Any) -> None:
    body = assert_error(api(student).post(f"sessions/{group.pk}/bookings/", {"student": other_student.pk}),
                        400, "invalid_request")
    assert body["params"]["fields"]["student"][0]["code"] == "unknown_field"
    assert_error(api(student).post(f"sessions/{group.pk}/bookings/", [1]), 400, "invalid_request")
    assert not get_booking_model().objects.exists()
    assert api(student).post(f"sessions/{group.pk}/bookings/", {}).status_code == 201


def test_hostile_requests_get_json_errors_not_pages(api: Any, student: Any, group: Any) -> None:
    booking = services.book_seat(student, group)
    caller = api(student)
    deep = "[" * 100_000 + "]" * 100_000
    assert_error(caller.client.post(f"/api/bookings/{booking.pk}/cancel/", deep, content_type="application/json"),
                 400, "parse_error")
    crowded = "&".join(f"f{i}=1" for i in range(1100))
    assert_error(caller.client.get(f"/api/sessions/?{crowded}"), 400, "parse_error")
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_building_the_schema_leaves_drf_spectacular_settings_as_they_were(api: Any) -> None:
    from drf_spectacular.settings import spectacular_settings

    from django_liveclass_booking.api import schema_view

    before = (spectacular_settings.TITLE, spectacular_settings.SERVERS, spectacular_settings.COMPONENT_SPLIT_REQUEST)
    from .threads import run_at_once

    schema_view.DOCUMENTS.clear()
    # Requests at once: each build patches the process-wide settings while it runs.
    results = run_at_once(lambda caller: caller.get("schema/", {"format": "json"}), [api(None) for _ in range(4)])
    assert [r.status_code for r in results] == [200] * 4
    assert all(r.content == results[0].content for r in results)
    assert (spectacular_settings.TITLE, spectacular_settings.SERVERS,
            spectacular_settings.COMPONENT_SPLIT_REQUEST) == before
