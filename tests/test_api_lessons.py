"""The student side of ``teachers/``: who takes 1:1 lessons, their free times, and asking for a lesson."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.models import IdempotencyKey, get_booking_model, get_session_model

from .api_student_helpers import (
    KEY,
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

NO_MEETING = {"provider": "", "url": "", "passcode": ""}


@pytest.fixture
def tutor(teacher: Any) -> Any:
    return open_all_week(teacher)


def ask(api: Any, who: Any, teacher: Any, data: Any, **headers: str) -> Any:
    return api(who).post(f"teachers/{teacher.pk}/lessons/", data, **headers)


def lesson_at(days: int = 3, hour: int = 11, duration: int = 60, **extra: Any) -> dict[str, Any]:
    return {"start": iso(soon(days, hour)), "duration_minutes": duration, **extra}


# --- GET teachers/ and teachers/{id}/ -----------------------------------------------------------------


def test_the_list_shows_teachers_who_take_lessons(api: Any, student: Any, tutor: Any, make_user: Any) -> None:
    services.set_policy(tutor, approval_mode="manual", lesson_durations=[30, 60], allow_recurring=False)
    group_only = make_user("group_only")
    services.set_policy(group_only)
    group_class(group_only)
    gone = open_all_week(make_user("gone"))
    gone.is_active = False
    gone.save()
    found = ok(api(student).get("teachers/"))
    assert found["results"] == [{"id": tutor.pk, "name": "teacher", "timezone": "UTC", "approval_mode": "manual",
                                 "lesson_durations": [30, 60], "allow_recurring": False}]
    assert ok(api(student).get(f"teachers/{tutor.pk}/"))["approval_mode"] == "manual"
    for nobody in (group_only, gone, student):
        assert_error(api(student).get(f"teachers/{nobody.pk}/"), 404, "not_found")
    assert_error(api(None).get("teachers/"), 403, "not_authenticated")
    assert_error(api(None).get(f"teachers/{tutor.pk}/"), 403, "not_authenticated")


def test_a_teacher_without_a_policy_row_shows_the_defaults(api: Any, student: Any, teacher: Any) -> None:
    services.add_availability(teacher, weekday=0, start_time=dt.time(9), end_time=dt.time(12), timezone="UTC")
    found = ok(api(student).get(f"teachers/{teacher.pk}/"))
    assert (found["timezone"], found["approval_mode"], found["lesson_durations"], found["allow_recurring"]) == (
        "UTC", "auto", [], True)


def test_the_list_costs_the_same_for_5_and_50_teachers(api: Any, student: Any, make_user: Any) -> None:
    def build(count: int) -> None:
        for i in range(count):
            user = make_user(f"t{count}_{i:02}")
            services.add_availability(user, weekday=i % 7, start_time=dt.time(9), end_time=dt.time(12),
                                      timezone="UTC")
            if i % 2:
                services.set_policy(user, approval_mode="manual", lesson_durations=[45])

    caller = api(student)
    build(5)
    few, found = queries(lambda: ok(caller.get("teachers/")))
    assert found["count"] == 5
    build(45)
    many, found = queries(lambda: ok(caller.get("teachers/")))
    assert found["count"] == 50 and len(found["results"]) == 50
    assert {t["approval_mode"] for t in found["results"]} == {"auto", "manual"}
    assert many == few, (many, few)


# --- GET teachers/{id}/slots/ -------------------------------------------------------------------------


def slots(api: Any, who: Any, teacher: Any, start: dt.datetime, end: dt.datetime, duration: int = 60,
          **extra: Any) -> Any:
    return api(who).get(f"teachers/{teacher.pk}/slots/", {"start": iso(start), "end": iso(end),
                                                          "duration_minutes": duration, **extra})


def test_free_times_skip_what_is_taken(api: Any, student: Any, tutor: Any) -> None:
    group_class(tutor, days=3, hour=7)
    found = ok(slots(api, student, tutor, soon(3, 6), soon(3, 9)))
    assert found["results"] == [{"start": iso(soon(3, 6)), "end": iso(soon(3, 7))},
                                {"start": iso(soon(3, 8)), "end": iso(soon(3, 9))}]
    found = ok(slots(api, student, tutor, soon(3, 6), soon(3, 9), duration=30))
    assert [s["start"] for s in found["results"]] == [iso(soon(3, 6)), iso(soon(3, 6, 15)), iso(soon(3, 6, 30)),
                                                      iso(soon(3, 8)), iso(soon(3, 8, 15)), iso(soon(3, 8, 30))]
    page = ok(slots(api, student, tutor, soon(3, 6), soon(3, 9), duration=30, page_size=4, page=2))
    assert (page["count"], [s["start"] for s in page["results"]]) == (6, [iso(soon(3, 8, 15)), iso(soon(3, 8, 30))])


def test_free_times_cost_the_same_for_5_and_50(api: Any, student: Any, tutor: Any) -> None:
    group_class(tutor, days=4, hour=20)
    few, found = queries(lambda: ok(slots(api, student, tutor, soon(3, 6), soon(3, 8))))
    assert found["count"] == 5
    many, found = queries(lambda: ok(slots(api, student, tutor, soon(3, 6), soon(3, 19, 15))))
    assert found["count"] == 50 and len(found["results"]) == 50
    assert many == few, (many, few)


@pytest.mark.parametrize(("params", "fields"), [
    ({}, {"start", "end", "duration_minutes"}),
    ({"start": "2030-01-01T09:00:00", "end": "2030-01-02T09:00:00Z", "duration_minutes": 60}, {"start"}),
    ({"start": "2030-01-01T09:00:00Z", "end": "later", "duration_minutes": 60}, {"end"}),
    ({"start": "2030-01-01T09:00:00Z", "end": "2030-01-02T09:00:00Z", "duration_minutes": 0}, {"duration_minutes"}),
    ({"start": "2030-01-01T09:00:00Z", "end": "2030-01-02T09:00:00Z", "duration_minutes": "x"},
     {"duration_minutes"}),
])
def test_bad_slot_queries_name_their_fields(api: Any, student: Any, tutor: Any, params: Any, fields: Any) -> None:
    assert_invalid(api(student).get(f"teachers/{tutor.pk}/slots/", params), *fields)


def test_refused_slot_queries(api: Any, student: Any, tutor: Any, make_user: Any) -> None:
    assert_error(slots(api, student, tutor, soon(3, 9), soon(3, 8)), 400, "end_before_start")
    found = assert_error(slots(api, student, tutor, soon(3), soon(3 + 93)), 400, "range_too_long")
    assert found["params"] == {"max_days": 92}
    assert ok(slots(api, student, tutor, soon(3), soon(3 + 92)))["count"] > 0
    services.set_policy(tutor, lesson_durations=[30, 60])
    assert_error(slots(api, student, tutor, soon(3), soon(4), duration=45), 400, "duration_not_allowed")
    assert_error(slots(api, student, make_user(), soon(3), soon(4)), 404, "not_found")
    assert_error(api(None).get(f"teachers/{tutor.pk}/slots/"), 403, "not_authenticated")


# --- POST teachers/{id}/lessons/ ----------------------------------------------------------------------


def test_asking_for_a_lesson_the_policy_confirms(api: Any, student: Any, tutor: Any) -> None:
    found = ok(ask(api, student, tutor, lesson_at(message="Fractions, please")), 201)
    booking = get_booking_model().objects.select_related("session").get(student=student)
    assert found == {
        "id": booking.pk, "session": booking.session_id, "session_title": "", "kind": "one_on_one",
        "teacher": {"id": tutor.pk, "name": "teacher"}, "student": {"id": student.pk, "name": "student"},
        "start": iso(soon(3, 11)), "end": iso(soon(3, 12)), "timezone": "UTC", "status": "confirmed",
        "message": "Fractions, please", "reason": "", "expires_at": None, "late_cancellation": False,
        "created": found["created"], "meeting": NO_MEETING,
    }
    assert (booking.status, booking.kind, booking.message) == ("confirmed", "one_on_one", "Fractions, please")
    assert (booking.session.capacity, booking.session.seats_taken, booking.session.start_at_utc) == (1, 1, soon(3, 11))
    # The lesson is the student's and the teacher's only.
    assert ok(api(student).get(f"sessions/{booking.session_id}/"))["meeting"] == NO_MEETING


def test_asking_a_teacher_who_approves(api: Any, student: Any, other_student: Any, tutor: Any) -> None:
    services.set_policy(tutor, approval_mode="manual", request_ttl_hours=24)
    found = ok(ask(api, student, tutor, lesson_at(duration=30)), 201)
    assert (found["status"], found["meeting"], found["end"]) == ("pending", None, iso(soon(3, 11, 30)))
    assert found["expires_at"] is not None
    assert get_booking_model().objects.get(pk=found["id"]).status == "pending"
    assert_error(api(other_student).get(f"sessions/{found['session']}/"), 404, "not_found")


def test_the_same_key_twice_asks_once(api: Any, student: Any, tutor: Any) -> None:
    first = ask(api, student, tutor, lesson_at(), **{KEY: "ask-1"})
    again = ask(api, student, tutor, lesson_at(), **{KEY: "ask-1"})
    assert ok(first, 201) == ok(again, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert get_booking_model().objects.count() == get_session_model().objects.count() == 1
    before = snapshot()
    assert_error(ask(api, student, tutor, lesson_at(hour=14), **{KEY: "ask-1"}), 422, "idempotency_key_reused")
    unchanged(before)
    assert IdempotencyKey.objects.filter(user=student).count() == 1


@pytest.mark.parametrize(("case", "status", "code"), [
    ("night", 400, "outside_availability"),
    ("time_off", 400, "outside_availability"),
    ("busy", 409, "teacher_unavailable"),
    ("past", 400, "min_notice"),
    ("notice", 400, "min_notice"),
    ("advance", 400, "max_advance"),
    ("duration", 400, "duration_not_allowed"),
    ("pending", 400, "max_pending"),
    ("daily", 400, "daily_limit"),
    ("weekly", 400, "weekly_limit"),
    ("own", 400, "own_session"),
])
def test_a_refused_lesson_writes_nothing(api: Any, student: Any, tutor: Any, case: str, status: int,
                                         code: str) -> None:
    asker, data = student, lesson_at()
    if case == "night":
        data = lesson_at(hour=22)
    elif case == "time_off":
        services.add_time_off(tutor, start=soon(3, 9), end=soon(3, 13))
    elif case == "busy":
        group_class(tutor, days=3, hour=11)
    elif case == "past":
        data = lesson_at(days=-1)
    elif case == "notice":
        services.set_policy(tutor, min_notice_minutes=7 * 24 * 60)
    elif case == "advance":
        services.set_policy(tutor, max_advance_days=2)
    elif case == "duration":
        services.set_policy(tutor, lesson_durations=[30, 60])
        data = lesson_at(duration=45)
    elif case == "pending":
        services.set_policy(tutor, approval_mode="manual", max_pending_requests=1)
        services.request_lesson(student, tutor, start=soon(4, 11), duration=60)
    elif case in ("daily", "weekly"):
        services.set_policy(tutor, **{f"max_bookings_per_{'day' if case == 'daily' else 'week'}": 1})
        services.request_lesson(student, tutor, start=soon(3, 15), duration=60)
    elif case == "own":
        asker = tutor
    before = snapshot()
    assert_error(ask(api, asker, tutor, data, **{KEY: "refused"}), status, code)
    unchanged(before)


@pytest.mark.parametrize(("data", "field"), [
    ({"duration_minutes": 60}, "start"),
    ({"start": "2030-01-01T10:00:00", "duration_minutes": 60}, "start"),
    ({"start": iso(soon(3, 11))}, "duration_minutes"),
    ({"start": iso(soon(3, 11)), "duration_minutes": 0}, "duration_minutes"),
    ({"start": iso(soon(3, 11)), "duration_minutes": 1441}, "duration_minutes"),
    ({"start": iso(soon(3, 11)), "duration_minutes": [60]}, "duration_minutes"),
    ({"start": iso(soon(3, 11)), "duration_minutes": 60, "message": "m" * 2001}, "message"),
    ({"start": iso(soon(3, 11)), "duration_minutes": 60, "message": "a\x00b"}, "message"),
])
def test_a_bad_request_names_its_field(api: Any, student: Any, tutor: Any, data: Any, field: str) -> None:
    before = snapshot()
    assert_invalid(ask(api, student, tutor, data, **{KEY: "bad"}), field)
    unchanged(before)


def test_only_teachers_who_take_lessons_can_be_asked(api: Any, student: Any, tutor: Any, make_user: Any) -> None:
    before = snapshot()
    assert_error(ask(api, student, make_user(), lesson_at()), 404, "not_found")
    assert_error(ask(api, None, tutor, lesson_at(), **{KEY: "anon"}), 403, "not_authenticated")
    unchanged(before)
