"""Values that would break a page or a database later are refused on the way in, on every database."""

from __future__ import annotations

import datetime as dt
from importlib import import_module
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import TeacherBookingPolicy, TeacherTimeOff, get_booking_model, get_session_model
from django_liveclass_booking.models.validators import (
    MAX_LESSON_DURATIONS,
    MAX_LESSON_MINUTES,
    clean_text,
    no_nul_bytes,
    validate_lesson_durations,
)

pytestmark = pytest.mark.django_db

BOUNDED = import_module("django_liveclass_booking.migrations.0006_text_without_nul_and_lesson_length_bounds")
#: As RunPython passes it: the migration only asks the schema editor which database it migrates.
EDITOR = SimpleNamespace(connection=connection)


# --- clean_text: the one check for text the services store ---------------------------------------


@pytest.mark.parametrize("value", ["", "Algebra; 🎉\r\n\\", "x" * 200])
def test_clean_text_returns_text_every_database_stores_unchanged(value: str) -> None:
    assert clean_text(value, field="title", max_length=200) == value


def test_clean_text_without_a_limit_takes_any_length() -> None:
    assert clean_text("x" * 100_000, field="message", max_length=None) == "x" * 100_000


@pytest.mark.parametrize(
    ("value", "max_length"),
    [("a\x00b", None), ("x" * 201, 200), (None, 200), (7, 200), (b"title", 200), ("\udc80", None)],
    ids=["nul", "too long", "none", "int", "bytes", "lone surrogate"],
)
def test_clean_text_refuses_with_invalid_text_naming_the_field(value: Any, max_length: int | None) -> None:
    with pytest.raises(BookingError) as caught:
        clean_text(value, field="title", max_length=max_length)
    assert caught.value.code == "invalid_text"
    assert (caught.value.params["field"], caught.value.params["fields"]) == ("title", ["title"])


def test_an_overlong_text_says_the_limit() -> None:
    with pytest.raises(BookingError) as caught:
        clean_text("x" * 201, field="title", max_length=200)
    assert caught.value.params["max_length"] == 200
    assert "200" in str(caught.value)


# --- the model validators: full_clean, the admin and model forms refuse the same -----------------


@pytest.mark.parametrize("value", [[], [1], [MAX_LESSON_MINUTES], list(range(1, MAX_LESSON_DURATIONS + 1))])
def test_lesson_durations_within_the_bounds_are_valid(value: list[int]) -> None:
    validate_lesson_durations(value)


@pytest.mark.parametrize(
    "value",
    [[99999999999], [0], [-5], [MAX_LESSON_MINUTES + 1], [30, 30], [30.0], ["30"], [True], [None],
     list(range(1, MAX_LESSON_DURATIONS + 2)), "30", None, {"30": 30}],
)
def test_lesson_durations_outside_the_bounds_are_invalid(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_lesson_durations(value)
    assert caught.value.code == "invalid_lesson_durations"


def test_no_nul_bytes_refuses_only_nul() -> None:
    no_nul_bytes("Any text; \r\n\t 🎉")
    with pytest.raises(ValidationError) as caught:
        no_nul_bytes("a\x00b")
    assert caught.value.code == "null_characters_not_allowed"


SESSION_TEXT = ["title", "meeting_provider", "meeting_passcode", "cancellation_reason"]


@pytest.mark.parametrize("field", SESSION_TEXT)
def test_session_text_with_nul_fails_model_validation(field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        get_session_model()(**{field: "a\x00b"}).full_clean()
    assert [e.code for e in caught.value.error_dict[field]] == ["null_characters_not_allowed"]


def test_a_meeting_url_with_nul_fails_model_validation() -> None:
    with pytest.raises(ValidationError) as caught:
        get_session_model()(meeting_url="https://meet.example/\x00").full_clean()
    assert "meeting_url" in caught.value.error_dict


@pytest.mark.parametrize("field", ["reason", "message"])
def test_booking_text_with_nul_fails_model_validation(field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        get_booking_model()(**{field: "a\x00b"}).full_clean()
    assert [e.code for e in caught.value.error_dict[field]] == ["null_characters_not_allowed"]


def test_time_off_reason_with_nul_fails_model_validation() -> None:
    with pytest.raises(ValidationError) as caught:
        TeacherTimeOff(reason="a\x00b").full_clean()
    assert "reason" in caught.value.error_dict


@pytest.mark.parametrize("field", ["title", "meeting_provider", "meeting_passcode"])
def test_a_session_scheduled_with_nul_text_is_refused_and_not_written(teacher: Any, field: str) -> None:
    # PostgreSQL would raise DataError on the INSERT; every database refuses it the same way first.
    with pytest.raises(BookingError) as caught:
        services.schedule_session(teacher, start=timezone.now() + dt.timedelta(days=2), duration=60, capacity=3,
                                  **{field: "a\x00b"})
    assert (caught.value.code, caught.value.params["fields"]) == ("invalid_text", [field])
    assert not get_session_model().objects.exists()


# --- rows stored before the bounds are brought within them --------------------------------------


@pytest.mark.parametrize(
    ("stored", "bounded"),
    [
        ([99999999999], [MAX_LESSON_MINUTES]),
        ([30, 30, 60], [30, 60]),
        ([45.0, "x", 0, -5, True, None, 30], [45, 30]),
        ([30.5, 1e12], [MAX_LESSON_MINUTES]),
        (list(range(1, 40)), list(range(1, MAX_LESSON_DURATIONS + 1))),
        ({"a": 1}, []),
        ([30, 60], [30, 60]),
        ([], []),
    ],
)
def test_the_migration_bounds_stored_lesson_durations(teacher: Any, stored: Any, bounded: list[int]) -> None:
    services.set_policy(teacher, approval_mode="manual")
    # As written before the bounds existed: past every validator.
    TeacherBookingPolicy.objects.filter(teacher=teacher).update(lesson_durations=stored)
    BOUNDED.bound_stored_lesson_durations(apps, EDITOR)
    policy = TeacherBookingPolicy.objects.get(teacher=teacher)
    assert (policy.lesson_durations, policy.approval_mode) == (bounded, "manual")
    validate_lesson_durations(policy.lesson_durations)


def test_a_teachers_lesson_page_works_again_once_stored_lengths_are_bounded(client: Any, teacher: Any,
                                                                           student: Any) -> None:
    services.set_policy(teacher, lesson_durations=[30])
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(18))
    TeacherBookingPolicy.objects.filter(teacher=teacher).update(lesson_durations=[99999999999])
    BOUNDED.bound_stored_lesson_durations(apps, EDITOR)
    client.force_login(student)
    assert client.get(reverse("liveclass_booking:request_lesson", args=[teacher.pk])).status_code == 200
