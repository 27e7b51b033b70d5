"""The student side of ``bookings/``: listing and opening bookings, cancelling, moving a seat, outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.models import BookingEvent, get_booking_model, get_session_model

from .api_student_helpers import (
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


def stored(booking: Any) -> Any:
    return get_booking_model().objects.get(pk=booking.pk)


def clock_at(monkeypatch: Any, moment: dt.datetime) -> None:
    monkeypatch.setattr(DefaultBookingAdapter, "now", lambda self: moment)


@pytest.fixture
def group(teacher: Any) -> Any:
    return group_class(teacher)


@pytest.fixture
def seat(group: Any, student: Any) -> Any:
    return services.book_seat(student, group)


@pytest.fixture
def lesson(teacher: Any, student: Any) -> Any:
    open_all_week(teacher)
    return services.request_lesson(student, teacher, start=soon(3, 11), duration=60)


# --- GET bookings/ and bookings/{id}/ ---------------------------------------------------------------


def test_the_list_shows_my_bookings_soonest_first(api: Any, student: Any, other_student: Any, teacher: Any,
                                                  set_policy: Any, lesson: Any, seat: Any) -> None:
    theirs = services.book_seat(other_student, seat.session)
    set_policy(approval_mode="manual")
    pending = services.book_seat(student, group_class(teacher, days=4))
    found = ok(api(student).get("bookings/"))
    assert [b["id"] for b in found["results"]] == [seat.pk, lesson.pk, pending.pk]
    assert theirs.pk not in [b["id"] for b in found["results"]]
    by_id = {b["id"]: b for b in found["results"]}
    assert by_id[seat.pk]["meeting"] == MEETING
    assert by_id[lesson.pk]["meeting"] == {"provider": "", "url": "", "passcode": ""}
    assert by_id[pending.pk]["meeting"] is None
    assert by_id[lesson.pk]["kind"] == "one_on_one" and by_id[lesson.pk]["start"] == iso(soon(3, 11))
    # The teacher sees their students' bookings, meeting details included.
    taught = ok(api(teacher).get("bookings/", {"role": "teacher"}))["results"]
    assert {b["id"] for b in taught} == {seat.pk, theirs.pk, lesson.pk, pending.pk}
    assert all(b["meeting"] is not None for b in taught)
    assert ok(api(teacher).get("bookings/", {"role": "student"}))["count"] == 0


def test_the_list_filters(api: Any, student: Any, teacher: Any, seat: Any, lesson: Any) -> None:
    caller = api(student)
    ids = lambda params: [b["id"] for b in ok(caller.get("bookings/", params))["results"]]  # noqa: E731
    assert ids({"role": "student"}) == [seat.pk, lesson.pk]
    assert ids({"role": "teacher"}) == []
    services.cancel_booking(seat, actor=student)
    assert ids({"status": "cancelled"}) == [seat.pk]
    assert ids({"status": "confirmed"}) == [lesson.pk]
    assert ids({"start_after": iso(soon(3))}) == [lesson.pk]
    assert ids({"start_before": iso(soon(3))}) == [seat.pk]


@pytest.mark.parametrize(("params", "field"), [
    ({"role": "admin"}, "role"),
    ({"status": "booked"}, "status"),
    ({"start_after": "2030-01-01T10:00"}, "start_after"),
    ({"start_before": "soon"}, "start_before"),
])
def test_a_bad_filter_names_its_field(api: Any, student: Any, seat: Any, params: dict[str, str],
                                      field: str) -> None:
    assert_invalid(api(student).get("bookings/", params), field)


def test_another_students_booking_is_not_found(api: Any, student: Any, other_student: Any, seat: Any,
                                               lesson: Any) -> None:
    assert ok(api(student).get(f"bookings/{seat.pk}/"))["student"] == {"id": student.pk, "name": "student"}
    assert ok(api(other_student).get("bookings/"))["count"] == 0
    before = snapshot()
    for booking in (seat, lesson):
        assert_error(api(other_student).get(f"bookings/{booking.pk}/"), 404, "not_found")
        for action, data in (("cancel", {}), ("move", {"session": seat.session_id}),
                             ("outcome", {"outcome": "teacher_no_show"}),
                             ("reschedule", {"start": iso(soon(4))})):
            assert_error(api(other_student).post(f"bookings/{booking.pk}/{action}/", data), 404, "not_found")
            assert_error(api(None).post(f"bookings/{booking.pk}/{action}/", data), 403, "not_authenticated")
    assert_error(api(None).get("bookings/"), 403, "not_authenticated")
    assert_error(api(None).get(f"bookings/{seat.pk}/"), 403, "not_authenticated")
    unchanged(before)


def test_the_list_costs_the_same_for_5_and_50_bookings(api: Any, student: Any, teacher: Any,
                                                     set_policy: Any) -> None:
    def build(count: int, first_day: int) -> None:
        for i in range(count):
            # Half pending: whether the student may see the meeting is then the adapter's longer path.
            set_policy(approval_mode="manual" if i % 2 else "auto")
            services.book_seat(student, group_class(teacher, days=first_day + i // 10, hour=7 + i % 10))

    caller = api(student)
    build(5, 2)
    few, found = queries(lambda: ok(caller.get("bookings/")))
    assert found["count"] == 5
    build(45, 3)
    many, found = queries(lambda: ok(caller.get("bookings/")))
    assert found["count"] == 50 and len(found["results"]) == 50
    assert many == few, (many, few)


# --- POST bookings/{id}/cancel/ ---------------------------------------------------------------------


def test_cancelling_my_seat(api: Any, student: Any, group: Any, seat: Any) -> None:
    found = ok(api(student).post(f"bookings/{seat.pk}/cancel/", {"reason": "Ill"}))
    assert (found["id"], found["status"], found["reason"], found["late_cancellation"]) == (
        seat.pk, "cancelled", "Ill", False)
    assert found["meeting"] is None
    row = stored(seat)
    assert (row.status, row.reason, row.cancelled_by_id) == ("cancelled", "Ill", student.pk)
    assert get_session_model().objects.get(pk=group.pk).seats_taken == 0
    before = snapshot()
    assert_error(api(student).post(f"bookings/{seat.pk}/cancel/"), 409, "invalid_transition")
    unchanged(before)


def test_a_late_cancellation_is_flagged_or_refused(api: Any, student: Any, seat: Any, set_policy: Any) -> None:
    set_policy(cancellation_cutoff_hours=24 * 7, allow_late_cancellation=False)
    before = snapshot()
    found = assert_error(api(student).post(f"bookings/{seat.pk}/cancel/"), 400, "cancellation_window")
    assert found["params"]["cutoff_hours"] == 24 * 7
    unchanged(before)
    set_policy(cancellation_cutoff_hours=24 * 7, allow_late_cancellation=True)
    assert ok(api(student).post(f"bookings/{seat.pk}/cancel/"))["late_cancellation"] is True
    assert stored(seat).late_cancellation is True


@pytest.mark.parametrize(("data", "field"), [({"reason": "x" * 501}, "reason"), ({"reason": 12 * [1]}, "reason"),
                                             ({"reason": "a\x00b"}, "reason")])
def test_a_bad_reason_names_its_field(api: Any, student: Any, seat: Any, data: Any, field: str) -> None:
    before = snapshot()
    assert_invalid(api(student).post(f"bookings/{seat.pk}/cancel/", data), field)
    unchanged(before)


def test_a_student_may_not_decide_their_own_request(api: Any, student: Any, teacher: Any, set_policy: Any,
                                                    group: Any) -> None:
    set_policy(approval_mode="manual")
    pending = services.book_seat(student, group)
    before = snapshot()
    for action in ("confirm", "decline"):
        assert_error(api(student).post(f"bookings/{pending.pk}/{action}/"), 403, "not_allowed")
    unchanged(before)
    # The student may withdraw it, by cancelling.
    assert ok(api(student).post(f"bookings/{pending.pk}/cancel/"))["status"] == "cancelled"


# --- POST bookings/{id}/move/ -----------------------------------------------------------------------


def test_moving_my_seat_to_another_class(api: Any, student: Any, teacher: Any, group: Any, seat: Any) -> None:
    target = group_class(teacher, days=4, title="Algebra II, Thursday")
    found = ok(api(student).post(f"bookings/{seat.pk}/move/", {"session": target.pk}))
    assert (found["id"], found["session"], found["session_title"], found["status"]) == (
        seat.pk, target.pk, "Algebra II, Thursday", "confirmed")
    assert found["start"] == iso(soon(4))
    row = stored(seat)
    assert (row.session_id, row.start_at_utc, row.status) == (target.pk, soon(4), "confirmed")
    sessions = get_session_model().objects
    assert (sessions.get(pk=group.pk).seats_taken, sessions.get(pk=target.pk).seats_taken) == (0, 1)


@pytest.mark.parametrize(("target", "status", "code"), [
    ("full", 409, "session_full"),
    ("cancelled", 409, "session_closed"),
    ("own_class", 400, "not_movable"),
    ("other_teacher", 400, "not_movable"),
    ("my_lesson", 400, "not_movable"),
    ("booked", 409, "already_booked"),
    ("cutoff", 400, "cancellation_window"),
    ("inactive", 409, "invalid_transition"),
])
def test_a_refused_move_writes_nothing(api: Any, student: Any, teacher: Any, make_user: Any, set_policy: Any,
                                       group: Any, seat: Any, target: str, status: int, code: str) -> None:
    session = group_class(teacher, days=4, capacity=1)
    if target == "full":
        services.book_seat(make_user(), session)
    elif target == "cancelled":
        services.cancel_session(session, actor=teacher)
    elif target == "own_class":
        session = group
    elif target == "other_teacher":
        session = group_class(make_user(), days=4, hour=14)
    elif target == "my_lesson":
        open_all_week(teacher)
        session = services.request_lesson(student, teacher, start=soon(5), duration=60).session
    elif target == "booked":
        services.book_seat(student, session)
    elif target == "cutoff":
        set_policy(cancellation_cutoff_hours=24 * 7, allow_late_cancellation=False)
    elif target == "inactive":
        services.cancel_booking(seat, actor=student)
    before = snapshot()
    assert_error(api(student).post(f"bookings/{seat.pk}/move/", {"session": session.pk}), status, code)
    unchanged(before)


def test_a_lesson_cannot_be_moved_into_a_class(api: Any, student: Any, teacher: Any, lesson: Any) -> None:
    target = group_class(teacher, days=4)
    before = snapshot()
    assert_error(api(student).post(f"bookings/{lesson.pk}/move/", {"session": target.pk}), 400, "not_movable")
    unchanged(before)


@pytest.mark.parametrize("data", [{}, {"session": "next"}, {"session": 0}, {"session": 987654}, {"session": None}])
def test_a_bad_target_names_the_session_field(api: Any, student: Any, seat: Any, data: Any) -> None:
    before = snapshot()
    assert_invalid(api(student).post(f"bookings/{seat.pk}/move/", data), "session")
    unchanged(before)


def test_another_pairs_lesson_is_no_target(api: Any, student: Any, other_student: Any, teacher: Any,
                                           seat: Any) -> None:
    open_all_week(teacher)
    theirs = services.request_lesson(other_student, teacher, start=soon(5), duration=60)
    before = snapshot()
    found = assert_invalid(api(student).post(f"bookings/{seat.pk}/move/", {"session": theirs.session_id}), "session")
    assert found["params"]["fields"]["session"][0]["code"] == "not_found"
    unchanged(before)


# --- POST bookings/{id}/outcome/ --------------------------------------------------------------------


def test_the_student_records_that_the_teacher_did_not_come(api: Any, student: Any, lesson: Any,
                                                           monkeypatch: Any) -> None:
    clock_at(monkeypatch, soon(3, 11, 30))
    found = ok(api(student).post(f"bookings/{lesson.pk}/outcome/", {"outcome": "teacher_no_show", "note": "Empty"}))
    assert (found["id"], found["status"]) == (lesson.pk, "teacher_no_show")
    assert stored(lesson).status == "teacher_no_show"
    event = BookingEvent.objects.filter(booking_id=lesson.pk).latest("pk")
    assert (event.kind, event.actor_id) == ("teacher_no_show", student.pk)
    before = snapshot()
    assert_error(api(student).post(f"bookings/{lesson.pk}/outcome/", {"outcome": "teacher_no_show"}),
                 409, "invalid_transition")
    unchanged(before)


@pytest.mark.parametrize(("outcome", "when", "status", "code"), [
    ("completed", (3, 11, 30), 403, "not_allowed"),
    ("no_show", (3, 11, 30), 403, "not_allowed"),
    ("teacher_no_show", (3, 10, 30), 409, "session_not_started"),
    ("teacher_no_show", (7, 12, 30), 409, "outcome_window_closed"),
])
def test_a_refused_outcome_writes_nothing(api: Any, student: Any, lesson: Any, monkeypatch: Any, outcome: str,
                                          when: tuple[int, int, int], status: int, code: str) -> None:
    clock_at(monkeypatch, soon(*when))
    before = snapshot()
    assert_error(api(student).post(f"bookings/{lesson.pk}/outcome/", {"outcome": outcome}), status, code)
    unchanged(before)


@pytest.mark.parametrize(("data", "field"), [({}, "outcome"), ({"outcome": "absent"}, "outcome"),
                                             ({"outcome": "confirmed"}, "outcome"),
                                             ({"outcome": "teacher_no_show", "note": "n" * 2001}, "note")])
def test_a_bad_outcome_names_its_field(api: Any, student: Any, lesson: Any, monkeypatch: Any, data: Any,
                                       field: str) -> None:
    clock_at(monkeypatch, soon(3, 11, 30))
    before = snapshot()
    assert_invalid(api(student).post(f"bookings/{lesson.pk}/outcome/", data), field)
    unchanged(before)
