"""Recording what happened once a lesson started: the teacher marks attendance on the roster, a
student reports that the teacher did not come, from the start until ``OUTCOME_WINDOW_HOURS`` after
the end.

The pages read the adapter's clock: ``ClockAdapter`` moves it past the start.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter

pytestmark = pytest.mark.django_db

UTC = dt.UTC
#: When the class starts; the tests set the clock around it.
START = dt.datetime(2031, 3, 3, 15, 0, tzinfo=UTC)


class ClockAdapter(DefaultBookingAdapter):
    """The default adapter on a clock the test sets; it records the outcome hooks it is asked."""

    current: dt.datetime = START - dt.timedelta(days=2)
    asked: list[tuple[Any, str]] = []
    refuse: bool = False

    def now(self) -> dt.datetime:
        return self.current

    def can_record_outcome(self, actor: Any, booking: Any, outcome: str) -> bool:
        self.asked.append((actor.pk, outcome))
        return not self.refuse and super().can_record_outcome(actor, booking, outcome)


def url(name: str, *args: Any) -> str:
    return reverse(f"liveclass_booking:{name}", args=args)


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def flashed(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def clock(settings: Any) -> type[ClockAdapter]:
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.ClockAdapter"}
    ClockAdapter.current, ClockAdapter.refuse = START - dt.timedelta(days=2), False
    ClockAdapter.asked = []
    return ClockAdapter


@pytest.fixture
def group(clock: Any, teacher: Any) -> Any:
    services.set_policy(teacher, approval_mode="auto")
    return services.schedule_session(teacher, start=START, duration=60, capacity=3, title="Algebra", timezone="UTC")


@pytest.fixture
def booked(group: Any, student: Any, other_student: Any) -> list[Any]:
    return [services.book_seat(student, group), services.book_seat(other_student, group)]


def status_of(booking: Any) -> str:
    booking.refresh_from_db()
    return booking.status


def test_before_the_start_the_roster_offers_no_attendance(clock: Any, teacher: Any, group: Any,
                                                          booked: list[Any]) -> None:
    response = login(teacher).get(url("session_roster", group.pk))
    assert not response.context["outcome_window_open"]
    assert all(outcomes == [] for _, outcomes in response.context["rows"])
    assert b"Attended" not in response.content


def test_the_teacher_marks_attendance_after_the_start(clock: Any, teacher: Any, group: Any,
                                                      booked: list[Any]) -> None:
    clock.current = START + dt.timedelta(minutes=70)
    client = login(teacher)
    roster = client.get(url("session_roster", group.pk))
    assert roster.context["outcome_window_open"]
    assert [[value for value, _ in outcomes] for _, outcomes in roster.context["rows"]] == [
        ["completed", "no_show"], ["completed", "no_show"]]
    assert b">Attended<" in roster.content and b">Did not attend<" in roster.content
    here = url("session_roster", group.pk)
    response = client.post(url("record_outcome", booked[0].pk), {"outcome": "completed", "next": here}, follow=True)
    assert "Recorded: the lesson took place." in flashed(response)
    response = client.post(url("record_outcome", booked[1].pk), {"outcome": "no_show", "next": here}, follow=True)
    assert [status_of(b) for b in booked] == ["completed", "no_show"]
    # Both stay on the roster with their new status, and no more buttons.
    assert [(b.pk, outcomes) for b, outcomes in response.context["rows"]] == [(booked[0].pk, []), (booked[1].pk, [])]
    assert "Student did not attend" in response.content.decode()


def test_a_student_reports_that_the_teacher_did_not_come(clock: Any, student: Any, group: Any,
                                                         booked: list[Any]) -> None:
    clock.current = START + dt.timedelta(minutes=20)
    client = login(student)
    page = client.get(url("booking_detail", booked[0].pk))
    assert [value for value, _ in page.context["outcomes"]] == ["teacher_no_show"]
    assert b"The teacher did not come" in page.content
    response = client.post(url("record_outcome", booked[0].pk), {"outcome": "teacher_no_show"}, follow=True)
    assert "Recorded: the teacher did not come." in flashed(response)
    assert status_of(booked[0]) == "teacher_no_show"
    assert [e.kind for e, _ in response.context["events"]][-1] == "teacher_no_show"


def test_a_late_outcome_is_refused_with_the_services_message(clock: Any, teacher: Any, group: Any,
                                                             booked: list[Any]) -> None:
    clock.current = START + dt.timedelta(minutes=30)
    client = login(teacher)
    clock.current = START + dt.timedelta(hours=1 + 73)  # the page was open too long: the window closed
    response = client.post(url("record_outcome", booked[0].pk), {"outcome": "completed"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert status_of(booked[0]) == "confirmed"
    assert not login(teacher).get(url("session_roster", group.pk)).context["outcome_window_open"]


def test_an_outcome_before_the_start_is_refused(clock: Any, teacher: Any, group: Any, booked: list[Any]) -> None:
    response = login(teacher).post(url("record_outcome", booked[0].pk), {"outcome": "completed"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert status_of(booked[0]) == "confirmed"


def test_outcomes_outside_the_viewers_role_are_404(clock: Any, teacher: Any, student: Any, other_student: Any,
                                                   group: Any, booked: list[Any], make_user: Any) -> None:
    clock.current = START + dt.timedelta(minutes=70)
    # A student may not mark themselves present, nor act on another student's booking.
    assert login(student).post(url("record_outcome", booked[0].pk), {"outcome": "completed"}).status_code == 404
    assert login(student).post(url("record_outcome", booked[1].pk),
                               {"outcome": "teacher_no_show"}).status_code == 404
    assert login(teacher).post(url("record_outcome", booked[0].pk),
                               {"outcome": "teacher_no_show"}).status_code == 404
    assert login(make_user("nosy")).post(url("record_outcome", booked[0].pk),
                                         {"outcome": "completed"}).status_code == 404
    assert login(teacher).post(url("record_outcome", booked[0].pk), {"outcome": "disputed"}).status_code == 404
    assert [status_of(b) for b in booked] == ["confirmed", "confirmed"]


def test_the_outcome_hook_is_asked_and_its_refusal_hides_the_buttons(clock: Any, teacher: Any, group: Any,
                                                                     booked: list[Any]) -> None:
    clock.current = START + dt.timedelta(minutes=70)
    clock.refuse = True
    client = login(teacher)
    roster = client.get(url("session_roster", group.pk))
    assert all(outcomes == [] for _, outcomes in roster.context["rows"])
    assert (teacher.pk, "completed") in clock.asked and (teacher.pk, "no_show") in clock.asked
    assert client.post(url("record_outcome", booked[0].pk), {"outcome": "completed"}).status_code == 404
    assert status_of(booked[0]) == "confirmed"


def test_recording_needs_post_and_the_csrf_token(clock: Any, teacher: Any, group: Any, booked: list[Any]) -> None:
    clock.current = START + dt.timedelta(minutes=70)
    assert login(teacher).get(url("record_outcome", booked[0].pk)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(teacher)
    assert strict.post(url("record_outcome", booked[0].pk), {"outcome": "completed"}).status_code == 403
    assert status_of(booked[0]) == "confirmed"


def test_a_student_disputes_the_teachers_record_and_the_history_says_both(clock: Any, teacher: Any, student: Any,
                                                                          group: Any, booked: list[Any]) -> None:
    clock.current = START + dt.timedelta(minutes=70)
    here = url("session_roster", group.pk)
    login(teacher).post(url("record_outcome", booked[0].pk), {"outcome": "completed", "note": "Good work",
                                                              "next": here})
    client = login(student)
    page = client.get(url("booking_detail", booked[0].pk))
    assert [value for value, _ in page.context["outcomes"]] == ["teacher_no_show"]
    response = client.post(url("record_outcome", booked[0].pk), {"outcome": "teacher_no_show", "note": "Empty room"},
                           follow=True)
    assert status_of(booked[0]) == "disputed" and response.context["outcomes"] == []
    rows = [(e.kind, {str(label): text for label, text in details}) for e, details in response.context["events"]]
    assert rows[-2:] == [
        ("completed", {"Note": "Good work"}),
        ("disputed", {"Outcome recorded": "Teacher did not attend", "Replaces": "Completed", "Note": "Empty room"}),
    ]
    # The teacher cannot answer a dispute; only a manager settles it.
    roster = login(teacher).get(here)
    assert dict((b.pk, outcomes) for b, outcomes in roster.context["rows"])[booked[0].pk] == []
