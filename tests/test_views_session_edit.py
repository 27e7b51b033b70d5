"""The page that changes a session: its time (a group class), seats, title and meeting details.

Each POST is one service call (``reschedule_session`` or ``update_session``); a refusal is shown on
the form and changes nothing; a session outside the viewer's teacher pages is a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def url(name: str, *args: Any) -> str:
    return reverse(f"liveclass_booking:{name}", args=args)


def soon(days: int = 3, hour: int = 10) -> dt.datetime:
    day = timezone.now().astimezone(UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)


def typed(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def details(session: Any, **changes: Any) -> dict[str, Any]:
    """The details form as posted: the session's values with ``changes``."""
    data = {"part": "details", "details-title": session.title, "details-capacity": session.capacity,
            "details-meeting_provider": session.meeting_provider, "details-meeting_url": session.meeting_url,
            "details-meeting_passcode": session.meeting_passcode}
    data.update({f"details-{name}": value for name, value in changes.items()})
    return data


@pytest.fixture
def group(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=soon(), duration=60, capacity=3, title="Algebra",
                                     timezone="UTC", meeting_url="https://meet.example.org/old")


@pytest.fixture
def teacher_client(client: Client, teacher: Any) -> Client:
    services.set_policy(teacher, approval_mode="auto")
    client.force_login(teacher)
    return client


@pytest.fixture
def open_week(teacher: Any) -> None:
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(18),
                                  timezone="UTC")


def test_the_page_shows_both_forms_for_a_group_class(teacher_client: Client, group: Any) -> None:
    response = teacher_client.get(url("edit_session", group.pk))
    assert response.status_code == 200
    assert response.context["time_form"] is not None
    assert set(response.context["details_form"].fields) == {"title", "capacity", "meeting_provider",
                                                            "meeting_url", "meeting_passcode"}
    assert b"Move the class" in response.content and b"<label" in response.content
    roster = teacher_client.get(url("session_roster", group.pk))
    assert url("edit_session", group.pk).encode() in roster.content


def test_a_lesson_gets_the_meeting_fields_only(teacher_client: Client, teacher: Any, student: Any,
                                               open_week: None) -> None:
    lesson = services.request_lesson(student, teacher, start=soon(hour=11), duration=60)
    response = teacher_client.get(url("edit_session", lesson.session_id))
    assert response.context["time_form"] is None
    assert set(response.context["details_form"].fields) == {"meeting_provider", "meeting_url", "meeting_passcode"}
    response = teacher_client.post(url("edit_session", lesson.session_id),
                                   {"part": "details", "details-meeting_url": "https://meet.example.org/one"})
    assert response.status_code == 302
    lesson.session.refresh_from_db()
    assert lesson.session.meeting_url == "https://meet.example.org/one"


def test_a_new_link_is_saved_and_the_booked_student_sees_it(teacher_client: Client, group: Any,
                                                            student: Any) -> None:
    booking = services.book_seat(student, group)
    response = teacher_client.post(url("edit_session", group.pk),
                                   details(group, meeting_url="https://meet.example.org/new",
                                           meeting_passcode="9911"))
    assert response.status_code == 302
    assert response["Location"] == url("session_roster", group.pk)
    group.refresh_from_db()
    assert (group.meeting_url, group.meeting_passcode) == ("https://meet.example.org/new", "9911")
    reader = Client()
    reader.force_login(student)
    page = reader.get(url("booking_detail", booking.pk)).content.decode()
    assert "https://meet.example.org/new" in page and "9911" in page and "meet.example.org/old" not in page


def test_only_changed_fields_go_to_the_service(teacher_client: Client, group: Any, monkeypatch: Any) -> None:
    calls: list[dict[str, Any]] = []
    real = services.update_session
    monkeypatch.setattr(services, "update_session", lambda session, **kw: calls.append(kw) or real(session, **kw))
    teacher_client.post(url("edit_session", group.pk), details(group, capacity=5))
    assert [set(c) for c in calls] == [{"actor", "capacity"}]
    response = teacher_client.post(url("edit_session", group.pk), details(group, capacity=5), follow=True)
    assert len(calls) == 1
    assert "Nothing changed." in [str(m) for m in response.context["messages"]]


