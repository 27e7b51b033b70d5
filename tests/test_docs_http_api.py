"""The curl examples of docs/http-api.rst run, in order, and answer what the page shows.

Each ``$ curl`` command of the page's console blocks is read as the shell would (its variables
from the ``$ NAME=value`` lines before it) and sent through Django's test client: its method,
address, headers and body. The answer must have the status of the line shown after it, every
header shown, and a body holding every key and value shown (the page shows a part of each body).
The page's tokens sign in its two users through token authentication, first as the page
recommends, on the page's clock.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIClient
from rest_framework.views import APIView

from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.models import TeacherBookingPolicy

PAGE = Path(__file__).resolve().parent.parent / "docs" / "http-api.rst"
#: "Its clock says Monday 2 September 2030, 09:00 UTC."
CLOCK = dt.datetime(2030, 9, 2, 9, 0, tzinfo=dt.UTC)
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


@dataclass
class Example:
    """One ``$ curl`` of the page and the answer shown after it."""

    line: int
    argv: list[str]
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


def console_blocks(text: str) -> list[tuple[int, list[str]]]:
    """The lines of each ``.. code-block:: console`` (unindented), with the page line of the first."""
    lines = text.splitlines()
    blocks = []
    for number, line in enumerate(lines):
        if line.strip() != ".. code-block:: console":
            continue
        body, start = [], number + 2
        for inner in lines[number + 1:]:
            if inner.strip() and not inner.startswith("   "):
                break
            body.append(inner[3:])
        while body and not body[0].strip():
            body.pop(0)
            start += 1
        blocks.append((start, body))
    return blocks


def examples(text: str) -> tuple[dict[str, str], list[Example]]:
    """The page's shell variables and its curl examples, in page order."""
    variables: dict[str, str] = {}
    found: list[Example] = []
    for start, lines in console_blocks(text):
        index = 0
        while index < len(lines):
            if not lines[index].startswith("$ "):
                index += 1
                continue
            first, command = start + index, lines[index][2:]
            # A command goes on after a backslash, or while a quote is open.
            while True:
                joined = command.replace("\\\n", " ")
                try:
                    argv = shlex.split(joined)
                except ValueError:
                    argv = None
                if argv is not None and not command.endswith("\\"):
                    break
                index += 1
                command += "\n" + lines[index]
            index += 1
            if argv[0] != "curl":
                assignment = re.fullmatch(r"(\w+)=(\S+)", joined.strip())
                if assignment:
                    variables[assignment.group(1)] = assignment.group(2)
                continue
            answer = []
            while index < len(lines) and not lines[index].startswith("$ "):
                answer.append(lines[index])
                index += 1
            found.append(read_answer(first, argv, answer))
    return variables, found


def read_answer(line: int, argv: list[str], answer: list[str]) -> Example:
    status_line, *rest = [*answer, ""]
    match = re.fullmatch(r"HTTP/1\.1 (\d{3}) [\w ]+", status_line.strip())
    assert match, f"docs/http-api.rst line {line}: no status line after the command: {status_line!r}"
    example = Example(line, argv, int(match.group(1)))
    while rest and rest[0].strip():
        name, _, value = rest.pop(0).partition(":")
        example.headers[name.strip()] = value.strip()
    text = "\n".join(rest).strip()
    if text:
        example.body = json.loads(text)
    return example


def expand(value: str, variables: dict[str, str]) -> str:
    return VARIABLE.sub(lambda m: variables[m.group(1) or m.group(2)], value)


def request_of(example: Example, variables: dict[str, str]) -> dict[str, Any]:
    """``method``, ``path``, ``data``, ``content_type`` and the headers of a curl command line."""
    args = iter(expand(arg, variables) for arg in example.argv[1:])
    method, url, data, headers = None, None, None, {}
    for arg in args:
        if arg in ("-s", "-i", "-si", "-is"):
            continue
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data = next(args)
        elif arg.startswith("-"):
            raise AssertionError(f"docs/http-api.rst line {example.line}: curl option {arg} is not read here")
        else:
            url = arg
    assert url is not None and url.startswith(variables["API"] + "/"), (example.line, url)
    return {
        "method": method or ("POST" if data is not None else "GET"),
        "path": "/api/" + url[len(variables["API"]) + 1:],
        "data": data or "",
        "content_type": headers.pop("Content-Type", "application/octet-stream"),
        **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()},
    }


