"""Eight retries of one creating request racing with one ``Idempotency-Key``: one result, told to all.

The control shows what the key's unique row prevents: a server that looks the key up and then runs
the request (check, then act) answers the racing retries differently — one booking, seven
``already_booked`` refusals — so a client retrying after a timeout can be told its booking failed
when it did not.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.models import IdempotencyKey, get_booking_model

from .conftest import Api
from .threads import run_at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

THREADS = 8
ROUNDS = 3


def soon(days: int) -> dt.datetime:
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)


def callers(user: Any) -> list[Api]:
    # Signed in before the race: each thread then only sends its request.
    return [Api(user) for _ in range(THREADS)]


@pytest.fixture(params=[False, True], ids=["autocommit", "atomic_requests"])
def atomic_requests(request: Any, monkeypatch: Any) -> bool:
    """Each request in a transaction of its own (``ATOMIC_REQUESTS``), or not: the key must hold either way,
    also where a transaction reads from a snapshot taken before the winner committed (MariaDB)."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", request.param)
    return bool(request.param)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_racing_retries_with_one_key_make_one_booking_and_get_one_answer(teacher: Any, student: Any,
                                                                         round_: int, atomic_requests: bool) -> None:
    session = services.schedule_session(teacher, start=soon(2 + round_), duration=60, capacity=5, timezone="UTC")
    key = f"race-{round_}"

    def retry(caller: Api) -> tuple[int, Any]:
        response = caller.post(f"sessions/{session.pk}/bookings/", **{"Idempotency-Key": key})
        return response.status_code, json.loads(response.content)

    results = run_at_once(retry, callers(student))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {status for status, _ in results} == {201}, results
    bodies = [body for _, body in results]
    assert all(body == bodies[0] for body in bodies), bodies
    bookings = get_booking_model().objects.filter(session_id=session.pk)
    assert bookings.count() == 1
    assert bodies[0]["id"] == bookings.get().pk
    assert IdempotencyKey.objects.filter(user=student, key=key).count() == 1


def test_control_check_then_act_answers_racing_retries_differently(teacher: Any, student: Any) -> None:
    session = services.schedule_session(teacher, start=soon(2), duration=60, capacity=5, timezone="UTC")
    all_have_looked = threading.Barrier(THREADS)

    def naive_retry(caller: Api) -> int:
        # Look the key up, find nothing (no one has stored it yet), then run the request unguarded.
        seen = IdempotencyKey.objects.filter(user=student, key="naive").exists()
        all_have_looked.wait(timeout=30)
        assert not seen
        return caller.post(f"sessions/{session.pk}/bookings/").status_code

    statuses = run_at_once(naive_retry, callers(student))
    assert not [s for s in statuses if isinstance(s, Exception)], statuses
    assert sorted(statuses) == [201] + [409] * (THREADS - 1), statuses
    assert get_booking_model().objects.filter(session_id=session.pk).count() == 1


@pytest.mark.parametrize("key, budget", [(None, 11), ("budget", 13)])
def test_booking_a_seat_over_http_has_a_query_budget(teacher: Any, make_user: Any, key: str | None,
                                                      budget: int) -> None:
    """The service's statements, plus the request's own: the session and user, the adapter's
    visibility check, the booking's teacher for the answer, and with a key its look-up and its row.
    Transaction control (BEGIN, savepoints, COMMIT) is left out: databases log it differently. On
    MariaDB the service locks the class with a statement of its own before claiming the seat."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    session = services.schedule_session(teacher, start=soon(2), duration=60, capacity=5, timezone="UTC")
    caller = Api(make_user())
    with CaptureQueriesContext(connection) as seen:
        response = caller.post(f"sessions/{session.pk}/bookings/", **({"Idempotency-Key": key} if key else {}))
    assert response.status_code == 201
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")
    statements = [q["sql"] for q in seen.captured_queries if not q["sql"].upper().startswith(control)]
    budget += connection.vendor == "mysql"
    assert len(statements) <= budget, [sql[:80] for sql in statements]