def test_a_capacity_below_the_seats_taken_is_refused_on_the_field(teacher_client: Client, group: Any,
                                                                  student: Any, other_student: Any) -> None:
    services.book_seat(student, group)
    services.book_seat(other_student, group)
    response = teacher_client.post(url("edit_session", group.pk),
                                   details(group, capacity=1, meeting_passcode="changed"))
    assert response.status_code == 200
    assert response.context["details_form"].errors["capacity"]
    group.refresh_from_db()
    assert (group.capacity, group.meeting_passcode) == (3, "")


def test_a_group_class_moves_and_its_bookings_follow(teacher_client: Client, group: Any, student: Any) -> None:
    booking = services.book_seat(student, group)
    new_start = soon(days=4, hour=15)
    response = teacher_client.post(url("edit_session", group.pk),
                                   {"part": "time", "time-start": typed(new_start), "time-duration": 90})
    assert response.status_code == 302
    group.refresh_from_db()
    booking.refresh_from_db()
    assert group.start_at_utc == new_start == booking.start_at_utc
    assert group.end_at_utc == new_start + dt.timedelta(minutes=90)


def test_a_longer_class_at_the_second_of_two_equal_times_keeps_its_start(client: Client, teacher: Any) -> None:
    # 31 Oct 2027, London: 01:30 happens twice; this class is at the second (01:30 GMT = 01:30 UTC).
    services.set_policy(teacher, timezone="Europe/London")
    start = dt.datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    session = services.schedule_session(teacher, start=start, duration=60, capacity=3, timezone="Europe/London")
    client.force_login(teacher)
    page = client.get(url("edit_session", session.pk))
    shown = page.context["time_form"]["start"].value()
    response = client.post(url("edit_session", session.pk),
                           {"part": "time", "time-start": shown.strftime("%Y-%m-%dT%H:%M"), "time-duration": 90})
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.start_at_utc, session.duration_minutes) == (start, 90)


def test_a_time_in_the_past_is_refused_and_nothing_moves(teacher_client: Client, group: Any) -> None:
    before = group.start_at_utc
    response = teacher_client.post(url("edit_session", group.pk),
                                   {"part": "time", "time-start": typed(soon(days=-2)), "time-duration": 60})
    assert response.status_code == 200
    assert response.context["time_form"].errors
    group.refresh_from_db()
    assert group.start_at_utc == before


def test_another_teachers_session_is_a_404_and_a_student_gets_403(client: Client, group: Any, make_user: Any,
                                                                   student: Any) -> None:
    rival = make_user("rival")
    services.set_policy(rival, approval_mode="auto")
    client.force_login(rival)
    assert client.get(url("edit_session", group.pk)).status_code == 404
    assert client.post(url("edit_session", group.pk), details(group, title="Mine")).status_code == 404
    client.force_login(student)
    assert client.get(url("edit_session", group.pk)).status_code == 403
    group.refresh_from_db()
    assert group.title == "Algebra"


def test_posts_need_the_csrf_token(teacher: Any, group: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(teacher)
    assert strict.post(url("edit_session", group.pk), details(group, title="Changed")).status_code == 403
    group.refresh_from_db()
    assert group.title == "Algebra"


class NoSessionChangesAdapter(DefaultBookingAdapter):
    asked: list[Any] = []

    def can_manage_session(self, actor: Any, session: Any) -> bool:
        self.asked.append((actor.pk, session.pk))
        return self.is_staff_manager(actor)


def test_the_session_hook_is_asked_and_its_refusal_changes_nothing(settings: Any, teacher_client: Client,
                                                                   teacher: Any, group: Any) -> None:
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.NoSessionChangesAdapter"}
    NoSessionChangesAdapter.asked.clear()
    assert teacher_client.get(url("edit_session", group.pk)).status_code == 403
    assert teacher_client.post(url("edit_session", group.pk), details(group, title="Changed")).status_code == 403
    assert (teacher.pk, group.pk) in NoSessionChangesAdapter.asked
    assert url("edit_session", group.pk).encode() not in teacher_client.get(url("session_roster", group.pk)).content
    group.refresh_from_db()
    assert group.title == "Algebra"
