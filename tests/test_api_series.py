"""The student side of series: weekly lessons (``teachers/{id}/series/``), subscribing to a recurring
class (``POST series/``), and ``series/`` (list, detail, cancel, confirm, decline)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.models import (
    BookingSeries,
    IdempotencyKey,
    SessionWaitlist,
    get_booking_model,
)

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

SERIES_FIELDS = {"id", "kind", "teacher", "student", "rrule", "first_start_date", "first_start_time", "timezone",
                 "duration_minutes", "status", "on_conflict", "recurrence_key", "items"}
WEEK = dt.timedelta(days=7)


@pytest.fixture
def tutor(teacher: Any) -> Any:
    return open_all_week(teacher)


def weekly(count: int = 4, days: int = 3, hour: int = 11, **extra: Any) -> dict[str, Any]:
    return {"first_start": iso(soon(days, hour)), "duration_minutes": 60, "rrule": f"FREQ=WEEKLY;COUNT={count}",
            "timezone": "UTC", **extra}


def create(api: Any, who: Any, teacher: Any, data: Any, **headers: str) -> Any:
    return api(who).post(f"teachers/{teacher.pk}/series/", data, **headers)


def series_bookings(series_id: Any) -> Any:
    return get_booking_model().objects.filter(series_item__series_id=series_id).order_by("start_at_utc")


@pytest.fixture
def recurring(teacher: Any) -> list[Any]:
    """A class on three Thursdays, two seats each."""
    return services.schedule_recurring_sessions(teacher, first_start=soon(3, 17), duration=60, capacity=2,
                                                rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC", title="Choir")


# --- POST teachers/{id}/series/ -------------------------------------------------------------------------


def test_booking_weekly_lessons(api: Any, student: Any, tutor: Any) -> None:
    found = ok(create(api, student, tutor, weekly()), 201)
    series = BookingSeries.objects.get(student=student)
    assert set(found) == SERIES_FIELDS
    bookings = list(series_bookings(series.pk))
    assert {k: v for k, v in found.items() if k != "items"} == {
        "id": series.pk, "kind": "one_on_one", "teacher": {"id": tutor.pk, "name": "teacher"},
        "student": {"id": student.pk, "name": "student"}, "rrule": "FREQ=WEEKLY;COUNT=4",
        "first_start_date": soon(3).date().isoformat(), "first_start_time": "11:00:00", "timezone": "UTC",
        "duration_minutes": 60, "status": "active", "on_conflict": "skip", "recurrence_key": None,
    }
    assert found["items"] == [
        {"index": i, "start": iso(soon(3, 11) + i * WEEK), "end": iso(soon(3, 12) + i * WEEK), "status": "booked",
         "skip_reason": "", "booking": bookings[i].pk} for i in range(4)]
    assert [(b.status, b.kind, b.start_at_utc) for b in bookings] == [
        ("confirmed", "one_on_one", soon(3, 11) + i * WEEK) for i in range(4)]


def test_weekly_lessons_of_a_teacher_who_approves_wait_together(api: Any, student: Any, tutor: Any) -> None:
    services.set_policy(tutor, approval_mode="manual")
    found = ok(create(api, student, tutor, weekly(count=2)), 201)
    assert found["status"] == "pending"
    assert {b.status for b in series_bookings(found["id"])} == {"pending"}


def test_a_taken_week_is_skipped_or_refuses_the_series(api: Any, student: Any, tutor: Any) -> None:
    group_class(tutor, days=10, hour=11)
    before = snapshot()
    found = assert_error(create(api, student, tutor, weekly(on_conflict="fail")), 409, "teacher_unavailable")
    assert [(v["code"], v["params"]["index"]) for v in found["params"]["violations"]] == [("teacher_unavailable", 1)]
    unchanged(before)
    found = ok(create(api, student, tutor, weekly()), 201)
    assert [(i["status"], i["skip_reason"]) for i in found["items"]] == [
        ("booked", ""), ("skipped", "teacher_unavailable"), ("booked", ""), ("booked", "")]
    assert found["items"][1]["booking"] is None and series_bookings(found["id"]).count() == 3


def test_the_same_key_twice_books_one_series(api: Any, student: Any, tutor: Any) -> None:
    first = create(api, student, tutor, weekly(), **{KEY: "weekly-1"})
    again = create(api, student, tutor, weekly(), **{KEY: "weekly-1"})
    assert ok(first, 201) == ok(again, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert BookingSeries.objects.count() == 1 and get_booking_model().objects.count() == 4
    before = snapshot()
    assert_error(create(api, student, tutor, weekly(count=2), **{KEY: "weekly-1"}), 422, "idempotency_key_reused")
    unchanged(before)


@pytest.mark.parametrize(("case", "status", "code"), [
    ("no_recurring", 400, "recurring_not_allowed"),
    ("capped", 400, "too_many_occurrences"),
    ("too_many", 400, "too_many_occurrences"),
    ("rrule", 400, "invalid_rrule"),
    ("zone", 400, "invalid_timezone"),
    ("own", 400, "own_session"),
    ("night", 400, "outside_availability"),
    ("pending", 400, "max_pending"),
    ("duration", 400, "duration_not_allowed"),
])
def test_a_refused_series_writes_nothing(api: Any, student: Any, tutor: Any, case: str, status: int,
                                         code: str) -> None:
    asker, data = student, weekly()
    if case == "no_recurring":
        services.set_policy(tutor, allow_recurring=False)
    elif case == "capped":
        services.set_policy(tutor, max_series_occurrences=2)
    elif case == "too_many":
        data = weekly(count=500)
    elif case == "rrule":
        data = weekly(rrule="FREQ=SOMETIMES")
    elif case == "zone":
        data = weekly(timezone="Mars/Olympus_Mons")
    elif case == "own":
        asker = tutor
    elif case == "night":
        data = weekly(hour=23)
    elif case == "pending":
        services.set_policy(tutor, approval_mode="manual", max_pending_requests=1)
        services.request_lesson(student, tutor, start=soon(2, 9), duration=60)
    elif case == "duration":
        services.set_policy(tutor, lesson_durations=[45])
    before = snapshot()
    assert_error(create(api, asker, tutor, data, **{KEY: "refused"}), status, code)
    unchanged(before)


@pytest.mark.parametrize(("change", "field"), [
    ({"first_start": None}, "first_start"),
    ({"first_start": "2030-01-07T11:00:00"}, "first_start"),
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"rrule": ""}, "rrule"),
    ({"timezone": ""}, "timezone"),
    ({"on_conflict": "retry"}, "on_conflict"),
])
def test_a_bad_series_names_its_field(api: Any, student: Any, tutor: Any, change: Any, field: str) -> None:
    data = {k: v for k, v in {**weekly(), **change}.items() if v is not None}
    before = snapshot()
    assert_invalid(create(api, student, tutor, data, **{KEY: "bad"}), field)
    unchanged(before)
    assert_error(create(api, student, student, weekly()), 404, "not_found")
    assert_error(create(api, None, tutor, weekly()), 403, "not_authenticated")


# --- GET series/ and series/{id}/ ---------------------------------------------------------------------


def test_the_list_shows_my_series_newest_first(api: Any, student: Any, other_student: Any, tutor: Any,
                                               recurring: Any) -> None:
    lessons = services.create_series(student, tutor, first_start=soon(3, 11), duration=60, rrule="FREQ=WEEKLY;COUNT=2",
                                     timezone="UTC")
    seats = services.subscribe_to_recurring_sessions(student, recurring[0].recurrence_key)
    theirs = services.create_series(other_student, tutor, first_start=soon(3, 14), duration=60,
                                    rrule="FREQ=WEEKLY;COUNT=2", timezone="UTC")
    found = ok(api(student).get("series/"))
    assert [s["id"] for s in found["results"]] == [seats.pk, lessons.pk]
    assert [len(s["items"]) for s in found["results"]] == [3, 2]
    assert ok(api(student).get(f"series/{seats.pk}/"))["recurrence_key"] == recurring[0].recurrence_key
    assert {s["id"] for s in ok(api(tutor).get("series/"))["results"]} == {seats.pk, lessons.pk, theirs.pk}
    before = snapshot()
    assert_error(api(student).get(f"series/{theirs.pk}/"), 404, "not_found")
    for action in ("cancel", "confirm", "decline"):
        assert_error(api(student).post(f"series/{theirs.pk}/{action}/"), 404, "not_found")
        assert_error(api(None).post(f"series/{lessons.pk}/{action}/"), 403, "not_authenticated")
    assert_error(api(None).get("series/"), 403, "not_authenticated")
    assert_error(api(None).get(f"series/{lessons.pk}/"), 403, "not_authenticated")
    unchanged(before)


def test_the_list_costs_the_same_for_5_and_50_series(api: Any, student: Any, tutor: Any) -> None:
    made = iter(range(50))

    def build(count: int) -> None:
        for _ in range(count):
            i = next(made)
            services.set_policy(tutor, approval_mode="manual" if i % 2 else "auto")
            services.create_series(student, tutor, first_start=soon(2 + i // 14, 6 + i % 14), duration=60,
                                   rrule="FREQ=WEEKLY;COUNT=2", timezone="UTC")

    caller = api(student)
    build(5)
    few, found = queries(lambda: ok(caller.get("series/")))
    assert found["count"] == 5
    build(45)
    many, found = queries(lambda: ok(caller.get("series/")))
    assert found["count"] == 50 and len(found["results"]) == 50
    assert {s["status"] for s in found["results"]} == {"active", "pending"}
    assert all(len(s["items"]) == 2 for s in found["results"])
    assert many == few, (many, few)


# --- POST series/{id}/cancel/, confirm/, decline/ --------------------------------------------------------


def test_cancelling_my_weekly_lessons(api: Any, student: Any, tutor: Any) -> None:
    series = services.create_series(student, tutor, first_start=soon(3, 11), duration=60, rrule="FREQ=WEEKLY;COUNT=4",
                                    timezone="UTC")
    assert ok(api(student).post(f"series/{series.pk}/cancel/", {"from_start": iso(soon(17))})) == {"cancelled": 2}
    assert [b.status for b in series_bookings(series.pk)] == ["confirmed", "confirmed", "cancelled", "cancelled"]
    assert BookingSeries.objects.get(pk=series.pk).status == "active"
    assert ok(api(student).post(f"series/{series.pk}/cancel/", {"reason": "Moving away"})) == {"cancelled": 2}
    assert {(b.status, b.reason) for b in series_bookings(series.pk)[:2]} == {("cancelled", "Moving away")}
    assert BookingSeries.objects.get(pk=series.pk).status == "cancelled"
    assert ok(api(student).get(f"series/{series.pk}/"))["items"][0]["status"] == "cancelled"


def test_occurrences_inside_the_cutoff_stay_booked(api: Any, student: Any, tutor: Any) -> None:
    series = services.create_series(student, tutor, first_start=soon(3, 11), duration=60, rrule="FREQ=WEEKLY;COUNT=2",
                                    timezone="UTC")
    services.set_policy(tutor, cancellation_cutoff_hours=24 * 5, allow_late_cancellation=False)
    assert ok(api(student).post(f"series/{series.pk}/cancel/")) == {"cancelled": 1}
    assert [b.status for b in series_bookings(series.pk)] == ["confirmed", "cancelled"]


@pytest.mark.parametrize(("data", "field"), [({"from_start": "2030-01-01T00:00:00"}, "from_start"),
                                             ({"from_start": "soon"}, "from_start"),
                                             ({"reason": "r" * 501}, "reason")])
def test_a_bad_cancel_names_its_field(api: Any, student: Any, tutor: Any, data: Any, field: str) -> None:
    series = services.create_series(student, tutor, first_start=soon(3, 11), duration=60, rrule="FREQ=WEEKLY;COUNT=2",
                                    timezone="UTC")
    before = snapshot()
    assert_invalid(api(student).post(f"series/{series.pk}/cancel/", data), field)
    unchanged(before)


def test_only_the_teacher_decides_a_pending_series(api: Any, student: Any, tutor: Any) -> None:
    services.set_policy(tutor, approval_mode="manual")
    series = services.create_series(student, tutor, first_start=soon(3, 11), duration=60, rrule="FREQ=WEEKLY;COUNT=2",
                                    timezone="UTC")
    before = snapshot()
    for action in ("confirm", "decline"):
        assert_error(api(student).post(f"series/{series.pk}/{action}/"), 403, "not_allowed")
    unchanged(before)
    found = ok(api(tutor).post(f"series/{series.pk}/confirm/"))
    assert (found["id"], found["status"]) == (series.pk, "active")
    assert {b.status for b in series_bookings(series.pk)} == {"confirmed"}
    before = snapshot()
    assert_error(api(tutor).post(f"series/{series.pk}/confirm/"), 409, "invalid_transition")
    assert_error(api(tutor).post(f"series/{series.pk}/decline/"), 409, "invalid_transition")
    unchanged(before)


def test_a_declined_series_frees_every_lesson(api: Any, student: Any, tutor: Any) -> None:
    services.set_policy(tutor, approval_mode="manual")
    series = services.create_series(student, tutor, first_start=soon(3, 11), duration=60, rrule="FREQ=WEEKLY;COUNT=2",
                                    timezone="UTC")
    found = ok(api(tutor).post(f"series/{series.pk}/decline/", {"reason": "Full term"}))
    assert found["status"] == "declined"
    assert {(b.status, b.reason) for b in series_bookings(series.pk)} == {("declined", "Full term")}


# --- POST series/ (subscribing to a recurring class) ---------------------------------------------------


def subscribe(api: Any, who: Any, recurrence_key: Any, idempotency_key: str | None = None, **extra: Any) -> Any:
    headers = {KEY: idempotency_key} if idempotency_key else {}
    return api(who).post("series/", {"recurrence_key": recurrence_key, **extra}, **headers)


def test_subscribing_takes_a_seat_in_every_class(api: Any, student: Any, teacher: Any, recurring: Any) -> None:
    key = recurring[0].recurrence_key
    found = ok(subscribe(api, student, key), 201)
    series = BookingSeries.objects.get(student=student)
    bookings = list(get_booking_model().objects.filter(student=student).order_by("start_at_utc"))
    assert {k: v for k, v in found.items() if k != "items"} == {
        "id": series.pk, "kind": "group", "teacher": {"id": teacher.pk, "name": "teacher"},
        "student": {"id": student.pk, "name": "student"}, "rrule": "", "first_start_date": soon(3).date().isoformat(),
        "first_start_time": "17:00:00", "timezone": "UTC", "duration_minutes": 60, "status": "active",
        "on_conflict": "skip", "recurrence_key": key,
    }
    assert [(i["status"], i["booking"], i["start"]) for i in found["items"]] == [
        ("booked", b.pk, iso(s.start_at_utc)) for b, s in zip(bookings, recurring, strict=True)]
    assert [b.session_id for b in bookings] == [s.pk for s in recurring]


def test_a_full_class_puts_me_in_line_or_refuses(api: Any, student: Any, make_user: Any, recurring: Any) -> None:
    key = recurring[0].recurrence_key
    for _ in range(2):
        services.book_seat(make_user(), recurring[1])
    before = snapshot()
    found = assert_error(subscribe(api, student, key, "sub-fail", on_conflict="fail"), 409, "session_full")
    assert found["params"]["session"] == recurring[1].pk
    unchanged(before)
    found = ok(subscribe(api, student, key), 201)
    assert [i["status"] for i in found["items"]] == ["booked", "waitlisted", "booked"]
    assert SessionWaitlist.objects.get(student=student).session_id == recurring[1].pk


def test_the_same_key_twice_subscribes_once(api: Any, student: Any, recurring: Any) -> None:
    key = recurring[0].recurrence_key
    first, again = (subscribe(api, student, key, idempotency_key="sub-1") for _ in range(2))
    assert ok(first, 201) == ok(again, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert BookingSeries.objects.count() == 1 and get_booking_model().objects.count() == 3
    before = snapshot()
    assert_error(subscribe(api, student, key, "sub-1", on_conflict="fail"), 422, "idempotency_key_reused")
    unchanged(before)
    assert IdempotencyKey.objects.filter(user=student).count() == 1


@pytest.mark.parametrize(("case", "status", "code"), [("unknown", 400, "no_sessions"), ("own", 400, "own_session"),
                                                      ("booked", 409, "already_booked"),
                                                      ("daily", 400, "daily_limit")])
def test_a_refused_subscription_writes_nothing(api: Any, student: Any, teacher: Any, recurring: Any,
                                               case: str, status: int, code: str) -> None:
    who, key = student, recurring[0].recurrence_key
    if case == "unknown":
        key = "no-such-class"
    elif case == "own":
        who = teacher
    elif case == "booked":
        for session in recurring:
            services.book_seat(student, session)
    elif case == "daily":
        services.set_policy(teacher, max_bookings_per_day=1)
        for session in recurring:
            services.book_seat(student, group_class(teacher, days=(session.start_at_utc - soon(0)).days, hour=8))
    before = snapshot()
    assert_error(subscribe(api, who, key, idempotency_key="refused"), status, code)
    unchanged(before)


@pytest.mark.parametrize(("data", "field"), [({}, "recurrence_key"), ({"recurrence_key": "k" * 65}, "recurrence_key"),
                                             ({"recurrence_key": ["a"]}, "recurrence_key"),
                                             ({"recurrence_key": "abc", "on_conflict": "wait"}, "on_conflict")])
def test_a_bad_subscription_names_its_field(api: Any, student: Any, recurring: Any, data: Any, field: str) -> None:
    before = snapshot()
    assert_invalid(api(student).post("series/", data, **{KEY: "bad"}), field)
    assert_error(api(None).post("series/", data), 403, "not_authenticated")
    unchanged(before)
