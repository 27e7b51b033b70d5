"""The student side of moving a 1:1 lesson: ``bookings/{id}/reschedule/`` and ``reschedule-requests/``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.models import IdempotencyKey, RescheduleRequest, get_booking_model, get_session_model

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

PROPOSAL_FIELDS = {"id", "booking", "proposed_by", "start", "end", "previous_start", "previous_end", "status",
                   "message", "expires_at", "decided_by", "decided_at", "reason"}


def stored(obj: Any) -> Any:
    return type(obj)._default_manager.get(pk=obj.pk)


@pytest.fixture
def tutor(teacher: Any) -> Any:
    return open_all_week(teacher, request_ttl_hours=48)


@pytest.fixture
def lesson(tutor: Any, student: Any) -> Any:
    return services.request_lesson(student, tutor, start=soon(3, 11), duration=60)


@pytest.fixture
def offer(lesson: Any, teacher: Any) -> Any:
    """The teacher proposes Thursday 11:00 to the student."""
    return services.request_reschedule(lesson, start=soon(4, 11), actor=teacher, message="Thursday?")


def propose(api: Any, who: Any, booking: Any, data: Any, **headers: str) -> Any:
    return api(who).post(f"bookings/{booking.pk}/reschedule/", data, **headers)


# --- POST bookings/{id}/reschedule/ -----------------------------------------------------------------


def test_a_proposal_the_policy_confirms_moves_the_lesson_at_once(api: Any, student: Any, lesson: Any) -> None:
    found = ok(propose(api, student, lesson, {"start": iso(soon(4, 14)), "duration_minutes": 45,
                                              "message": "Later?"}), 201)
    proposal = RescheduleRequest.objects.get(booking_id=lesson.pk)
    assert set(found) == PROPOSAL_FIELDS
    assert found == {
        "id": proposal.pk, "booking": lesson.pk, "proposed_by": {"id": student.pk, "name": "student"},
        "start": iso(soon(4, 14)), "end": iso(soon(4, 14, 45)), "previous_start": iso(soon(3, 11)),
        "previous_end": iso(soon(3, 12)), "status": "accepted", "message": "Later?", "expires_at": found["expires_at"],
        "decided_by": {"id": student.pk, "name": "student"}, "decided_at": found["decided_at"], "reason": "",
    }
    booking = stored(lesson)
    assert (booking.start_at_utc, booking.end_at_utc, booking.status) == (soon(4, 14), soon(4, 14, 45), "confirmed")
    session = get_session_model().objects.get(pk=lesson.session_id)
    assert (session.start_at_utc, session.duration_minutes) == (soon(4, 14), 45)


def test_a_proposal_waits_for_a_teacher_who_approves(api: Any, student: Any, teacher: Any, lesson: Any,
                                                     set_policy: Any) -> None:
    services.set_policy(teacher, approval_mode="manual")
    found = ok(propose(api, student, lesson, {"start": iso(soon(4, 14))}), 201)
    assert (found["status"], found["decided_by"], found["end"]) == ("pending", None, iso(soon(4, 15)))
    assert stored(lesson).start_at_utc == soon(3, 11)
    assert [p["id"] for p in ok(api(teacher).get("reschedule-requests/"))["results"]] == [found["id"]]


def test_the_same_key_twice_proposes_once(api: Any, student: Any, teacher: Any, lesson: Any) -> None:
    services.set_policy(teacher, approval_mode="manual")
    first = propose(api, student, lesson, {"start": iso(soon(4, 14))}, **{KEY: "move-1"})
    again = propose(api, student, lesson, {"start": iso(soon(4, 14))}, **{KEY: "move-1"})
    assert ok(first, 201) == ok(again, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert RescheduleRequest.objects.count() == 1
    before = snapshot()
    assert_error(propose(api, student, lesson, {"start": iso(soon(4, 15))}, **{KEY: "move-1"}),
                 422, "idempotency_key_reused")
    unchanged(before)
    assert IdempotencyKey.objects.filter(user=student, key="move-1").count() == 1


@pytest.mark.parametrize(("case", "status", "code"), [
    ("group", 400, "not_a_lesson"),
    ("pending", 409, "reschedule_pending"),
    ("same", 400, "same_time"),
    ("past", 400, "min_notice"),
    ("night", 400, "outside_availability"),
    ("busy", 409, "teacher_unavailable"),
    ("cancelled", 409, "invalid_transition"),
    ("cutoff", 400, "cancellation_window"),
    ("notice", 400, "min_notice"),
    ("advance", 400, "max_advance"),
    ("duration", 400, "duration_not_allowed"),
])
def test_a_refused_proposal_writes_nothing(api: Any, student: Any, teacher: Any, lesson: Any, case: str,
                                           status: int, code: str) -> None:
    booking, start, data = lesson, soon(4, 14), {}
    if case == "group":
        booking = services.book_seat(student, group_class(teacher, days=5))
    elif case == "pending":
        services.request_reschedule(lesson, start=soon(4, 9), actor=teacher)
    elif case == "same":
        start = soon(3, 11)
    elif case == "past":
        start = soon(-1)  # the policy's notice rule speaks for a time gone by
    elif case == "night":
        start = soon(4, 23)
    elif case == "busy":
        group_class(teacher, days=4, hour=14)
    elif case == "cancelled":
        services.cancel_booking(lesson, actor=student)
    elif case == "cutoff":
        services.set_policy(teacher, cancellation_cutoff_hours=24 * 7, allow_late_cancellation=False)
    elif case == "notice":
        services.set_policy(teacher, min_notice_minutes=6 * 24 * 60)
    elif case == "advance":
        services.set_policy(teacher, max_advance_days=3)
    elif case == "duration":
        services.set_policy(teacher, lesson_durations=[30, 60])
        data = {"duration_minutes": 45}
    before = snapshot()
    assert_error(propose(api, student, booking, {"start": iso(start), **data}, **{KEY: "refused"}), status, code)
    unchanged(before)


@pytest.mark.parametrize(("data", "field"), [
    ({}, "start"),
    ({"start": "2030-01-01T10:00:00"}, "start"),
    ({"start": 17}, "start"),
    ({"start": iso(soon(4)), "duration_minutes": 0}, "duration_minutes"),
    ({"start": iso(soon(4)), "duration_minutes": "long"}, "duration_minutes"),
    ({"start": iso(soon(4)), "message": "m" * 2001}, "message"),
])
def test_a_bad_proposal_names_its_field(api: Any, student: Any, lesson: Any, data: Any, field: str) -> None:
    before = snapshot()
    assert_invalid(propose(api, student, lesson, data, **{KEY: "bad"}), field)
    unchanged(before)


def test_a_proposal_in_another_zone_is_read_as_its_instant(api: Any, student: Any, lesson: Any) -> None:
    local = soon(4, 14).astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    found = ok(propose(api, student, lesson, {"start": local.isoformat()}), 201)
    assert found["start"] == iso(soon(4, 14))
    assert stored(lesson).start_at_utc == soon(4, 14)


# --- GET reschedule-requests/ and reschedule-requests/{id}/ -------------------------------------------


def test_the_list_shows_proposals_of_my_lessons(api: Any, student: Any, other_student: Any, teacher: Any,
                                                lesson: Any, offer: Any) -> None:
    theirs = services.request_lesson(other_student, teacher, start=soon(5, 11), duration=60)
    other = services.request_reschedule(theirs, start=soon(5, 15), actor=teacher)
    found = ok(api(student).get("reschedule-requests/"))
    assert [p["id"] for p in found["results"]] == [offer.pk]
    assert found["results"][0]["proposed_by"] == {"id": teacher.pk, "name": "teacher"}
    assert [p["id"] for p in ok(api(teacher).get("reschedule-requests/"))["results"]] == [other.pk, offer.pk]
    assert ok(api(student).get("reschedule-requests/", {"status": "declined"}))["count"] == 0
    assert ok(api(student).get("reschedule-requests/", {"status": "pending"}))["count"] == 1
    assert_invalid(api(student).get("reschedule-requests/", {"status": "open"}), "status")
    assert ok(api(student).get(f"reschedule-requests/{offer.pk}/"))["message"] == "Thursday?"
    assert_error(api(student).get(f"reschedule-requests/{other.pk}/"), 404, "not_found")
    assert_error(api(None).get("reschedule-requests/"), 403, "not_authenticated")
    assert_error(api(None).get(f"reschedule-requests/{offer.pk}/"), 403, "not_authenticated")


def test_the_list_costs_the_same_for_5_and_50_proposals(api: Any, student: Any, tutor: Any) -> None:
    def build(count: int, first_day: int) -> None:
        for i in range(count):
            day, hour = first_day + i // 8, 6 + 2 * (i % 8)
            lesson = services.request_lesson(student, tutor, start=soon(day, hour), duration=60)
            # The student's proposals are applied (decided by them), the teacher's wait.
            services.request_reschedule(lesson, start=soon(day, hour, 30), actor=student if i % 2 else tutor)

    caller = api(student)
    build(5, 2)
    few, found = queries(lambda: ok(caller.get("reschedule-requests/")))
    assert found["count"] == 5
    build(45, 3)
    many, found = queries(lambda: ok(caller.get("reschedule-requests/")))
    assert found["count"] == 50 and len(found["results"]) == 50
    assert {p["status"] for p in found["results"]} == {"pending", "accepted"}
    assert many == few, (many, few)


# --- accept, decline, withdraw ----------------------------------------------------------------------


def test_accepting_the_teachers_proposal_moves_the_lesson(api: Any, student: Any, lesson: Any, offer: Any) -> None:
    found = ok(api(student).post(f"reschedule-requests/{offer.pk}/accept/"))
    assert (found["id"], found["start"], found["status"]) == (lesson.pk, iso(soon(4, 11)), "confirmed")
    assert found["meeting"] is not None
    assert stored(lesson).start_at_utc == soon(4, 11)
    proposal = stored(offer)
    assert (proposal.status, proposal.decided_by_id) == ("accepted", student.pk)
    before = snapshot()
    for action in ("accept", "decline"):
        assert_error(api(student).post(f"reschedule-requests/{offer.pk}/{action}/"), 409, "invalid_transition")
    unchanged(before)


def test_declining_the_teachers_proposal_keeps_the_time(api: Any, student: Any, lesson: Any, offer: Any) -> None:
    found = ok(api(student).post(f"reschedule-requests/{offer.pk}/decline/", {"reason": "Busy then"}))
    assert (found["id"], found["status"], found["reason"]) == (offer.pk, "declined", "Busy then")
    assert found["decided_by"] == {"id": student.pk, "name": "student"}
    assert (stored(offer).status, stored(lesson).start_at_utc) == ("declined", soon(3, 11))


def test_withdrawing_my_proposal(api: Any, student: Any, teacher: Any, lesson: Any) -> None:
    services.set_policy(teacher, approval_mode="manual")
    mine = services.request_reschedule(lesson, start=soon(4, 14), actor=student)
    found = ok(api(student).post(f"reschedule-requests/{mine.pk}/withdraw/"))
    assert (found["id"], found["status"]) == (mine.pk, "withdrawn")
    assert found["decided_by"] == {"id": student.pk, "name": "student"} and found["decided_at"]
    assert stored(mine).status == "withdrawn"
    before = snapshot()
    assert_error(api(student).post(f"reschedule-requests/{mine.pk}/withdraw/"), 409, "invalid_transition")
    unchanged(before)


def test_only_the_other_party_answers_and_only_the_proposer_withdraws(api: Any, student: Any, teacher: Any,
                                                                      lesson: Any, offer: Any) -> None:
    before = snapshot()
    assert_error(api(student).post(f"reschedule-requests/{offer.pk}/withdraw/"), 403, "not_allowed")
    for action in ("accept", "decline"):
        assert_error(api(teacher).post(f"reschedule-requests/{offer.pk}/{action}/"), 403, "not_allowed")
    unchanged(before)


@pytest.mark.parametrize("action", ["accept", "decline", "withdraw"])
def test_another_students_proposal_is_not_found(api: Any, other_student: Any, offer: Any, action: str) -> None:
    before = snapshot()
    assert_error(api(other_student).post(f"reschedule-requests/{offer.pk}/{action}/"), 404, "not_found")
    assert_error(api(None).post(f"reschedule-requests/{offer.pk}/{action}/"), 403, "not_authenticated")
    unchanged(before)


def test_an_expired_proposal_cannot_be_answered(api: Any, student: Any, offer: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(DefaultBookingAdapter, "now", lambda self: offer.expires_at + dt.timedelta(minutes=1))
    before = snapshot()
    for action in ("accept", "decline"):
        assert_error(api(student).post(f"reschedule-requests/{offer.pk}/{action}/"), 409, "reschedule_expired")
    unchanged(before)


def test_a_time_taken_since_cannot_be_accepted(api: Any, student: Any, teacher: Any, offer: Any) -> None:
    group_class(teacher, days=4, hour=11)
    before = snapshot()
    assert_error(api(student).post(f"reschedule-requests/{offer.pk}/accept/"), 409, "teacher_unavailable")
    unchanged(before)
    assert get_booking_model().objects.get(pk=offer.booking_id).start_at_utc == soon(3, 11)


def test_a_bad_reason_names_its_field(api: Any, student: Any, offer: Any) -> None:
    before = snapshot()
    assert_invalid(api(student).post(f"reschedule-requests/{offer.pk}/decline/", {"reason": "r" * 501}), "reason")
    unchanged(before)
