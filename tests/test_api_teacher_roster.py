"""The HTTP API for teachers: a class's roster and waitlist, and deciding pending bookings."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services
from django_liveclass_booking.models import get_booking_model

from .test_api_core import soon
from .test_api_teacher import URL, bad_fields, body, iso, lesson_of, make_manager, refused, rows, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def tutor(teacher: Any) -> Any:
    services.set_policy(teacher, approval_mode="manual")
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
def pending(group: Any, student: Any) -> Any:
    """A seat the student asked for, waiting for the teacher's decision."""
    booking = services.book_seat(student, group)
    assert booking.status == "pending"
    return booking


def students(count: int) -> list[Any]:
    user_model = get_user_model()
    first = user_model.objects.count()
    return list(user_model.objects.bulk_create(user_model(username=f"pupil{first + n}") for n in range(count)))


def booked(count: int, teacher: Any, days: int = 3) -> Any:
    """A class of ``count`` seats, every one of them booked."""
    session = services.schedule_session(teacher, start=soon(days), duration=60, capacity=count, timezone="UTC",
                                        meeting_url=URL)
    for pupil in students(count):
        services.book_seat(pupil, session)
    return session


def lined_up(count: int, teacher: Any, days: int = 4) -> Any:
    """A full class with ``count`` students in line for a seat."""
    session = services.schedule_session(teacher, start=soon(days), duration=60, capacity=1, timezone="UTC")
    first, *others = students(count + 1)
    services.book_seat(first, session)
    for pupil in others:
        services.join_waitlist(pupil, session)
    return session


def queries(call: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), body(response)


# --- GET sessions/{id}/bookings/ ---------------------------------------------------------------------


def test_the_teacher_reads_the_roster_with_the_meeting(api: Any, tutor: Any, group: Any, pending: Any,
                                                       other_student: Any) -> None:
    second = services.book_seat(other_student, group)
    services.confirm_booking(second, actor=tutor)
    response = api(tutor).get(f"sessions/{group.pk}/bookings/")
    assert response.status_code == 200, response.content
    data = body(response)
    assert (data["count"], data["next"], data["previous"]) == (2, None, None)
    assert [(b["id"], b["student"], b["status"]) for b in data["results"]] == [
        (pending.pk, {"id": pending.student_id, "name": "student"}, "pending"),
        (second.pk, {"id": other_student.pk, "name": other_student.username}, "confirmed")]
    first = data["results"][0]
    assert (first["session"], first["session_title"], first["kind"], first["start"], first["timezone"]) == (
        group.pk, "Algebra II", "group", iso(group.start_at_utc), "UTC")
    assert first["teacher"] == {"id": tutor.pk, "name": "teacher"}
    assert all(b["meeting"] == {"provider": "", "url": URL, "passcode": "42"} for b in data["results"])


def test_the_roster_pages(api: Any, tutor: Any) -> None:
    session = booked(3, tutor)
    data = body(api(tutor).get(f"sessions/{session.pk}/bookings/", {"page_size": 2, "page": 2}))
    assert data["count"] == 3 and len(data["results"]) == 1 and data["next"] is None
    assert data["previous"]


def test_only_the_teacher_or_a_manager_reads_the_roster(api: Any, group: Any, pending: Any, rival: Any,
                                                        manager: Any) -> None:
    before = rows()
    for user in (rival, pending.student):
        refused(api(user).get(f"sessions/{group.pk}/bookings/"), 403, "not_allowed", before)
    refused(api(None).get(f"sessions/{group.pk}/bookings/"), 403, "not_authenticated", before)
    refused(api(manager).get("sessions/999999/bookings/"), 404, "not_found", before)
    data = body(api(manager).get(f"sessions/{group.pk}/bookings/"))
    assert [b["id"] for b in data["results"]] == [pending.pk]
    assert data["results"][0]["meeting"]["url"] == URL


def test_another_teachers_lesson_roster_is_not_found(api: Any, tutor: Any, rival: Any, student: Any) -> None:
    lesson = lesson_of(student, rival)
    before = rows()
    refused(api(tutor).get(f"sessions/{lesson.session_id}/bookings/"), 404, "not_found", before)
    refused(api(tutor).get(f"sessions/{lesson.session_id}/waitlist/"), 404, "not_found", before)


@pytest.mark.parametrize("who", ["tutor", "manager"])
def test_the_roster_costs_the_same_queries_for_5_or_50_bookings(api: Any, tutor: Any, manager: Any,
                                                                 who: str) -> None:
    services.set_policy(tutor, approval_mode="auto")
    caller = api(tutor if who == "tutor" else manager)
    small, large = booked(5, tutor), booked(50, tutor, days=5)
    few, five = queries(lambda: caller.get(f"sessions/{small.pk}/bookings/"))
    many, fifty = queries(lambda: caller.get(f"sessions/{large.pk}/bookings/"))
    assert (len(five["results"]), len(fifty["results"])) == (5, 50)
    assert few == many


# --- GET sessions/{id}/waitlist/ ---------------------------------------------------------------------


