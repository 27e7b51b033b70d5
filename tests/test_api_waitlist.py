"""The student side of waitlists: joining the line of a full class, and ``waitlist/`` (offers, leaving)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.models import IdempotencyKey, SessionWaitlist, get_booking_model, get_session_model

from .api_student_helpers import (
    KEY,
    MEETING,
    assert_error,
    assert_invalid,
    group_class,
    iso,
    ok,
    open_all_week,
    queries,
    snapshot,
    soon,
    unchanged,
)

pytestmark = pytest.mark.django_db

ENTRY_FIELDS = {"id", "session", "session_title", "session_start", "student", "position", "status", "offered_at",
                "offer_expires_at", "booking"}


@pytest.fixture
def full(teacher: Any, other_student: Any) -> Any:
    """A class of one seat, taken by the other student."""
    session = group_class(teacher, capacity=1)
    services.book_seat(other_student, session)
    return session


@pytest.fixture
def offered(full: Any, student: Any, other_student: Any) -> Any:
    """The student waits first in line for the full class; the seat is freed and offered to them."""
    entry = services.join_waitlist(student, full)
    holder = get_booking_model().objects.get(session=full, student=other_student)
    services.cancel_booking(holder, actor=other_student)
    entry.refresh_from_db()
    assert entry.status == "offered"
    return entry


def entry_of(pk: Any) -> SessionWaitlist:
    return SessionWaitlist.objects.get(pk=pk)


# --- POST sessions/{id}/waitlist/ -----------------------------------------------------------------


def test_joining_the_line_of_a_full_class(api: Any, student: Any, full: Any) -> None:
    found = ok(api(student).post(f"sessions/{full.pk}/waitlist/"), 201)
    entry = SessionWaitlist.objects.get(student=student)
    assert set(found) == ENTRY_FIELDS
    assert found == {
        "id": entry.pk, "session": full.pk, "session_title": "Algebra II", "session_start": iso(soon()),
        "student": {"id": student.pk, "name": "student"}, "position": 1, "status": "waiting", "offered_at": None,
        "offer_expires_at": None, "booking": None,
    }
    assert (entry.session_id, entry.status, entry.position) == (full.pk, "waiting", 1)
    # The class shows the viewer's place in line, and no meeting.
    session = ok(api(student).get(f"sessions/{full.pk}/"))
    assert session["my_waitlist_entry"] == {"id": entry.pk, "status": "waiting", "position": 1}
    assert (session["my_booking"], session["meeting"]) == (None, None)


def test_the_same_key_twice_joins_once(api: Any, student: Any, full: Any) -> None:
    caller = api(student)
    first = caller.post(f"sessions/{full.pk}/waitlist/", **{KEY: "line-1"})
    again = caller.post(f"sessions/{full.pk}/waitlist/", **{KEY: "line-1"})
    assert ok(first, 201) == ok(again, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert SessionWaitlist.objects.filter(student=student).count() == 1
    assert IdempotencyKey.objects.filter(user=student).count() == 1


def test_a_key_reused_for_another_line_is_refused(api: Any, student: Any, teacher: Any, full: Any,
                                                  make_user: Any) -> None:
    other = group_class(teacher, days=3, capacity=1)
    services.book_seat(make_user(), other)
    caller = api(student)
    ok(caller.post(f"sessions/{full.pk}/waitlist/", **{KEY: "line-2"}), 201)
    before = snapshot()
    assert_error(caller.post(f"sessions/{other.pk}/waitlist/", **{KEY: "line-2"}), 422, "idempotency_key_reused")
    unchanged(before)


@pytest.mark.parametrize(("state", "status", "code"), [
    ("free", 409, "seats_available"),
    ("waiting", 409, "already_waitlisted"),
    ("booked", 409, "already_booked"),
    ("disabled", 409, "waitlist_disabled"),
    ("cancelled", 409, "session_closed"),
    ("teaching", 400, "own_session"),
    ("lesson", 400, "not_a_group_session"),
])
def test_a_refused_place_in_line_writes_nothing(api: Any, student: Any, teacher: Any, make_user: Any,
                                                set_policy: Any, state: str, status: int, code: str) -> None:
    session = group_class(teacher, capacity=1)
    joiner = student
    if state != "free":
        services.book_seat(student if state == "booked" else make_user(), session)
    if state == "waiting":
        services.join_waitlist(student, session)
    elif state == "disabled":
        set_policy(waitlist_enabled=False)
    elif state == "cancelled":
        services.cancel_session(session, actor=teacher)
    elif state == "teaching":
        joiner = teacher
    elif state == "lesson":
        open_all_week(teacher)
        session = services.request_lesson(student, teacher, start=soon(3, 14), duration=60).session
    before = snapshot()
    assert_error(api(joiner).post(f"sessions/{session.pk}/waitlist/", **{KEY: "no"}), status, code)
    unchanged(before)


def test_joining_needs_a_visible_class_and_a_signed_in_user(api: Any, student: Any, teacher: Any,
                                                            other_student: Any, full: Any) -> None:
    open_all_week(teacher)
    lesson = services.request_lesson(other_student, teacher, start=soon(3, 14), duration=60)
    before = snapshot()
    assert_error(api(student).post(f"sessions/{lesson.session_id}/waitlist/"), 404, "not_found")
    assert_error(api(None).post(f"sessions/{full.pk}/waitlist/"), 403, "not_authenticated")
    # The line itself is for whoever manages the class.
    assert_error(api(student).get(f"sessions/{full.pk}/waitlist/"), 403, "not_allowed")
    unchanged(before)


# --- GET waitlist/ and waitlist/{id}/ ---------------------------------------------------------------


def test_the_list_shows_only_my_places_newest_first(api: Any, student: Any, other_student: Any, teacher: Any,
                                                    make_user: Any, full: Any) -> None:
    later = group_class(teacher, days=3, capacity=1)
    services.book_seat(make_user(), later)
    first = services.join_waitlist(student, full)
    second = services.join_waitlist(student, later)
    theirs = services.join_waitlist(make_user(), later)
    found = ok(api(student).get("waitlist/"))
    assert [e["id"] for e in found["results"]] == [second.pk, first.pk]
    assert found["results"][0]["position"] == 1 and set(found["results"][0]) == ENTRY_FIELDS
    services.leave_waitlist(first, actor=student)
    assert [e["id"] for e in ok(api(student).get("waitlist/", {"status": "left"}))["results"]] == [first.pk]
    assert [e["id"] for e in ok(api(student).get("waitlist/", {"status": "waiting"}))["results"]] == [second.pk]
    assert_invalid(api(student).get("waitlist/", {"status": "queued"}), "status")
    assert ok(api(other_student).get("waitlist/"))["count"] == 0
    assert ok(api(student).get(f"waitlist/{second.pk}/"))["status"] == "waiting"
    assert_error(api(student).get(f"waitlist/{theirs.pk}/"), 404, "not_found")
    assert_error(api(None).get("waitlist/"), 403, "not_authenticated")
    assert_error(api(None).get(f"waitlist/{second.pk}/"), 403, "not_authenticated")


def test_the_list_costs_the_same_for_5_and_50_places(api: Any, student: Any, teacher: Any, make_user: Any) -> None:
    holder = make_user()

    def build(count: int, first_day: int) -> None:
        for i in range(count):
            session = group_class(teacher, days=first_day + i // 10, hour=7 + i % 10, capacity=1)
            services.book_seat(holder, session)
            services.join_waitlist(student, session)

    caller = api(student)
    build(5, 2)
    few, found = queries(lambda: ok(caller.get("waitlist/")))
    assert found["count"] == 5
    build(45, 3)
    many, found = queries(lambda: ok(caller.get("waitlist/")))
    assert found["count"] == 50 and len(found["results"]) == 50
    assert many == few, (many, few)


# --- POST waitlist/{id}/accept/ ---------------------------------------------------------------------


def test_accepting_an_offer_books_the_seat(api: Any, student: Any, teacher: Any, full: Any, offered: Any) -> None:
    found = ok(api(student).post(f"waitlist/{offered.pk}/accept/"), 201)
    booking = get_booking_model().objects.get(session=full, student=student)
    assert (found["id"], found["status"], found["session"], found["meeting"]) == (
        booking.pk, "confirmed", full.pk, MEETING)
    assert (booking.status, booking.source) == ("confirmed", "waitlist")
    entry = entry_of(offered.pk)
    assert (entry.status, entry.booking_id) == ("accepted", booking.pk)
    assert get_session_model().objects.get(pk=full.pk).seats_taken == 1
    assert ok(api(student).get(f"waitlist/{offered.pk}/"))["booking"] == booking.pk


def test_an_expired_offer_cannot_be_accepted(api: Any, student: Any, offered: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(DefaultBookingAdapter, "now",
                        lambda self: offered.offer_expires_at + dt.timedelta(minutes=1))
    before = snapshot()
    found = assert_error(api(student).post(f"waitlist/{offered.pk}/accept/"), 409, "offer_expired")
    assert found["params"] == {"expired_at": offered.offer_expires_at.isoformat()}
    unchanged(before)


def test_a_waiting_place_has_no_offer_to_accept(api: Any, student: Any, full: Any) -> None:
    entry = services.join_waitlist(student, full)
    before = snapshot()
    assert_error(api(student).post(f"waitlist/{entry.pk}/accept/"), 409, "invalid_transition")
    assert_error(api(student).post(f"waitlist/{entry.pk}/decline/"), 409, "invalid_transition")
    unchanged(before)


def test_an_offer_is_honoured_without_a_new_policy_decision(api: Any, student: Any, teacher: Any, offered: Any,
                                                            set_policy: Any) -> None:
    # The rules judged the student when they joined the line; a limit set since does not take the seat back.
    services.book_seat(student, group_class(teacher, hour=15))
    set_policy(max_bookings_per_day=1)
    assert ok(api(student).post(f"waitlist/{offered.pk}/accept/"), 201)["status"] == "confirmed"
    assert entry_of(offered.pk).status == "accepted"
    # So the schema promises no policy refusal a client would wait for in vain.
    schema = ok(api(None).get("schema/", {"format": "json"}))
    described = schema["paths"]["/waitlist/{id}/accept/"]["post"]["description"]
    assert "`offer_expired` (409)" in described
    assert not {"daily_limit", "weekly_limit", "policy_violation"} & set(described.replace("`", " ").split())


def test_another_students_offer_is_not_found(api: Any, other_student: Any, make_user: Any, offered: Any) -> None:
    before = snapshot()
    for action in ("accept", "decline", "leave"):
        assert_error(api(other_student).post(f"waitlist/{offered.pk}/{action}/"), 404, "not_found")
        assert_error(api(None).post(f"waitlist/{offered.pk}/{action}/"), 403, "not_authenticated")
    assert_error(api(make_user()).get(f"waitlist/{offered.pk}/"), 404, "not_found")
    unchanged(before)


# --- POST waitlist/{id}/decline/ and leave/ ---------------------------------------------------------


def test_declining_an_offer_passes_the_seat_on(api: Any, student: Any, make_user: Any, full: Any,
                                                offered: Any) -> None:
    next_in_line = services.join_waitlist(make_user(), full)
    found = ok(api(student).post(f"waitlist/{offered.pk}/decline/"))
    assert (found["id"], found["status"], found["booking"]) == (offered.pk, "declined", None)
    assert entry_of(offered.pk).status == "declined"
    assert entry_of(next_in_line.pk).status == "offered"
    assert not get_booking_model().objects.filter(student=student).exists()
    before = snapshot()
    assert_error(api(student).post(f"waitlist/{offered.pk}/decline/"), 409, "invalid_transition")
    unchanged(before)


def test_leaving_the_line(api: Any, student: Any, full: Any) -> None:
    entry = services.join_waitlist(student, full)
    found = ok(api(student).post(f"waitlist/{entry.pk}/leave/"))
    assert (found["id"], found["status"]) == (entry.pk, "left")
    assert entry_of(entry.pk).status == "left"
    assert ok(api(student).get(f"sessions/{full.pk}/"))["my_waitlist_entry"] is None
    before = snapshot()
    assert_error(api(student).post(f"waitlist/{entry.pk}/leave/"), 409, "invalid_transition")
    unchanged(before)


def test_leaving_with_an_offer_frees_the_seat(api: Any, student: Any, full: Any, offered: Any) -> None:
    assert get_session_model().objects.get(pk=full.pk).seats_taken == 1
    assert ok(api(student).post(f"waitlist/{offered.pk}/leave/"))["status"] == "left"
    assert get_session_model().objects.get(pk=full.pk).seats_taken == 0


def test_the_teacher_sees_the_line_of_their_class_and_may_take_a_student_off_it(
        api: Any, teacher: Any, student: Any, make_user: Any, full: Any) -> None:
    entry = services.join_waitlist(student, full)
    elsewhere = group_class(make_user(), capacity=1)
    services.book_seat(make_user(), elsewhere)
    theirs = services.join_waitlist(make_user(), elsewhere)
    listed = ok(api(teacher).get("waitlist/"))
    assert [row["id"] for row in listed["results"]] == [entry.pk]
    assert_error(api(teacher).get(f"waitlist/{theirs.pk}/"), 404, "not_found")
    # Only the student may take the offer; the teacher may only take them off the line.
    before = snapshot()
    assert_error(api(teacher).post(f"waitlist/{entry.pk}/decline/"), 403, "not_allowed")
    unchanged(before)
    left = ok(api(teacher).post(f"waitlist/{entry.pk}/leave/"))
    assert left["status"] == entry_of(entry.pk).status == "left"
