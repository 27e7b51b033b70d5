"""The HTTP API for teachers: changing a class (PATCH), moving it and cancelling it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.models import SessionWaitlist, get_booking_model

from .test_api_core import assert_error, soon
from .test_api_teacher import URL, bad_fields, body, iso, lesson_of, make_manager, refused, rows, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def tutor(teacher: Any) -> Any:
    services.set_policy(teacher)
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


@pytest.fixture
def full(group: Any, student: Any, other_student: Any, make_user: Any) -> Any:
    """The class with both seats taken and one student in line."""
    services.book_seat(student, group)
    services.book_seat(other_student, group)
    services.join_waitlist(make_user("waiting"), group)
    return stored(group)


def started(teacher: Any) -> Any:
    """A class of ``teacher`` that began half an hour ago (by the real clock)."""
    now = timezone.now()
    return services.schedule_session(teacher, start=now - dt.timedelta(minutes=30), duration=60, capacity=2,
                                     timezone="UTC", now=now - dt.timedelta(hours=1))


# --- PATCH sessions/{id}/ ----------------------------------------------------------------------------


def test_a_teacher_changes_the_title_and_meeting_details(api: Any, tutor: Any, group: Any) -> None:
    change = {"title": "Algebra III", "meeting_provider": "jitsi", "meeting_url": "https://meet.example.org/new",
              "meeting_passcode": ""}
    response = api(tutor)("patch", f"sessions/{group.pk}/", change)
    assert response.status_code == 200, response.content
    data = body(response)
    assert (data["id"], data["title"], data["capacity"]) == (group.pk, "Algebra III", 2)
    assert data["meeting"] == {"provider": "jitsi", "url": "https://meet.example.org/new", "passcode": ""}
    row = stored(group)
    assert (row.title, row.meeting_provider, row.meeting_url, row.meeting_passcode, row.capacity) == (
        "Algebra III", "jitsi", "https://meet.example.org/new", "", 2)


def test_seats_added_go_to_the_line_at_once(api: Any, tutor: Any, full: Any) -> None:
    response = api(tutor)("patch", f"sessions/{full.pk}/", {"capacity": 5})
    assert response.status_code == 200, response.content
    assert (body(response)["capacity"], body(response)["seats_left"]) == (5, 2)
    assert stored(full).capacity == 5
    assert SessionWaitlist.objects.get(session=full).status == "offered"


def test_a_capacity_below_the_seats_taken_is_a_conflict(api: Any, tutor: Any, full: Any) -> None:
    before = rows()
    error = refused(api(tutor)("patch", f"sessions/{full.pk}/", {"capacity": 1, "title": "Smaller"}), 409,
                    "capacity_below_taken", before)
    assert error["params"] == {"taken": 2, "capacity": 1}


def test_a_cancelled_class_cannot_change(api: Any, tutor: Any, group: Any) -> None:
    services.cancel_session(group, actor=tutor)
    before = rows()
    refused(api(tutor)("patch", f"sessions/{group.pk}/", {"title": "Back"}), 409, "session_closed", before)


@pytest.mark.parametrize(("change", "fields"), [
    ({"capacity": 0}, {"capacity"}),
    ({"capacity": "two", "title": "t" * 201}, {"capacity", "title"}),
    ({"meeting_url": "u" * 501, "meeting_passcode": "p" * 129}, {"meeting_url", "meeting_passcode"}),
    ({"title": None}, {"title"}),
])
def test_bad_changes_name_the_fields(api: Any, tutor: Any, group: Any, change: Any, fields: set[str]) -> None:
    before = rows()
    assert bad_fields(api(tutor)("patch", f"sessions/{group.pk}/", change), before) == fields


def test_a_meeting_link_that_is_not_one_is_refused(api: Any, tutor: Any, group: Any) -> None:
    before = rows()
    error = refused(api(tutor)("patch", f"sessions/{group.pk}/", {"meeting_url": "not a link", "title": "New"}),
                    400, "invalid_session", before)
    assert error["params"] == {"fields": ["meeting_url"]}


def test_a_lesson_takes_a_meeting_link_but_no_capacity_and_no_move(api: Any, tutor: Any, student: Any) -> None:
    lesson = lesson_of(student, tutor)
    before = rows()
    refused(api(tutor)("patch", f"sessions/{lesson.session_id}/", {"capacity": 2}), 400, "not_a_group_session",
            before)
    refused(api(tutor).post(f"sessions/{lesson.session_id}/reschedule/", {"start": iso(soon(6))}), 400,
            "not_a_lesson", before)
    response = api(tutor)("patch", f"sessions/{lesson.session_id}/", {"meeting_url": URL})
    assert response.status_code == 200, response.content
    assert (body(response)["kind"], body(response)["meeting"]["url"]) == ("one_on_one", URL)
    assert stored(lesson.session).meeting_url == URL


def test_only_the_teacher_or_a_manager_changes_a_class(api: Any, group: Any, rival: Any, student: Any,
                                                      manager: Any) -> None:
    before = rows()
    for user in (rival, student):
        refused(api(user)("patch", f"sessions/{group.pk}/", {"title": "Mine"}), 403, "not_allowed", before)
    refused(api(None)("patch", f"sessions/{group.pk}/", {"title": "Mine"}), 403, "not_authenticated", before)
    refused(api(rival)("patch", "sessions/999999/", {"title": "Mine"}), 404, "not_found", before)
    response = api(manager)("patch", f"sessions/{group.pk}/", {"title": "By the desk", "capacity": 3})
    assert response.status_code == 200, response.content
    assert body(response)["meeting"]["url"] == URL
    assert (stored(group).title, stored(group).capacity) == ("By the desk", 3)


def test_another_teachers_lesson_is_not_found(api: Any, rival: Any, tutor: Any, student: Any) -> None:
    lesson = lesson_of(student, rival)
    before = rows()
    for path in (f"sessions/{lesson.session_id}/", f"sessions/{lesson.session_id}/reschedule/",
                 f"sessions/{lesson.session_id}/cancel/"):
        method = "patch" if path.count("/") == 2 else "post"
        refused(api(tutor)(method, path, {"title": "Mine", "start": iso(soon(5))}), 404, "not_found", before)


# --- POST sessions/{id}/reschedule/ ------------------------------------------------------------------


def test_a_class_moves_with_its_bookings(api: Any, tutor: Any, full: Any) -> None:
    new_start = soon(5, 14)
    response = api(tutor).post(f"sessions/{full.pk}/reschedule/", {"start": iso(new_start), "duration_minutes": 90})
    assert response.status_code == 200, response.content
    data = body(response)
    assert (data["start"], data["end"], data["duration_minutes"]) == (
        iso(new_start), iso(new_start + dt.timedelta(minutes=90)), 90)
    assert data["meeting"]["url"] == URL
    row = stored(full)
    assert (row.start_at_utc, row.end_at_utc, row.duration_minutes) == (
        new_start, new_start + dt.timedelta(minutes=90), 90)
    bookings = get_booking_model().objects.filter(session=full)
    assert {(b.start_at_utc, b.end_at_utc, b.status) for b in bookings} == {
        (new_start, new_start + dt.timedelta(minutes=90), "confirmed")}


def test_the_same_time_again_changes_nothing(api: Any, tutor: Any, group: Any) -> None:
    before = rows()
    response = api(tutor).post(f"sessions/{group.pk}/reschedule/", {"start": iso(group.start_at_utc)})
    assert response.status_code == 200, response.content
    assert body(response)["start"] == iso(group.start_at_utc)
    assert rows() == before


def test_moving_onto_another_class_is_a_conflict(api: Any, tutor: Any, full: Any) -> None:
    other = services.schedule_session(tutor, start=soon(5, 10), duration=60, capacity=1, timezone="UTC")
    before = rows()
    refused(api(tutor).post(f"sessions/{full.pk}/reschedule/", {"start": iso(other.start_at_utc
                                                                              + dt.timedelta(minutes=15))}),
            409, "teacher_unavailable", before)


def test_moving_a_class_refusals(api: Any, tutor: Any, group: Any) -> None:
    before = rows()
    refused(api(tutor).post(f"sessions/{group.pk}/reschedule/", {"start": iso(soon(-1))}), 400, "start_in_past",
            before)
    gone = started(tutor)
    before = rows()
    refused(api(tutor).post(f"sessions/{gone.pk}/reschedule/", {"start": iso(soon(6))}), 409, "session_closed", before)
    services.cancel_session(group, actor=tutor)
    before = rows()
    refused(api(tutor).post(f"sessions/{group.pk}/reschedule/", {"start": iso(soon(6))}), 409, "session_closed",
            before)


@pytest.mark.parametrize(("data", "fields"), [
    ({}, {"start"}),
    ({"start": "2030-01-01T10:00:00"}, {"start"}),
    ({"start": iso(soon(6)), "duration_minutes": 0}, {"duration_minutes"}),
    ({"start": "tomorrow", "duration_minutes": 1441}, {"start", "duration_minutes"}),
])
def test_bad_moves_name_the_fields(api: Any, tutor: Any, group: Any, data: Any, fields: set[str]) -> None:
    before = rows()
    assert bad_fields(api(tutor).post(f"sessions/{group.pk}/reschedule/", data), before) == fields


def test_only_the_teacher_or_a_manager_moves_a_class(api: Any, group: Any, rival: Any, student: Any,
                                                    manager: Any) -> None:
    before = rows()
    move = {"start": iso(soon(6))}
    for user in (rival, student):
        refused(api(user).post(f"sessions/{group.pk}/reschedule/", move), 403, "not_allowed", before)
    refused(api(None).post(f"sessions/{group.pk}/reschedule/", move), 403, "not_authenticated", before)
    refused(api(manager).post("sessions/999999/reschedule/", move), 404, "not_found", before)
    response = api(manager).post(f"sessions/{group.pk}/reschedule/", move)
    assert response.status_code == 200, response.content
    assert stored(group).start_at_utc == soon(6)


# --- POST sessions/{id}/cancel/ ----------------------------------------------------------------------


def test_cancelling_a_class_cancels_its_bookings_and_closes_its_line(api: Any, tutor: Any, full: Any) -> None:
    response = api(tutor).post(f"sessions/{full.pk}/cancel/", {"reason": "Teacher is ill"})
    assert response.status_code == 200, response.content
    data = body(response)
    assert (data["status"], data["cancellation_reason"], data["seats_taken"]) == ("cancelled", "Teacher is ill", 0)
    row = stored(full)
    assert (row.status, row.cancellation_reason, row.seats_taken) == ("cancelled", "Teacher is ill", 0)
    assert set(get_booking_model().objects.filter(session=full).values_list("status", flat=True)) == {"cancelled"}
    assert set(SessionWaitlist.objects.filter(session=full).values_list("status", flat=True)) == {"left"}


def test_a_class_is_cancelled_once(api: Any, tutor: Any, group: Any) -> None:
    assert api(tutor).post(f"sessions/{group.pk}/cancel/").status_code == 200
    before = rows()
    error = refused(api(tutor).post(f"sessions/{group.pk}/cancel/"), 409, "invalid_transition", before)
    assert error["params"] == {"from": "cancelled", "to": "cancelled"}


def test_a_class_that_has_started_cannot_be_cancelled(api: Any, tutor: Any) -> None:
    gone = started(tutor)
    before = rows()
    refused(api(tutor).post(f"sessions/{gone.pk}/cancel/"), 409, "session_closed", before)


def test_a_too_long_reason_is_bad_input(api: Any, tutor: Any, group: Any) -> None:
    before = rows()
    assert bad_fields(api(tutor).post(f"sessions/{group.pk}/cancel/", {"reason": "r" * 501}), before) == {"reason"}


def test_only_the_teacher_or_a_manager_cancels_a_class(api: Any, full: Any, rival: Any, student: Any,
                                                      manager: Any) -> None:
    before = rows()
    for user in (rival, student):
        refused(api(user).post(f"sessions/{full.pk}/cancel/"), 403, "not_allowed", before)
    refused(api(None).post(f"sessions/{full.pk}/cancel/"), 403, "not_authenticated", before)
    refused(api(rival).post("sessions/999999/cancel/"), 404, "not_found", before)
    response = api(manager).post(f"sessions/{full.pk}/cancel/", {"reason": "Closed"})
    assert response.status_code == 200, response.content
    assert body(response)["meeting"]["url"] == URL
    assert stored(full).status == "cancelled"
    assert_error(api(manager).post(f"sessions/{full.pk}/cancel/"), 409, "invalid_transition")