def test_the_teacher_reads_the_line_in_order(api: Any, tutor: Any) -> None:
    services.set_policy(tutor, approval_mode="auto")
    session = lined_up(3, tutor)
    response = api(tutor).get(f"sessions/{session.pk}/waitlist/")
    assert response.status_code == 200, response.content
    data = body(response)
    assert data["count"] == 3
    assert [e["position"] for e in data["results"]] == [1, 2, 3]
    first = data["results"][0]
    assert (first["session"], first["session_start"], first["status"], first["offered_at"], first["booking"]) == (
        session.pk, iso(session.start_at_utc), "waiting", None, None)
    assert first["student"]["name"].startswith("pupil")


def test_only_the_teacher_or_a_manager_reads_the_line(api: Any, tutor: Any, rival: Any, manager: Any) -> None:
    services.set_policy(tutor, approval_mode="auto")
    session = lined_up(2, tutor)
    waiting = get_user_model().objects.get(pk=body(api(tutor).get(f"sessions/{session.pk}/waitlist/"))
                                           ["results"][0]["student"]["id"])
    before = rows()
    for user in (rival, waiting):
        refused(api(user).get(f"sessions/{session.pk}/waitlist/"), 403, "not_allowed", before)
    refused(api(None).get(f"sessions/{session.pk}/waitlist/"), 403, "not_authenticated", before)
    refused(api(tutor).get("sessions/999999/waitlist/"), 404, "not_found", before)
    assert body(api(manager).get(f"sessions/{session.pk}/waitlist/"))["count"] == 2


@pytest.mark.parametrize("who", ["tutor", "manager"])
def test_the_line_costs_the_same_queries_for_5_or_50_places(api: Any, tutor: Any, manager: Any, who: str) -> None:
    services.set_policy(tutor, approval_mode="auto")
    caller = api(tutor if who == "tutor" else manager)
    small, large = lined_up(5, tutor), lined_up(50, tutor, days=5)
    few, five = queries(lambda: caller.get(f"sessions/{small.pk}/waitlist/"))
    many, fifty = queries(lambda: caller.get(f"sessions/{large.pk}/waitlist/"))
    assert (len(five["results"]), len(fifty["results"])) == (5, 50)
    assert few == many


# --- POST bookings/{id}/confirm/ and decline/ ----------------------------------------------------------


def test_the_teacher_confirms_a_pending_seat(api: Any, tutor: Any, group: Any, pending: Any) -> None:
    response = api(tutor).post(f"bookings/{pending.pk}/confirm/")
    assert response.status_code == 200, response.content
    data = body(response)
    assert (data["id"], data["status"], data["expires_at"]) == (pending.pk, "confirmed", None)
    assert data["meeting"] == {"provider": "", "url": URL, "passcode": "42"}
    row = get_booking_model().objects.get(pk=pending.pk)
    assert (row.status, row.decided_by_id, row.expires_at) == ("confirmed", tutor.pk, None)
    assert stored(group).seats_taken == 1


def test_the_teacher_declines_a_pending_seat_and_frees_it(api: Any, tutor: Any, group: Any, pending: Any) -> None:
    response = api(tutor).post(f"bookings/{pending.pk}/decline/", {"reason": "Class is for beginners"})
    assert response.status_code == 200, response.content
    data = body(response)
    assert (data["status"], data["reason"]) == ("declined", "Class is for beginners")
    row = get_booking_model().objects.get(pk=pending.pk)
    assert (row.status, row.reason, row.decided_by_id) == ("declined", "Class is for beginners", tutor.pk)
    assert stored(group).seats_taken == 0


@pytest.mark.parametrize("first", ["confirm", "decline"])
@pytest.mark.parametrize("then", ["confirm", "decline"])
def test_a_decided_booking_cannot_be_decided_again(api: Any, tutor: Any, pending: Any, first: str,
                                                   then: str) -> None:
    assert api(tutor).post(f"bookings/{pending.pk}/{first}/").status_code == 200
    before = rows()
    error = refused(api(tutor).post(f"bookings/{pending.pk}/{then}/"), 409, "invalid_transition", before)
    assert error["params"]["from"] == ("confirmed" if first == "confirm" else "declined")


def test_a_too_long_decline_reason_is_bad_input(api: Any, tutor: Any, pending: Any) -> None:
    before = rows()
    assert bad_fields(api(tutor).post(f"bookings/{pending.pk}/decline/", {"reason": "r" * 501}), before) == {
        "reason"}


@pytest.mark.parametrize("action", ["confirm", "decline"])
def test_only_the_teacher_or_a_manager_decides(api: Any, pending: Any, rival: Any, other_student: Any,
                                               manager: Any, action: str) -> None:
    before = rows()
    # The student sees their own booking, but may not decide it.
    refused(api(pending.student).post(f"bookings/{pending.pk}/{action}/"), 403, "not_allowed", before)
    # Another teacher or student does not even see it.
    for user in (rival, other_student):
        refused(api(user).post(f"bookings/{pending.pk}/{action}/"), 404, "not_found", before)
    refused(api(None).post(f"bookings/{pending.pk}/{action}/"), 403, "not_authenticated", before)
    refused(api(manager).post(f"bookings/999999/{action}/"), 404, "not_found", before)
    response = api(manager).post(f"bookings/{pending.pk}/{action}/")
    assert response.status_code == 200, response.content
    row = get_booking_model().objects.get(pk=pending.pk)
    assert (row.status, row.decided_by_id) == ("confirmed" if action == "confirm" else "declined", manager.pk)
