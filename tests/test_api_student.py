"""The student side of ``sessions/``: listing and opening classes, and booking a seat."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.models import IdempotencyKey, get_booking_model, get_session_model

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

SESSION_FIELDS = {"id", "kind", "title", "teacher", "start", "end", "duration_minutes", "timezone", "capacity",
                  "seats_taken", "seats_left", "status", "cancellation_reason", "recurrence_key", "meeting",
                  "my_booking", "my_waitlist_entry"}
BOOKING_FIELDS = {"id", "session", "session_title", "kind", "teacher", "student", "start", "end", "timezone",
                  "status", "message", "reason", "expires_at", "late_cancellation", "created", "meeting"}


@pytest.fixture
def group(teacher: Any) -> Any:
    return group_class(teacher)


@pytest.fixture
def lesson(teacher: Any, other_student: Any) -> Any:
    """Another student's 1:1 lesson with the teacher."""
    open_all_week(teacher)
    return services.request_lesson(other_student, teacher, start=soon(3, 11), duration=60)


# --- GET sessions/ --------------------------------------------------------------------------------


def test_the_list_shows_upcoming_classes_soonest_first(api: Any, student: Any, teacher: Any) -> None:
    late = group_class(teacher, days=4, title="Late")
    early = group_class(teacher, days=2, title="Early")
    past = services.schedule_session(teacher, start=timezone.now() - dt.timedelta(hours=3), duration=60,
                                     capacity=2, now=timezone.now() - dt.timedelta(days=1))
    found = ok(api(student).get("sessions/"))
    assert set(found) == {"count", "next", "previous", "results"}
    assert found["count"] == 2
    assert [s["id"] for s in found["results"]] == [early.pk, late.pk]
    assert past.pk not in [s["id"] for s in found["results"]]
    first = found["results"][0]
    assert set(first) == SESSION_FIELDS
    assert first == {
        "id": early.pk, "kind": "group", "title": "Early", "teacher": {"id": teacher.pk, "name": "teacher"},
        "start": iso(soon(2)), "end": iso(soon(2, 11)), "duration_minutes": 60, "timezone": "UTC", "capacity": 2,
        "seats_taken": 0, "seats_left": 2, "status": "scheduled", "cancellation_reason": "", "recurrence_key": None,
        "meeting": None, "my_booking": None, "my_waitlist_entry": None,
    }


def test_the_list_filters_and_pages(api: Any, student: Any, teacher: Any, make_user: Any) -> None:
    other_teacher = make_user("other_teacher")
    first, second, third = (group_class(teacher, days=d) for d in (2, 3, 4))
    theirs = group_class(other_teacher, days=3, hour=12)
    caller = api(student)
    ids = lambda found: [s["id"] for s in found["results"]]  # noqa: E731
    assert ids(ok(caller.get("sessions/", {"teacher": other_teacher.pk}))) == [theirs.pk]
    assert ids(ok(caller.get("sessions/", {"start_after": iso(soon(2, 12)), "start_before": iso(soon(4))}))) == [
        second.pk, theirs.pk]
    assert ids(ok(caller.get("sessions/", {"kind": "one_on_one"}))) == []
    page = ok(caller.get("sessions/", {"page_size": 2, "page": 2}))
    assert (page["count"], ids(page)) == (4, [theirs.pk, third.pk])
    assert page["previous"] and page["next"] is None
    assert first.pk in ids(ok(caller.get("sessions/", {"kind": "group"})))


@pytest.mark.parametrize(("params", "field"), [
    ({"start_after": "2030-01-01T10:00:00"}, "start_after"),
    ({"start_before": "tomorrow"}, "start_before"),
    ({"teacher": "abc"}, "teacher"),
    ({"teacher": "0"}, "teacher"),
    ({"kind": "private"}, "kind"),
])
def test_a_bad_filter_names_its_field(api: Any, student: Any, group: Any, params: dict[str, str],
                                      field: str) -> None:
    assert_invalid(api(student).get("sessions/", params), field)


def test_another_pairs_lesson_is_neither_listed_nor_found(api: Any, student: Any, other_student: Any,
                                                          teacher: Any, lesson: Any) -> None:
    assert ok(api(student).get("sessions/"))["count"] == 0
    assert_error(api(student).get(f"sessions/{lesson.session_id}/"), 404, "not_found")
    # Its own student and teacher see it, with the meeting details.
    for who in (other_student, teacher):
        found = ok(api(who).get("sessions/"))["results"]
        assert [(s["id"], s["kind"]) for s in found] == [(lesson.session_id, "one_on_one")]
        assert found[0]["meeting"] is not None


