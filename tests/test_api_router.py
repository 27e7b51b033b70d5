"""The HTTP API on a host whose router keeps the booking models on another alias (tests.settings_router).

An ``Idempotency-Key`` is kept with what it guards: on the booking database, in the booking's transaction.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services
from django_liveclass_booking.models import IdempotencyKey, get_booking_model

from .routers import BOOKING, DEFAULT
from .test_api_core import soon

pytestmark = [pytest.mark.router, pytest.mark.django_db(databases=[DEFAULT, BOOKING], transaction=True)]


def on_booking(model: Any, **filters: Any) -> Any:
    return model._default_manager.db_manager(BOOKING).filter(**filters)


def booking_tables() -> set[str]:
    return {model._meta.db_table for model in (get_booking_model(), IdempotencyKey)}


def test_a_seat_booked_with_a_key_keeps_both_on_the_booking_database(api: Any, teacher: Any, student: Any,
                                                                     monkeypatch: Any) -> None:
    session = services.schedule_session(teacher, start=soon(), duration=60, capacity=2, timezone="UTC")
    caller = api(student)
    path = f"sessions/{session.pk}/bookings/"

    # The key is written in the booking's transaction: if storing it fails (after the booking was
    # written), no seat is taken and no key kept.
    save = IdempotencyKey.save
    written = []

    def broken(row: IdempotencyKey, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("force_insert"):
            written.extend(on_booking(model).count() for model in (get_booking_model(), IdempotencyKey))
            raise RuntimeError("the response could not be stored")
        save(row, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(IdempotencyKey, "save", broken)
        with pytest.raises(RuntimeError):
            caller.post(path, **{"Idempotency-Key": "seat-1"})
    assert written == [1, 0]
    assert not on_booking(get_booking_model()).exists()
    assert not on_booking(IdempotencyKey).exists()

    with CaptureQueriesContext(connections[DEFAULT]) as on_default:
        first = caller.post(path, **{"Idempotency-Key": "seat-1"})
        again = caller.post(path, **{"Idempotency-Key": "seat-1"})
    assert first.status_code == again.status_code == 201, first.content
    assert json.loads(again.content) == json.loads(first.content)
    assert again["Idempotent-Replayed"] == "true"
    # The default database holds the web sessions only: no booking row or key was looked for there.
    assert not [q["sql"] for q in on_default.captured_queries if any(t in q["sql"] for t in booking_tables())]
    [booking] = on_booking(get_booking_model(), student_id=student.pk)
    assert json.loads(first.content)["id"] == booking.pk
    [key] = on_booking(IdempotencyKey)
    assert (key.user_id, key.key, key.status_code, key.response) == (student.pk, "seat-1", 201,
                                                                     first.content.decode())
