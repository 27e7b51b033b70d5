"""The school's HTTP API at /api/: token or session authentication, JSON or the browsable API, and the
demo's tokens.

Run by tests/test_example_credits.py with the rest of the school's tests.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from django_liveclass_booking import services
from django_liveclass_booking.models import TeacherBookingPolicy
from school.adapter import add_credits
from school.management.commands.liveclass_demo import API_USERS, Command
from school.models import CreditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def people() -> dict[str, Any]:
    User = get_user_model()
    teacher = User.objects.create_user("api-teacher", "teacher@example.com", "pw", first_name="Tom")
    student = User.objects.create_user("api-student", "student@example.com", "pw")
    with transaction.atomic():
        add_credits(student, 2, CreditEntry.Reason.GIFT)
    TeacherBookingPolicy.objects.create(teacher=teacher, **TeacherBookingPolicy.defaults())
    start = timezone.now().astimezone(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)
    session = services.schedule_session(teacher, start=start, duration=60, capacity=4, title="Algebra basics")
    return {"teacher": teacher, "student": student, "session": session}


def body(response: Any) -> Any:
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    return json.loads(response.content)


def test_a_token_signs_a_request_in(people: dict[str, Any]) -> None:
    token = Token.objects.create(user=people["student"])
    response = Client().get("/api/sessions/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    page = body(response)
    assert [s["title"] for s in page["results"]] == ["Algebra basics"]
    assert page["results"][0]["teacher"] == {"id": people["teacher"].pk, "name": "Tom"}


def test_without_credentials_the_token_scheme_is_challenged(people: dict[str, Any]) -> None:
    # Token authentication comes first in REST_FRAMEWORK: its challenge makes the answer a 401
    # (session authentication first would name no scheme, and DRF would answer 403).
    response = Client().get("/api/sessions/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert body(response)["code"] == "not_authenticated"
    wrong = Client().get("/api/sessions/", HTTP_AUTHORIZATION="Token not-a-token")
    assert wrong.status_code == 401
    assert body(wrong)["code"] == "authentication_failed"


def test_a_token_books_a_seat_without_a_csrf_token(people: dict[str, Any]) -> None:
    token = Token.objects.create(user=people["student"])
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/api/sessions/{people['session'].pk}/bookings/", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_IDEMPOTENCY_KEY="first-seat")
    assert response.status_code == 201, response.content
    assert body(response)["status"] == "confirmed"


@pytest.mark.parametrize("who, path", [
    ("student", "/api/sessions/"), ("student", "/api/sessions/{session}/"), ("student", "/api/bookings/"),
    ("student", "/api/teachers/"), ("teacher", "/api/sessions/{session}/bookings/"),
    ("teacher", "/api/teach/policy/"), ("teacher", "/api/teach/availability/"),
])
def test_a_signed_in_browser_gets_the_browsable_api(people: dict[str, Any], who: str, path: str) -> None:
    client = Client()
    client.force_login(people[who])
    response = client.get(path.format(session=people["session"].pk), HTTP_ACCEPT="text/html")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Django REST framework" in page and "&quot;" in page  # the JSON answer, shown in the page
    # The same address answers JSON to a client that asks for it.
    assert client.get(path.format(session=people["session"].pk)).status_code == 200


def test_the_swagger_ui_reads_the_api_schema() -> None:
    page = Client().get("/api-docs/")
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert '"/api/schema/"' in page.content.decode()
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert json.loads(schema.content)["servers"] == [{"url": "/api"}]


def test_the_demo_gives_its_api_users_a_token_once_and_keeps_a_changed_one() -> None:
    User = get_user_model()
    users = {name: User.objects.create_user(name) for name in API_USERS}
    command = Command(stdout=io.StringIO())
    first = command.seed_tokens(users)
    assert set(first) == set(API_USERS) and command.created == len(API_USERS)
    assert all(Token.objects.get(user=users[name]).key == key for name, key in first.items())
    # Someone regenerates a token in the admin: the next run keeps it and creates nothing.
    Token.objects.filter(user=users[API_USERS[0]]).delete()
    changed = Token.objects.create(user=users[API_USERS[0]])
    again = Command(stdout=io.StringIO())
    assert again.seed_tokens(users) == {**first, API_USERS[0]: changed.key}
    assert again.created == 0