def test_nobody_signed_in_sees_nothing(api: Any, group: Any) -> None:
    assert_error(api(None).get("sessions/"), 403, "not_authenticated")
    assert_error(api(None).get(f"sessions/{group.pk}/"), 403, "not_authenticated")


def test_the_list_costs_the_same_for_5_and_50_sessions(api: Any, student: Any, teacher: Any,
                                                     set_policy: Any) -> None:
    set_policy(approval_mode="manual")

    def build(count: int, first_day: int) -> None:
        for i in range(count):
            session = group_class(teacher, days=first_day + i // 10, hour=7 + i % 10)
            if i % 3 == 0:
                services.book_seat(student, session)

    caller = api(student)
    build(5, 2)
    few, found = queries(lambda: ok(caller.get("sessions/")))
    assert found["count"] == 5
    build(45, 3)
    many, found = queries(lambda: ok(caller.get("sessions/")))
    assert found["count"] == 50 and len(found["results"]) == 50
    assert sum(s["my_booking"] is not None for s in found["results"]) == 17
    assert many == few, (many, few)


# --- GET sessions/{id}/ ----------------------------------------------------------------------------


def test_meeting_details_only_for_the_teacher_and_a_confirmed_student(
        api: Any, student: Any, other_student: Any, teacher: Any, make_user: Any, group: Any,
        set_policy: Any) -> None:
    confirmed = services.book_seat(student, group)
    set_policy(approval_mode="manual")
    pending = services.book_seat(other_student, group)
    stranger = make_user()
    seen = {who: ok(api(who).get(f"sessions/{group.pk}/")) for who in (teacher, student, other_student, stranger)}
    assert seen[teacher]["meeting"] == seen[student]["meeting"] == MEETING
    assert seen[other_student]["meeting"] is None and seen[stranger]["meeting"] is None
    assert seen[student]["my_booking"] == {"id": confirmed.pk, "status": "confirmed"}
    assert seen[other_student]["my_booking"] == {"id": pending.pk, "status": "pending"}
    assert seen[stranger]["my_booking"] is None
    assert (seen[stranger]["seats_taken"], seen[stranger]["seats_left"]) == (2, 0)
    # A cancelled booking no longer shows the meeting, nor counts as the viewer's.
    services.cancel_booking(confirmed, actor=student)
    again = ok(api(student).get(f"sessions/{group.pk}/"))
    assert (again["meeting"], again["my_booking"]) == (None, None)


def test_an_unknown_session_is_not_found(api: Any, student: Any) -> None:
    assert_error(api(student).get("sessions/987654/"), 404, "not_found")


# --- POST sessions/{id}/bookings/ -----------------------------------------------------------------


def test_booking_a_seat(api: Any, student: Any, teacher: Any, group: Any) -> None:
    found = ok(api(student).post(f"sessions/{group.pk}/bookings/"), 201)
    booking = get_booking_model().objects.get(student=student)
    assert set(found) == BOOKING_FIELDS
    assert found == {
        "id": booking.pk, "session": group.pk, "session_title": "Algebra II", "kind": "group",
        "teacher": {"id": teacher.pk, "name": "teacher"}, "student": {"id": student.pk, "name": "student"},
        "start": iso(soon(2)), "end": iso(soon(2, 11)), "timezone": "UTC", "status": "confirmed", "message": "",
        "reason": "", "expires_at": None, "late_cancellation": False, "created": found["created"],
        "meeting": MEETING,
    }
    assert (booking.status, booking.session_id, booking.source) == ("confirmed", group.pk, "direct")
    assert get_session_model().objects.get(pk=group.pk).seats_taken == 1
    assert not IdempotencyKey.objects.exists()


def test_a_seat_waiting_for_approval_hides_the_meeting(api: Any, student: Any, group: Any,
                                                      set_policy: Any) -> None:
    set_policy(approval_mode="manual", request_ttl_hours=24)
    found = ok(api(student).post(f"sessions/{group.pk}/bookings/"), 201)
    assert (found["status"], found["meeting"]) == ("pending", None)
    assert found["expires_at"] is not None
    assert get_booking_model().objects.get(pk=found["id"]).status == "pending"
    assert get_session_model().objects.get(pk=group.pk).seats_taken == 1


def test_the_same_key_twice_books_once(api: Any, student: Any, group: Any) -> None:
    caller = api(student)
    first = caller.post(f"sessions/{group.pk}/bookings/", **{KEY: "book-1"})
    again = caller.post(f"sessions/{group.pk}/bookings/", **{KEY: "book-1"})
    assert ok(first, 201) == ok(again, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert get_booking_model().objects.filter(student=student).count() == 1
    assert IdempotencyKey.objects.filter(user=student, key="book-1").count() == 1


def test_a_key_reused_for_another_class_is_refused(api: Any, student: Any, teacher: Any, group: Any) -> None:
    other = group_class(teacher, days=3)
    caller = api(student)
    ok(caller.post(f"sessions/{group.pk}/bookings/", **{KEY: "book-2"}), 201)
    before = snapshot()
    assert_error(caller.post(f"sessions/{other.pk}/bookings/", **{KEY: "book-2"}), 422, "idempotency_key_reused")
    unchanged(before)


def fill(session: Any, make_user: Any) -> None:
    for _ in range(session.capacity - session.seats_taken):
        services.book_seat(make_user(), session)


@pytest.mark.parametrize(("state", "status", "code"), [
    ("full", 409, "session_full"),
    ("booked", 409, "already_booked"),
    ("cancelled", 409, "session_closed"),
    ("started", 409, "session_closed"),
    ("teaching", 400, "own_session"),
    ("lesson", 400, "not_a_group_session"),
    ("offered", 409, "offer_pending"),
    ("daily", 400, "daily_limit"),
    ("weekly", 400, "weekly_limit"),
    ("notice", 400, "min_notice"),
    ("advance", 400, "max_advance"),
])
def test_a_refused_seat_writes_nothing(api: Any, student: Any, teacher: Any, make_user: Any, set_policy: Any,
                                       monkeypatch: Any, state: str, status: int, code: str) -> None:
    group = group_class(teacher, days=3, capacity=1 if state == "offered" else 2)
    booker = student
    if state == "full":
        fill(group, make_user)
    elif state == "booked":
        services.book_seat(student, group)
    elif state == "cancelled":
        services.cancel_session(group, actor=teacher)
    elif state == "started":
        from django_liveclass_booking.adapter import DefaultBookingAdapter

        monkeypatch.setattr(DefaultBookingAdapter, "now", lambda self: soon(3, 10, 30))
    elif state == "teaching":
        booker = teacher
    elif state == "lesson":
        open_all_week(teacher)
        group = services.request_lesson(student, teacher, start=soon(3, 14), duration=60).session
    elif state == "offered":
        holder = services.book_seat(make_user(), group)
        services.join_waitlist(student, group)
        services.cancel_booking(holder, actor=holder.student)
    elif state in ("daily", "weekly"):
        set_policy(**{f"max_bookings_per_{'day' if state == 'daily' else 'week'}": 1})
        services.book_seat(student, group_class(teacher, days=3, hour=15))
    elif state == "notice":
        set_policy(min_notice_minutes=7 * 24 * 60)
    elif state == "advance":
        set_policy(max_advance_days=1)
    before = snapshot()
    found = assert_error(api(booker).post(f"sessions/{group.pk}/bookings/", **{KEY: "refused"}), status, code)
    unchanged(before)
    if code in ("session_full", "already_booked", "session_closed", "offer_pending"):
        assert found["params"]["session"] == group.pk


def test_a_policy_refusal_lists_every_violation(api: Any, student: Any, group: Any, set_policy: Any) -> None:
    set_policy(min_notice_minutes=7 * 24 * 60, max_advance_days=1)
    found = assert_error(api(student).post(f"sessions/{group.pk}/bookings/"), 400, "min_notice")
    assert [v["code"] for v in found["params"]["violations"]] == ["min_notice", "max_advance"]
    assert not get_booking_model().objects.exists()


def test_another_pairs_lesson_cannot_be_booked(api: Any, student: Any, lesson: Any) -> None:
    before = snapshot()
    assert_error(api(student).post(f"sessions/{lesson.session_id}/bookings/"), 404, "not_found")
    unchanged(before)


def test_nobody_signed_in_cannot_book(api: Any, group: Any) -> None:
    before = snapshot()
    assert_error(api(None).post(f"sessions/{group.pk}/bookings/", **{KEY: "anon"}), 403, "not_authenticated")
    unchanged(before)


def test_a_student_may_not_read_the_roster(api: Any, student: Any, group: Any) -> None:
    services.book_seat(student, group)
    found = assert_error(api(student).get(f"sessions/{group.pk}/bookings/"), 403, "not_allowed")
    assert found["params"] == {"action": "manage"}
