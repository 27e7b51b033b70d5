"""The HTTP API of a teacher's own settings: booking policy, weekly availability windows and time off."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services
from django_liveclass_booking.models import TeacherAvailability, TeacherBookingPolicy, TeacherTimeOff

from .test_api_core import assert_error, soon
from .test_api_teacher import bad_fields, body, iso, make_manager, refused, rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def tutor(teacher: Any) -> Any:
    services.set_policy(teacher, timezone="Europe/Berlin")
    return teacher


@pytest.fixture
def rival(make_user: Any) -> Any:
    user = make_user("rival")
    services.set_policy(user)
    return user


@pytest.fixture
def manager(make_user: Any) -> Any:
    return make_manager(make_user)


def policy_of(user: Any) -> TeacherBookingPolicy:
    return TeacherBookingPolicy.objects.get(teacher=user)


def queries(call: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), body(response)


# --- GET/PATCH teach/policy/ -------------------------------------------------------------------------


def test_a_teacher_reads_their_policy(api: Any, tutor: Any) -> None:
    services.set_policy(tutor, approval_mode="manual", lesson_durations=[30, 60], max_bookings_per_week=3)
    response = api(tutor).get("teach/policy/")
    assert response.status_code == 200, response.content
    data = body(response)
    assert (data["timezone"], data["approval_mode"], data["lesson_durations"]) == ("Europe/Berlin", "manual", [30, 60])
    assert (data["max_bookings_per_week"], data["max_bookings_per_day"], data["request_ttl_hours"]) == (3, None, 48)
    assert set(data) == {
        "timezone", "approval_mode", "min_notice_minutes", "max_advance_days", "max_bookings_per_day",
        "max_bookings_per_week", "max_pending_requests", "request_ttl_hours", "cancellation_cutoff_hours",
        "allow_late_cancellation", "buffer_minutes", "lesson_durations", "allow_recurring", "max_series_occurrences",
        "waitlist_enabled", "waitlist_offer_ttl_minutes"}


def test_a_teacher_changes_only_the_fields_sent(api: Any, tutor: Any) -> None:
    change = {"approval_mode": "manual", "min_notice_minutes": 120, "max_advance_days": None,
              "lesson_durations": [45], "allow_recurring": False, "timezone": "Asia/Tokyo"}
    response = api(tutor)("patch", "teach/policy/", change)
    assert response.status_code == 200, response.content
    data = body(response)
    assert {name: data[name] for name in change} == change
    assert data["waitlist_offer_ttl_minutes"] == 60
    policy = policy_of(tutor)
    assert (policy.approval_mode, policy.min_notice_minutes, policy.max_advance_days, policy.lesson_durations,
            policy.allow_recurring, policy.timezone) == ("manual", 120, None, [45], False, "Asia/Tokyo")
    assert (policy.waitlist_offer_ttl_minutes, policy.buffer_minutes) == (60, 0)


def test_a_manager_without_a_policy_gets_the_defaults_and_keeps_a_policy_of_their_own(api: Any, manager: Any,
                                                                                     tutor: Any) -> None:
    assert body(api(manager).get("teach/policy/"))["approval_mode"] == "auto"
    response = api(manager)("patch", "teach/policy/", {"buffer_minutes": 10})
    assert response.status_code == 200, response.content
    assert policy_of(manager).buffer_minutes == 10
    assert policy_of(tutor).buffer_minutes == 0


@pytest.mark.parametrize(("change", "fields"), [
    ({"approval_mode": "whenever"}, {"approval_mode"}),
    ({"min_notice_minutes": -1, "buffer_minutes": 24 * 60 + 1}, {"min_notice_minutes", "buffer_minutes"}),
    ({"min_notice_minutes": None}, {"min_notice_minutes"}),
    ({"max_bookings_per_day": "lots", "allow_recurring": "perhaps"}, {"max_bookings_per_day", "allow_recurring"}),
    ({"lesson_durations": [0, 30]}, {"lesson_durations"}),
    ({"lesson_durations": 30}, {"lesson_durations"}),
    ({"lesson_durations": list(range(1, 26))}, {"lesson_durations"}),
    ({"timezone": "Atlantis/Capital"}, {"timezone"}),
    ({"waitlist_offer_ttl_minutes": 10**12}, {"waitlist_offer_ttl_minutes"}),
])
def test_bad_policy_values_name_the_fields(api: Any, tutor: Any, change: Any, fields: set[str]) -> None:
    before = rows()
    assert bad_fields(api(tutor)("patch", "teach/policy/", change), before) == fields


def test_repeated_lesson_lengths_are_refused_by_the_policy_rules(api: Any, tutor: Any) -> None:
    before = rows()
    error = refused(api(tutor)("patch", "teach/policy/", {"lesson_durations": [30, 30]}), 400, "invalid_policy",
                    before)
    assert error["params"]["fields"] == ["lesson_durations"]


def test_unknown_policy_fields_are_refused_and_change_nothing(api: Any, tutor: Any) -> None:
    before = rows()
    error = refused(api(tutor)("patch", "teach/policy/", {"teacher": 999, "colour": "blue", "approval_mode": "manual"}),
                    400, "invalid_request", before)
    assert {name: [p["code"] for p in problems] for name, problems in error["params"]["fields"].items()} == {
        "teacher": ["unknown_field"], "colour": ["unknown_field"]}
    assert policy_of(tutor).teacher_id == tutor.pk
    assert policy_of(tutor).approval_mode != "manual"
    assert [row["timezone"] for row in rows()["policies"]] == [row["timezone"] for row in before["policies"]]


@pytest.mark.parametrize("method", ["get", "patch"])
def test_only_teachers_have_a_policy_page(api: Any, student: Any, method: str) -> None:
    before = rows()
    refused(api(student)(method, "teach/policy/", {"approval_mode": "manual"}), 403, "not_allowed", before)
    refused(api(None)(method, "teach/policy/", {"approval_mode": "manual"}), 403, "not_authenticated", before)
    assert not TeacherBookingPolicy.objects.filter(teacher=student).exists()


# --- GET/POST teach/availability/, DELETE teach/availability/{id}/ -------------------------------------


def test_a_teacher_adds_and_lists_their_windows(api: Any, tutor: Any, rival: Any) -> None:
    services.add_availability(rival, weekday=0, start_time=dt.time(8), end_time=dt.time(9))
    response = api(tutor).post("teach/availability/", {"weekday": 2, "start_time": "09:00", "end_time": "12:30"})
    assert response.status_code == 201, response.content
    window = TeacherAvailability.objects.get(teacher=tutor)
    assert body(response) == {"id": window.pk, "teacher": {"id": tutor.pk, "name": tutor.get_username()},
                              "weekday": 2, "start_time": "09:00:00", "end_time": "12:30:00",
                              "timezone": "Europe/Berlin"}
    assert (window.weekday, window.start_time, window.end_time, window.timezone) == (
        2, dt.time(9), dt.time(12, 30), "Europe/Berlin")
    api(tutor).post("teach/availability/", {"weekday": 0, "start_time": "14:00", "end_time": "15:00",
                                            "timezone": "America/Chicago"})
    data = body(api(tutor).get("teach/availability/"))
    assert data["count"] == 2
    assert [(w["weekday"], w["timezone"]) for w in data["results"]] == [(0, "America/Chicago"), (2, "Europe/Berlin")]


@pytest.mark.parametrize(("data", "code"), [
    ({"weekday": 1, "start_time": "12:00", "end_time": "09:00"}, "end_before_start"),
    ({"weekday": 1, "start_time": "09:00", "end_time": "10:00", "timezone": "Moon/Base"}, "invalid_timezone"),
])
def test_a_refused_window_writes_nothing(api: Any, tutor: Any, data: Any, code: str) -> None:
    before = rows()
    refused(api(tutor).post("teach/availability/", data), 400, code, before)


@pytest.mark.parametrize(("data", "fields"), [
    ({}, {"weekday", "start_time", "end_time"}),
    ({"weekday": 7, "start_time": "25:00", "end_time": "10:00"}, {"weekday", "start_time"}),
    ({"weekday": -1, "start_time": "09:00", "end_time": "noon"}, {"weekday", "end_time"}),
    ({"weekday": 1, "start_time": "09:00", "end_time": "10:00", "timezone": "z" * 65}, {"timezone"}),
    # Wall-clock hours of the window's zone: an offset would be dropped without a word.
    ({"weekday": 1, "start_time": "09:00+02:00", "end_time": "10:00Z"}, {"start_time", "end_time"}),
])
def test_bad_windows_name_the_fields(api: Any, tutor: Any, data: Any, fields: set[str]) -> None:
    before = rows()
    assert bad_fields(api(tutor).post("teach/availability/", data), before) == fields


def test_a_window_with_a_blank_zone_is_in_the_policy_zone(api: Any, tutor: Any) -> None:
    response = api(tutor).post("teach/availability/", {"weekday": 4, "start_time": "18:00", "end_time": "20:00",
                                                       "timezone": ""})
    assert response.status_code == 201, response.content
    assert body(response)["timezone"] == TeacherAvailability.objects.get().timezone == "Europe/Berlin"


def test_a_teacher_removes_their_own_window_only(api: Any, tutor: Any, rival: Any) -> None:
    mine = services.add_availability(tutor, weekday=1, start_time=dt.time(9), end_time=dt.time(10))
    theirs = services.add_availability(rival, weekday=1, start_time=dt.time(9), end_time=dt.time(10))
    before = rows()
    refused(api(tutor)("delete", f"teach/availability/{theirs.pk}/"), 404, "not_found", before)
    refused(api(tutor)("delete", "teach/availability/999999/"), 404, "not_found", before)
    assert [w["id"] for w in body(api(tutor).get("teach/availability/"))["results"]] == [mine.pk]
    response = api(tutor)("delete", f"teach/availability/{mine.pk}/")
    assert response.status_code == 204 and not response.content
    assert list(TeacherAvailability.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert_error(api(tutor)("delete", f"teach/availability/{mine.pk}/"), 404, "not_found")


def test_a_manager_sees_and_removes_any_teachers_window(api: Any, manager: Any, tutor: Any) -> None:
    window = services.add_availability(tutor, weekday=3, start_time=dt.time(9), end_time=dt.time(10))
    assert [w["id"] for w in body(api(manager).get("teach/availability/"))["results"]] == [window.pk]
    assert api(manager)("delete", f"teach/availability/{window.pk}/").status_code == 204
    assert not TeacherAvailability.objects.exists()


def test_only_teachers_keep_windows(api: Any, student: Any, tutor: Any) -> None:
    window = services.add_availability(tutor, weekday=3, start_time=dt.time(9), end_time=dt.time(10))
    before = rows()
    for caller, status, code in ((api(student), 403, "not_allowed"), (api(None), 403, "not_authenticated")):
        refused(caller.get("teach/availability/"), status, code, before)
        refused(caller.post("teach/availability/", {"weekday": 1, "start_time": "09:00", "end_time": "10:00"}),
                status, code, before)
        refused(caller("delete", f"teach/availability/{window.pk}/"), status, code, before)


@pytest.mark.parametrize("who", ["tutor", "manager"])
def test_the_windows_cost_the_same_queries_for_5_or_50(api: Any, tutor: Any, manager: Any, who: str) -> None:
    caller = api(tutor if who == "tutor" else manager)
    counts = []
    for total in (5, 50):
        TeacherAvailability.objects.all().delete()
        for n in range(total):
            services.add_availability(tutor, weekday=n % 7, start_time=dt.time(n // 7), end_time=dt.time(n // 7, 30))
        count, data = queries(lambda: caller.get("teach/availability/"))
        assert len(data["results"]) == total
        counts.append(count)
    assert counts[0] == counts[1]


# --- GET/POST teach/time-off/, DELETE teach/time-off/{id}/ ---------------------------------------------


def test_a_teacher_adds_and_lists_their_time_off(api: Any, tutor: Any, rival: Any) -> None:
    services.add_time_off(rival, start=soon(1), end=soon(2))
    start, end = soon(10, 0), soon(17, 0)
    response = api(tutor).post("teach/time-off/", {"start": start.astimezone(dt.timezone(dt.timedelta(hours=2)))
                                                   .isoformat(), "end": iso(end), "reason": "Holiday"})
    assert response.status_code == 201, response.content
    period = TeacherTimeOff.objects.get(teacher=tutor)
    assert body(response) == {"id": period.pk, "teacher": {"id": tutor.pk, "name": tutor.get_username()},
                              "start": iso(start), "end": iso(end), "reason": "Holiday"}
    assert (period.start_at_utc, period.end_at_utc, period.reason) == (start, end, "Holiday")
    api(tutor).post("teach/time-off/", {"start": iso(soon(3)), "end": iso(soon(4))})
    data = body(api(tutor).get("teach/time-off/"))
    assert [(p["start"], p["reason"]) for p in data["results"]] == [(iso(soon(3)), ""), (iso(start), "Holiday")]


def test_time_off_that_ends_before_it_starts_is_refused(api: Any, tutor: Any) -> None:
    before = rows()
    refused(api(tutor).post("teach/time-off/", {"start": iso(soon(3)), "end": iso(soon(2))}), 400,
            "end_before_start", before)


@pytest.mark.parametrize(("data", "fields"), [
    ({}, {"start", "end"}),
    ({"start": "2030-01-01T10:00:00", "end": "2030-01-02T10:00:00"}, {"start", "end"}),
    ({"start": iso(soon(3)), "end": "later"}, {"end"}),
    ({"start": iso(soon(3)), "end": iso(soon(4)), "reason": "r" * 201}, {"reason"}),
])
def test_bad_time_off_names_the_fields(api: Any, tutor: Any, data: Any, fields: set[str]) -> None:
    before = rows()
    assert bad_fields(api(tutor).post("teach/time-off/", data), before) == fields


def test_a_teacher_removes_their_own_time_off_only(api: Any, tutor: Any, rival: Any, manager: Any) -> None:
    mine = services.add_time_off(tutor, start=soon(3), end=soon(4))
    theirs = services.add_time_off(rival, start=soon(3), end=soon(4))
    before = rows()
    refused(api(tutor)("delete", f"teach/time-off/{theirs.pk}/"), 404, "not_found", before)
    response = api(tutor)("delete", f"teach/time-off/{mine.pk}/")
    assert response.status_code == 204 and not response.content
    assert list(TeacherTimeOff.objects.values_list("pk", flat=True)) == [theirs.pk]
    # A manager removes anyone's.
    assert api(manager)("delete", f"teach/time-off/{theirs.pk}/").status_code == 204
    assert not TeacherTimeOff.objects.exists()


def test_only_teachers_keep_time_off(api: Any, student: Any, tutor: Any) -> None:
    period = services.add_time_off(tutor, start=soon(3), end=soon(4))
    before = rows()
    for caller, status, code in ((api(student), 403, "not_allowed"), (api(None), 403, "not_authenticated")):
        refused(caller.get("teach/time-off/"), status, code, before)
        refused(caller.post("teach/time-off/", {"start": iso(soon(5)), "end": iso(soon(6))}), status, code, before)
        refused(caller("delete", f"teach/time-off/{period.pk}/"), status, code, before)


@pytest.mark.parametrize("who", ["tutor", "manager"])
def test_the_time_off_costs_the_same_queries_for_5_or_50(api: Any, tutor: Any, manager: Any, who: str) -> None:
    caller = api(tutor if who == "tutor" else manager)
    counts = []
    for total in (5, 50):
        TeacherTimeOff.objects.all().delete()
        for n in range(total):
            services.add_time_off(tutor, start=soon(n + 1), end=soon(n + 1, 12), reason=f"day {n}")
        count, data = queries(lambda: caller.get("teach/time-off/"))
        assert len(data["results"]) == total
        counts.append(count)
    assert counts[0] == counts[1]