def holds(shown: Any, actual: Any) -> bool:
    """Whether ``actual`` has every key and value ``shown`` has (a list: item by item from the first)."""
    if isinstance(shown, dict):
        return isinstance(actual, dict) and all(key in actual and holds(value, actual[key])
                                                for key, value in shown.items())
    if isinstance(shown, list):
        return (isinstance(actual, list) and len(shown) <= len(actual)
                and all(holds(item, actual[index]) for index, item in enumerate(shown)))
    return bool(shown == actual)


# --- the page, read -------------------------------------------------------------------------------


def test_the_page_is_read_as_the_shell_reads_it() -> None:
    variables, found = examples(PAGE.read_text(encoding="utf-8"))
    assert set(variables) == {"API", "TEACHER", "STUDENT"}
    assert len(found) >= 15
    create = next(e for e in found if "$API/sessions/" in e.argv and "+01:00" in " ".join(e.argv))
    request = request_of(create, variables)
    assert request["method"] == "POST" and request["path"] == "/api/sessions/"
    assert json.loads(request["data"])["title"] == "Algebra II"
    assert request["HTTP_IDEMPOTENCY_KEY"] == "2c1f7d0e-class-algebra"
    assert request["HTTP_AUTHORIZATION"] == f"Token {variables['TEACHER']}"
    assert create.status == 201 and create.body["start"] == "2030-09-04T17:00:00Z"
    assert {(e.status, e.headers.get("Idempotent-Replayed")) for e in found} >= {(201, "true"), (401, None)}


@pytest.mark.parametrize("shown, actual, expected", [
    ({"a": 1}, {"a": 1, "b": 2}, True), ({"a": 1}, {"a": 2}, False), ({"a": 1}, {}, False),
    ({"r": [{"id": 1}]}, {"r": [{"id": 1, "x": 0}, {"id": 2}]}, True), ({"r": [{"id": 2}]}, {"r": [{"id": 1}]}, False),
    ({"r": [1, 2]}, {"r": [1]}, False), (None, None, True),
])
def test_a_shown_body_is_held_only_when_every_value_is(shown: Any, actual: Any, expected: bool) -> None:
    assert holds(shown, actual) is expected


# --- the page, run --------------------------------------------------------------------------------


class PageTokens(TokenAuthentication):
    """Token authentication over the page's two tokens (no token table in the test project)."""

    users: dict[str, Any] = {}

    def authenticate_credentials(self, key: str) -> tuple[Any, str]:
        if key not in self.users:
            raise AuthenticationFailed("Invalid token.")
        return self.users[key], key


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_the_curl_examples_answer_as_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    variables, found = examples(PAGE.read_text(encoding="utf-8"))
    User = get_user_model()
    teacher = User.objects.create_user("t.jones", "t.jones@example.com", "pw")
    student = User.objects.create_user("s.chen", "s.chen@example.com", "pw")
    assert (teacher.pk, student.pk) == (1, 2), "the page's users are users 1 and 2"
    # "User 1 is a teacher with a booking policy (set by the school)."
    TeacherBookingPolicy.objects.create(teacher=teacher, **TeacherBookingPolicy.defaults())
    monkeypatch.setattr(PageTokens, "users", {variables["TEACHER"]: teacher, variables["STUDENT"]: student})
    monkeypatch.setattr(APIView, "authentication_classes", [PageTokens, SessionAuthentication])
    monkeypatch.setattr(DefaultBookingAdapter, "now", lambda self: CLOCK)
    client = APIClient()
    for example in found:
        request = request_of(example, variables)
        response = client.generic(**request)
        where = f"docs/http-api.rst line {example.line}: {request['method']} {request['path']}"
        assert response.status_code == example.status, (where, response.status_code, response.content)
        for name, value in example.headers.items():
            assert response.get(name) == value, (where, name, response.get(name))
        if example.body is not None:
            assert holds(example.body, json.loads(response.content)), (where, response.content)
