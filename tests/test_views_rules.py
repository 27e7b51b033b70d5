"""The pages state the teacher's rules up front and offer only what the services would accept."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import PolicyViolation
from django_liveclass_booking.models import TeacherBookingPolicy
from django_liveclass_booking.templatetags.liveclass_booking import when

from .pages import login, soon, url

pytestmark = pytest.mark.django_db


def page(client: Client, session: Any) -> str:
    response = client.get(url("session_detail", session.pk))
    assert response.status_code == 200
    return response.content.decode()


BOOK = f'action="{url("book_seat", 0)}"'.replace("/0/", "/{}/")


def offers_booking(body: str, session: Any) -> bool:
    return BOOK.format(session.pk) in body


@pytest.fixture
def group(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=soon(), duration=60, capacity=2, title="Algebra",
                                     timezone="UTC")


def test_the_rules_are_stated_before_booking(student: Any, teacher: Any, group: Any) -> None:
    services.set_policy(teacher, cancellation_cutoff_hours=24, allow_late_cancellation=False,
                        max_bookings_per_week=3, min_notice_minutes=120, waitlist_offer_ttl_minutes=180)
    body = page(login(student, "Asia/Tokyo"), group)
    assert "Bookings are confirmed at once." in body
    with timezone.override(zoneinfo.ZoneInfo("Asia/Tokyo")):
        deadline = when(group.start_at_utc - dt.timedelta(hours=24))
    assert deadline.endswith("(Asia/Tokyo)")
    assert f"Free cancellation until {deadline}." in body
    assert "After that, a booking can no longer be cancelled." in body
    assert "at most 3 bookings a week with this teacher" in body and "book at least 2 hours ahead" in body
    assert "who has 3 hours to accept it" in body
    assert offers_booking(body, group)


def test_approval_is_stated_for_this_student(student: Any, teacher: Any, group: Any) -> None:
    services.set_policy(teacher, approval_mode="manual", request_ttl_hours=48)
    body = page(login(student), group)
    assert "Your booking will wait for the teacher's approval." in body
    assert "A request not answered within 2 days (or by the start) expires." in body


def test_a_limit_that_would_refuse_hides_the_button_and_says_why(student: Any, teacher: Any, group: Any) -> None:
    services.set_policy(teacher, max_bookings_per_day=1)
    other = services.schedule_session(teacher, start=soon(hour=14), duration=60, capacity=2, title="Geometry",
                                      timezone="UTC")
    services.book_seat(student, other)
    body = page(login(student), group)
    assert not offers_booking(body, group)
    assert 'id="cannot-book"' in body and "at most 1 allowed" in body
    # The services agree: the page offered nothing they would accept.
    with pytest.raises(PolicyViolation):
        services.book_seat(student, group)


def test_a_full_class_offers_the_waitlist_not_a_seat(student: Any, make_user: Any, group: Any) -> None:
    for name in ("a", "b"):
        services.book_seat(make_user(name), group)
    body = page(login(student), group)
    assert not offers_booking(body, group)
    assert f'action="{url("join_waitlist", group.pk)}"' in body


def test_no_waitlist_no_button(student: Any, teacher: Any, make_user: Any, group: Any) -> None:
    services.set_policy(teacher, waitlist_enabled=False)
    for name in ("a", "b"):
        services.book_seat(make_user(name), group)
    body = page(login(student), group)
    assert not offers_booking(body, group) and url("join_waitlist", group.pk) not in body
    assert "This teacher keeps no waitlist" in body
    assert "<li>This class is full.</li>" in body and "join its waitlist to be offered one" not in body


def test_the_waitlist_place_counts_those_still_waiting(student: Any, make_user: Any, group: Any) -> None:
    for name in ("a", "b"):
        services.book_seat(make_user(name), group)
    first, gone = make_user("first"), make_user("gone")
    services.join_waitlist(gone, group)
    services.join_waitlist(first, group)
    services.join_waitlist(student, group)
    services.leave_waitlist(group.waitlist_entries.get(student=gone), actor=gone)
    body = page(login(student), group)
    assert "place 2 of 2" in body and "2 waiting" in body
    assert "place 1 of 2" in page(login(first), group)


# --- the weekly series page ---------------------------------------------------------------------


@pytest.fixture
def mornings(teacher: Any) -> None:
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(12),
                                  timezone="UTC")


def series_data(start: dt.datetime, **changes: Any) -> dict[str, Any]:
    return {"start": start.isoformat(), "duration": 60, "weeks": 3, "on_conflict": "skip", **changes}


def test_the_series_page_offers_the_free_times_and_the_rules(student: Any, teacher: Any, mornings: None) -> None:
    body = login(student).get(url("create_series", teacher.pk), {"duration": 60}).content.decode()
    assert body.count('type="radio" name="start"') >= 4
    assert "How booking works here" in body and "Bookings are confirmed at once." in body
    assert 'name="first_date"' in body  # typing a time stays possible
    assert "waitlist" not in body.lower()


def test_a_series_from_a_picked_slot_says_what_was_skipped(student: Any, teacher: Any, mornings: None) -> None:
    first = soon(2, 9)
    services.add_time_off(teacher, start=first + dt.timedelta(days=7), end=first + dt.timedelta(days=7, hours=2))
    client = login(student)
    response = client.post(url("create_series", teacher.pk), series_data(first), follow=True)
    shown = [str(m) for m in response.context["messages"]]
    second = (first + dt.timedelta(days=7))
    assert shown == [f"2 booked, 1 skipped ({second.day} {second:%b}: The teacher does not teach at that time "
                     "(outside their availability, or away). Pick another time)."]
    body = response.content.decode()
    assert "outside_availability" not in body and "(The teacher does not teach at that time" in body


def test_a_series_waiting_for_approval_says_so(student: Any, teacher: Any, mornings: None) -> None:
    services.set_policy(teacher, approval_mode="manual")
    response = login(student).post(url("create_series", teacher.pk), series_data(soon(2, 9)), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "3 lessons requested, waiting for the teacher's approval."]


def test_a_refused_series_names_each_problem_once(student: Any, teacher: Any, mornings: None) -> None:
    response = login(student).post(url("create_series", teacher.pk),
                                   series_data(soon(2, 14), weeks=4, on_conflict="fail"))
    assert response.status_code == 200
    errors = [str(e) for e in response.context["form"].errors["start_time"]]
    assert len(errors) == 1
    assert errors[0].count(",") >= 3 and "The teacher does not teach at that time" in errors[0]
    assert "outside_availability" not in response.content.decode()


def test_a_series_needs_a_slot_or_a_typed_time(student: Any, teacher: Any, mornings: None) -> None:
    response = login(student).post(url("create_series", teacher.pk), {"duration": 60, "weeks": 3,
                                                                      "on_conflict": "skip"})
    assert response.context["form"].errors["first_date"] == [
        "Pick one of the free times, or give the date and time of the first lesson."]


# --- the teacher's pages ------------------------------------------------------------------------


def test_the_dashboard_names_the_student_of_each_lesson(student: Any, teacher: Any, mornings: None) -> None:
    student.first_name, student.last_name = "Ada", "Lovelace"
    student.save()
    services.request_lesson(student, teacher, start=soon(2, 9), duration=60)
    body = login(teacher).get(url("teacher_dashboard")).content.decode()
    assert "1:1 lesson</a> <span class=\"lesson-student\">with Ada Lovelace</span>" in body


def span(value: Any, unit: int) -> tuple[str, str]:
    return ("" if value is None else str(value)), str(unit)


def policy_post(**changes: Any) -> dict[str, str]:
    """The policy page as a browser posts it, with the defaults unless ``changes`` says otherwise."""
    data = {"approval_mode": "auto", "timezone": "UTC", "buffer_minutes": "0", "lesson_durations": "",
            "allow_late_cancellation": "on", "allow_recurring": "on", "waitlist_enabled": "on"}
    for name, (amount, unit) in {"request_ttl_hours": span(2, 24 * 60), "min_notice_minutes": span(3, 60),
                                 "cancellation_cutoff_hours": span(1, 24 * 60),
                                 "waitlist_offer_ttl_minutes": span(90, 1)}.items():
        data[f"{name}_0"], data[f"{name}_1"] = amount, unit
    data.update(changes)
    return data


def test_the_policy_page_is_grouped_in_human_units(teacher: Any) -> None:
    services.set_policy(teacher, min_notice_minutes=2880, cancellation_cutoff_hours=6, request_ttl_hours=48)
    body = login(teacher).get(url("teacher_policy")).content.decode()
    for legend in ("Booking approval", "Notice and deadlines", "Limits per student", "Waitlist and seat offers"):
        assert f"<legend>{legend}</legend>" in body
    assert "Requests expire after" in body and "time to live" not in body.lower()
    # 2880 minutes read as 2 days; 6 hours as 6 hours.
    assert 'name="min_notice_minutes_0" value="2"' in body
    assert '<option value="1440" selected>days</option>' in body
    assert 'name="cancellation_cutoff_hours_0" value="6"' in body
    assert "How booking works here" in body


def test_the_policy_page_stores_in_the_policys_units(teacher: Any) -> None:
    services.set_policy(teacher, approval_mode="auto")
    response = login(teacher).post(url("teacher_policy"), policy_post(max_bookings_per_week="4"))
    assert response.status_code == 302
    policy = TeacherBookingPolicy.objects.get(teacher=teacher)
    assert (policy.request_ttl_hours, policy.min_notice_minutes, policy.cancellation_cutoff_hours,
            policy.waitlist_offer_ttl_minutes, policy.max_bookings_per_week) == (48, 180, 24, 90, 4)


def test_the_policy_page_shows_every_problem_at_once(teacher: Any) -> None:
    services.set_policy(teacher, max_bookings_per_day=None)
    data = policy_post(timezone="Mars/Base", max_bookings_per_day="0", lesson_durations="half",
                       min_notice_minutes_0="-3", waitlist_offer_ttl_minutes_0="")
    response = login(teacher).post(url("teacher_policy"), data)
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"timezone", "max_bookings_per_day", "lesson_durations",
                                                    "min_notice_minutes", "waitlist_offer_ttl_minutes"}
    body = response.content.decode()
    assert body.count('<li><a href="#id_') == 5  # the summary at the top links to each field
    assert TeacherBookingPolicy.objects.get(teacher=teacher).timezone == "UTC"


def test_a_span_must_be_whole_stored_units(teacher: Any) -> None:
    services.set_policy(teacher, approval_mode="auto")
    response = login(teacher).post(url("teacher_policy"), policy_post(request_ttl_hours_0="30",
                                                                     request_ttl_hours_1="1"))
    # Requests expire in hours or days: minutes are not offered, and refused when sent.
    assert "request_ttl_hours" in response.context["form"].errors
