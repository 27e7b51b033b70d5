"""The student pages of the optional views: every change through the services, nothing leaks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.models import (
    BookingSeries,
    SessionWaitlist,
    get_booking_model,
    get_session_model,
)

pytestmark = pytest.mark.django_db


def url(name: str, *args: Any) -> str:
    return reverse(f"liveclass_booking:{name}", args=args)


def soon(days: int = 2, hour: int = 10) -> dt.datetime:
    """A time in the future of the real clock: the views judge bookings against it."""
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def group(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=soon(), duration=60, capacity=2, title="Algebra II",
                                     timezone="UTC", meeting_url="https://meet.example.org/alg",
                                     meeting_passcode="s3cret")


@pytest.fixture
def logged_in(client: Any, student: Any) -> Any:
    client.force_login(student)
    return client


@pytest.fixture
def open_week(teacher: Any) -> None:
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(9), end_time=dt.time(17),
                                  timezone="UTC")


def test_pages_need_a_login(client: Any, group: Any) -> None:
    for page in (url("session_list"), url("session_detail", group.pk), url("my_bookings"), url("teacher_list")):
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_state_changing_pages_refuse_get(logged_in: Any, group: Any) -> None:
    for page in (url("book_seat", group.pk), url("join_waitlist", group.pk),
                 url("accept_offer", 1), url("set_timezone")):
        assert logged_in.get(page).status_code == 405
    assert not get_booking_model().objects.exists()


def test_the_list_shows_upcoming_classes_in_a_constant_number_of_queries(
    logged_in: Any, teacher: Any, student: Any, django_assert_max_num_queries: Any
) -> None:
    sessions = [services.schedule_session(teacher, start=soon(2, hour), duration=30, capacity=3,
                                          title=f"Class {hour}", timezone="UTC") for hour in range(8, 18)]
    services.book_seat(student, sessions[0])
    with django_assert_max_num_queries(12):
        response = logged_in.get(url("session_list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert all(f"Class {hour}" in body for hour in range(8, 18))
    assert "status-confirmed" in body


def test_a_student_books_a_seat(logged_in: Any, student: Any, group: Any) -> None:
    response = logged_in.post(url("book_seat", group.pk))
    booking = get_booking_model().objects.get(student=student)
    assert response.status_code == 302 and response["Location"] == url("booking_detail", booking.pk)
    assert booking.status == "confirmed"
    group.refresh_from_db()
    assert group.seats_taken == 1


def test_the_meeting_link_is_shown_only_with_a_confirmed_booking(logged_in: Any, student: Any, group: Any,
                                                                set_policy: Any) -> None:
    before = logged_in.get(url("session_detail", group.pk)).content.decode()
    assert "meet.example.org" not in before and "s3cret" not in before
    set_policy(approval_mode="manual")
    booking = services.book_seat(student, group)
    pending = logged_in.get(url("booking_detail", booking.pk)).content.decode()
    assert booking.status == "pending" and "meet.example.org" not in pending
    services.confirm_booking(booking, actor=group.teacher)
    after = logged_in.get(url("session_detail", group.pk)).content.decode()
    assert "meet.example.org" in after and "s3cret" in after


def test_the_teacher_sees_the_meeting_link(client: Any, teacher: Any, group: Any) -> None:
    client.force_login(teacher)
    assert "s3cret" in client.get(url("session_detail", group.pk)).content.decode()


def test_a_refused_booking_shows_the_reason_and_writes_nothing(logged_in: Any, student: Any, make_user: Any,
                                                              group: Any) -> None:
    for _ in range(2):
        services.book_seat(make_user(), group)
    response = logged_in.post(url("book_seat", group.pk))
    assert response.status_code == 200
    assert "no free seat" in response.content.decode()
    assert not get_booking_model().objects.filter(student=student).exists()


def test_a_freed_seat_goes_to_the_waitlist_and_the_student_accepts_it(
    client: Any, student: Any, make_user: Any, group: Any
) -> None:
    first, second = make_user(), make_user()
    services.book_seat(first, group)
    services.book_seat(second, group)
    client.force_login(student)
    client.post(url("join_waitlist", group.pk))
    entry = SessionWaitlist.objects.get(student=student)
    assert entry.status == "waiting"

    client.force_login(first)
    mine = get_booking_model().objects.get(student=first)
    assert client.post(url("cancel_booking", mine.pk)).status_code == 302
    entry.refresh_from_db()
    assert entry.status == "offered"

    client.force_login(student)
    listing = client.get(url("my_bookings")).content.decode()
    assert "Accept the seat" in listing
    response = client.post(url("accept_offer", entry.pk))
    booking = get_booking_model().objects.get(student=student, status="confirmed")
    assert response["Location"] == url("booking_detail", booking.pk)
    assert booking.source == "waitlist"


def test_another_students_booking_can_be_neither_seen_nor_cancelled(client: Any, student: Any, other_student: Any,
                                                                   group: Any) -> None:
    theirs = services.book_seat(other_student, group)
    client.force_login(student)
    assert client.get(url("booking_detail", theirs.pk)).status_code == 404
    assert client.post(url("cancel_booking", theirs.pk)).status_code == 404
    assert client.get(url("booking_ics", theirs.pk)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "confirmed"


def test_another_students_waitlist_entry_cannot_be_used(client: Any, student: Any, other_student: Any,
                                                       make_user: Any, group: Any) -> None:
    services.book_seat(make_user(), group)
    services.book_seat(make_user(), group)
    entry = services.join_waitlist(other_student, group)
    client.force_login(student)
    for name in ("accept_offer", "decline_offer", "leave_waitlist"):
        assert client.post(url(name, entry.pk)).status_code == 404
    entry.refresh_from_db()
    assert entry.status == "waiting"


def test_another_students_lesson_is_not_visible(client: Any, student: Any, other_student: Any, teacher: Any,
                                               open_week: None) -> None:
    booking = services.request_lesson(other_student, teacher, start=soon(3, 10), duration=30)
    client.force_login(student)
    assert client.get(url("session_detail", booking.session_id)).status_code == 404


def test_a_cancellation_inside_the_cutoff_is_refused_on_the_form(logged_in: Any, student: Any, group: Any,
                                                                set_policy: Any) -> None:
    set_policy(cancellation_cutoff_hours=24 * 30, allow_late_cancellation=False)
    booking = services.book_seat(student, group)
    response = logged_in.post(url("cancel_booking", booking.pk), {"reason": "ill"})
    assert response.status_code == 200
    form = response.context["form"]
    error = form.non_field_errors().as_data()[0]
    assert error.code == "cancellation_window"
    # The page shows the service's own message, and the booking as it still is: not "Cancelled".
    assert str(error.message) in response.content.decode()
    assert response.context["booking"].status == "confirmed"
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_a_second_cancellation_of_a_booking_shows_why_it_is_refused(logged_in: Any, student: Any,
                                                                     group: Any) -> None:
    # Two tabs on the same booking page: the second "Cancel booking" comes after the first cancelled it.
    booking = services.book_seat(student, group)
    assert logged_in.post(url("cancel_booking", booking.pk)).status_code == 302
    response = logged_in.post(url("cancel_booking", booking.pk), {"reason": "ill"})
    assert response.status_code == 200
    error = response.context["form"].non_field_errors().as_data()[0]
    # The booking can no longer be cancelled, so the form is gone; its refusal is still shown.
    assert "Cancel booking" not in response.content.decode()
    assert str(error.message) in response.content.decode()


def test_a_student_requests_a_lesson_from_a_free_slot(logged_in: Any, student: Any, teacher: Any,
                                                     open_week: None) -> None:
    page = logged_in.get(url("request_lesson", teacher.pk), {"duration": 30})
    assert page.status_code == 200
    day = page.context["days"][1]
    start, _ = day[1][0]
    response = logged_in.post(url("request_lesson", teacher.pk),
                              {"start": start.isoformat(), "duration": 30, "message": "Exam prep"})
    booking = get_booking_model().objects.get(student=student)
    assert response["Location"] == url("booking_detail", booking.pk)
    assert (booking.kind, booking.start_at_utc, booking.message) == ("one_on_one", start, "Exam prep")


def test_a_refused_lesson_request_shows_the_error_next_to_the_field(logged_in: Any, student: Any, teacher: Any,
                                                                   open_week: None, set_policy: Any) -> None:
    set_policy(lesson_durations=[30, 60])
    night = soon(3, 22)  # outside the 09:00-17:00 windows
    response = logged_in.post(url("request_lesson", teacher.pk), {"start": night.isoformat(), "duration": 30})
    assert response.status_code == 200
    assert [e.code for e in response.context["form"].errors.as_data()["start"]] == ["outside_availability"]
    response = logged_in.post(url("request_lesson", teacher.pk), {"start": soon(3, 10).isoformat(), "duration": 45})
    assert [e.code for e in response.context["form"].errors.as_data()["duration"]] == ["duration_not_allowed"]
    assert "id_duration_errors" in response.content.decode()
    response = logged_in.post(url("request_lesson", teacher.pk), {"start": "tomorrow", "duration": 30})
    assert "start" in response.context["form"].errors
    assert not get_booking_model().objects.exists() and not get_session_model().objects.exists()


def test_a_student_books_a_weekly_series(logged_in: Any, student: Any, teacher: Any, open_week: None) -> None:
    first = soon(3, 11)
    response = logged_in.post(url("create_series", teacher.pk), {
        "first_date": first.date().isoformat(), "start_time": "11:00", "duration": 30, "weeks": 4,
        "on_conflict": "skip",
    })
    series = BookingSeries.objects.get(student=student)
    assert response["Location"] == url("series_detail", series.pk)
    assert series.items.filter(status="booked").count() == 4
    assert get_booking_model().objects.filter(student=student, source="series").count() == 4
    listing = logged_in.get(url("my_bookings")).content.decode()
    assert url("series_detail", series.pk) in listing


def test_a_refused_series_writes_nothing(logged_in: Any, student: Any, teacher: Any, open_week: None,
                                        set_policy: Any) -> None:
    set_policy(allow_recurring=False)
    first = soon(3, 11)
    data = {"first_date": first.date().isoformat(), "start_time": "11:00", "duration": 30, "weeks": 4,
            "on_conflict": "skip"}
    response = logged_in.post(url("create_series", teacher.pk), data)
    assert response.status_code == 200
    assert [e.code for e in response.context["form"].non_field_errors().as_data()] == ["recurring_not_allowed"]
    response = logged_in.post(url("create_series", teacher.pk), {**data, "weeks": 500})
    assert "weeks" in response.context["form"].errors
    assert not BookingSeries.objects.exists() and not get_booking_model().objects.exists()


def test_another_students_series_is_not_visible(client: Any, student: Any, other_student: Any, teacher: Any,
                                               open_week: None) -> None:
    series = services.create_series(other_student, teacher, first_start=soon(3, 11), duration=30,
                                    rrule="FREQ=WEEKLY;COUNT=2", timezone="UTC")
    client.force_login(student)
    assert client.get(url("series_detail", series.pk)).status_code == 404
    assert client.post(url("cancel_series", series.pk)).status_code == 404
    assert get_booking_model().objects.filter(status="confirmed").count() == 2


def test_a_student_cancels_a_series_from_one_lesson_on(logged_in: Any, student: Any, teacher: Any,
                                                      open_week: None) -> None:
    series = services.create_series(student, teacher, first_start=soon(3, 11), duration=30,
                                    rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC")
    second = series.items.get(index=1)
    response = logged_in.post(url("cancel_series", series.pk), {"from_start": second.start_at_utc.isoformat()})
    assert response.status_code == 302
    statuses = list(get_booking_model().objects.filter(student=student).order_by("start_at_utc")
                    .values_list("status", flat=True))
    assert statuses == ["confirmed", "cancelled", "cancelled"]
    page = logged_in.get(url("series_detail", series.pk))
    assert [item.index for item in page.context["future_items"]] == [0]


def test_a_student_subscribes_to_a_recurring_class(logged_in: Any, student: Any, teacher: Any) -> None:
    sessions = services.schedule_recurring_sessions(teacher, first_start=soon(2, 18), duration=60, capacity=5,
                                                    rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC", title="Club")
    response = logged_in.post(url("subscribe", sessions[0].pk))
    series = BookingSeries.objects.get(student=student)
    assert response["Location"] == url("series_detail", series.pk)
    assert get_booking_model().objects.filter(student=student, status="confirmed").count() == 3


def test_times_are_shown_in_the_viewers_timezone(logged_in: Any, group: Any) -> None:
    before = logged_in.get(url("session_detail", group.pk)).content.decode()
    assert "10 a.m.–11 a.m. (UTC)" in before
    assert logged_in.post(url("set_timezone"), {"timezone": "Asia/Tokyo", "next": "/evil"}).status_code == 302
    after = logged_in.get(url("session_detail", group.pk)).content.decode()
    assert "7 p.m.–8 p.m. (Asia/Tokyo)" in after


def test_an_unknown_timezone_is_refused_and_redirects_stay_on_site(logged_in: Any) -> None:
    response = logged_in.post(url("set_timezone"), {"timezone": "Mars/Olympus", "next": "https://evil.example/"})
    assert response["Location"] == url("session_list")
    assert "liveclass_booking_timezone" not in logged_in.session


@pytest.mark.parametrize("query", [
    {"teacher": "²"}, {"teacher": "9" * 30}, {"page": "abc"},
])
def test_malformed_list_queries_are_ignored(logged_in: Any, group: Any, query: dict[str, str]) -> None:
    response = logged_in.get(url("session_list"), query)
    assert response.status_code == 200


def test_malformed_slot_and_series_queries_fall_back_to_defaults(logged_in: Any, teacher: Any,
                                                                open_week: None) -> None:
    assert logged_in.get(url("request_lesson", teacher.pk), {"week": "9999-12-30", "duration": 30}).status_code == 200
    assert logged_in.get(url("request_lesson", teacher.pk), {"week": "garbage", "duration": "x"}).status_code == 200
    for query in ({"duration": "²"}, {"start": "0001-01-01T00:00:00+05:00"}, {"start": "2026-05-04T10:00"}):
        assert logged_in.get(url("create_series", teacher.pk), query).status_code == 200


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:00+00:00"])
def test_out_of_range_times_are_form_errors(logged_in: Any, teacher: Any, open_week: None, start: str) -> None:
    response = logged_in.post(url("request_lesson", teacher.pk), {"start": start, "duration": 30})
    assert response.status_code == 200 and "start" in response.context["form"].errors
    response = logged_in.post(url("create_series", teacher.pk), {
        "first_date": start[:10], "start_time": "00:00", "duration": 30, "weeks": 52, "on_conflict": "skip",
    })
    assert response.status_code == 200 and "first_date" in response.context["form"].errors
    assert not get_booking_model().objects.exists()


def test_a_next_that_is_not_a_path_goes_to_the_list(logged_in: Any) -> None:
    response = logged_in.post(url("set_timezone"), {"timezone": "UTC", "next": "foo"})
    assert response["Location"] == url("session_list")
    response = logged_in.post(url("set_timezone"), {"timezone": "UTC", "next": url("my_bookings")})
    assert response["Location"] == url("my_bookings")


def test_calendar_links_are_hidden_without_the_ics_extra(logged_in: Any, student: Any, group: Any,
                                                        monkeypatch: Any) -> None:
    from django_liveclass_booking.views import _common

    booking = services.book_seat(student, group)
    assert url("calendar_feed") in logged_in.get(url("booking_detail", booking.pk)).content.decode()
    monkeypatch.setattr(_common, "calendar_feeds_available", lambda: False)
    page = logged_in.get(url("booking_detail", booking.pk)).content.decode()
    assert url("calendar_feed") not in page and url("booking_ics", booking.pk) not in page
