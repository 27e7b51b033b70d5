"""Moving a booking from its page: a new time for a 1:1 lesson (proposed by one side, answered by the
other), and a group booking's seat moved to another date of the same class.

The views read the adapter's real clock, so every lesson here is in the future of ``timezone.now()``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, time_format

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.models import RescheduleRequest, get_session_model

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def url(name: str, *args: Any) -> str:
    return reverse(f"liveclass_booking:{name}", args=args)


def soon(days: int = 3, hour: int = 10) -> dt.datetime:
    day = timezone.now().astimezone(UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)


def flashed(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def open_week(teacher: Any) -> None:
    # A teacher who approves every booking: a student's proposal waits for their answer (with
    # automatic confirmation it would be applied at once, see the test of that below).
    services.set_policy(teacher, approval_mode="manual", timezone="UTC")
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(18),
                                  timezone="UTC")


@pytest.fixture
def lesson(teacher: Any, student: Any, open_week: None) -> Any:
    booking = services.request_lesson(student, teacher, start=soon(hour=11), duration=60)
    services.confirm_booking(booking, actor=teacher)
    assert booking.status == "confirmed"
    return booking


@pytest.fixture
def group(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=soon(), duration=60, capacity=3, title="Algebra",
                                     timezone="UTC")


def propose(client: Client, booking: Any, start: dt.datetime, **extra: Any) -> Any:
    return client.post(url("propose_reschedule", booking.pk), {"start": start.isoformat(), **extra}, follow=True)


# --- a new time for a 1:1 lesson ----------------------------------------------------------------


def test_the_proposal_page_lists_the_teachers_free_times(lesson: Any, student: Any) -> None:
    response = login(student).get(url("propose_reschedule", lesson.pk))
    assert response.status_code == 200
    starts = [s for _, slots in response.context["days"] for s, _ in slots]
    assert soon(hour=14) in starts and lesson.start_at_utc not in starts
    assert b"Propose this time" in response.content
    page = login(student).get(url("booking_detail", lesson.pk))
    assert page.context["can_propose"] and url("propose_reschedule", lesson.pk).encode() in page.content


def test_a_student_proposes_and_withdraws(lesson: Any, student: Any) -> None:
    client = login(student)
    response = propose(client, lesson, soon(hour=14), message="Dentist")
    assert any("New time proposed" in m and "waiting for teacher" in m for m in flashed(response))
    proposal = RescheduleRequest.objects.get(booking=lesson)
    assert (proposal.status, proposal.start_at_utc, proposal.message) == ("pending", soon(hour=14), "Dentist")
    assert response.context["proposal"] == proposal
    assert response.context["proposal_answers"] == ["withdraw"]
    assert not response.context["can_propose"]
    response = client.post(url("withdraw_reschedule", proposal.pk), follow=True)
    assert any("withdrawn" in m for m in flashed(response))
    proposal.refresh_from_db()
    lesson.refresh_from_db()
    assert proposal.status == "withdrawn" and lesson.start_at_utc == soon(hour=11)


def test_a_students_proposal_to_a_teacher_who_confirms_automatically_moves_the_lesson_at_once(
        lesson: Any, student: Any, teacher: Any) -> None:
    services.set_policy(teacher, approval_mode="auto")
    response = propose(login(student), lesson, soon(hour=14))
    assert any(m.startswith("The lesson is moved to") for m in flashed(response))
    assert not any("proposed" in m for m in flashed(response))
    proposal = RescheduleRequest.objects.get(booking=lesson)
    lesson.refresh_from_db()
    assert (proposal.status, lesson.start_at_utc) == ("accepted", soon(hour=14))
    assert response.context["proposal"] is None and response.context["can_propose"]
    event, details = response.context["events"][-1]
    assert event.kind == "rescheduled" and event.actor_id == student.pk
    shown = {str(label): text for label, text in details}
    assert shown["Old time"].endswith("11 a.m.–noon (UTC)") and shown["New time"].endswith("2 p.m.–3 p.m. (UTC)")


def test_a_typed_time_is_read_in_the_viewers_timezone(lesson: Any, student: Any) -> None:
    client = login(student)
    client.post(url("set_timezone"), {"timezone": "Asia/Tokyo"})
    local = soon(hour=14).astimezone(dt.timezone(dt.timedelta(hours=9)))
    propose_response = client.post(url("propose_reschedule", lesson.pk),
                                   {"when": local.strftime("%Y-%m-%dT%H:%M")})
    assert propose_response.status_code == 302
    assert RescheduleRequest.objects.get(booking=lesson).start_at_utc == soon(hour=14)


def test_the_teacher_accepts_a_students_proposal_from_the_dashboard(lesson: Any, student: Any,
                                                                      teacher: Any) -> None:
    propose(login(student), lesson, soon(hour=14))
    proposal = RescheduleRequest.objects.get(booking=lesson)
    client = login(teacher)
    dashboard = client.get(url("teacher_dashboard"))
    assert dashboard.context["proposals"] == [(proposal, ["accept", "decline"])]
    assert b"Accept the new time" in dashboard.content
    response = client.post(url("accept_reschedule", proposal.pk), {"next": url("teacher_dashboard")}, follow=True)
    assert any("moved" in m for m in flashed(response))
    lesson.refresh_from_db()
    assert lesson.start_at_utc == soon(hour=14)
    page = login(student).get(url("booking_detail", lesson.pk))
    assert [e.kind for e, _ in page.context["events"]][-1] == "rescheduled"


def test_a_proposal_of_a_cancelled_lesson_is_no_longer_offered(lesson: Any, student: Any, teacher: Any) -> None:
    propose(login(student), lesson, soon(hour=14))
    services.cancel_booking(lesson, actor=teacher)
    assert login(teacher).get(url("teacher_dashboard")).context["proposals"] == []
    assert b"Accept the new time" not in login(teacher).get(url("booking_detail", lesson.pk)).content


def test_the_teacher_proposes_and_the_student_declines(lesson: Any, student: Any, teacher: Any) -> None:
    response = propose(login(teacher), lesson, soon(hour=15))
    proposal = RescheduleRequest.objects.get(booking=lesson)
    assert proposal.proposed_by == teacher and response.context["proposal_answers"] == ["withdraw"]
    page = login(student).get(url("booking_detail", lesson.pk))
    assert page.context["proposal_answers"] == ["accept", "decline"]
    response = login(student).post(url("decline_reschedule", proposal.pk), {"reason": "Busy"}, follow=True)
    assert any("declined" in m for m in flashed(response))
    proposal.refresh_from_db()
    lesson.refresh_from_db()
    assert (proposal.status, proposal.reason, lesson.start_at_utc) == ("declined", "Busy", soon(hour=11))


def test_a_second_proposal_is_refused_with_the_services_message(lesson: Any, student: Any, teacher: Any) -> None:
    propose(login(teacher), lesson, soon(hour=15))
    response = login(student).post(url("propose_reschedule", lesson.pk), {"start": soon(hour=16).isoformat()})
    assert response.status_code == 200
    codes = [e.code for e in response.context["form"].non_field_errors().as_data()]
    assert codes == ["reschedule_pending"]
    assert RescheduleRequest.objects.filter(booking=lesson).count() == 1


def test_a_time_outside_the_teachers_availability_is_refused(lesson: Any, student: Any) -> None:
    response = login(student).post(url("propose_reschedule", lesson.pk), {"start": soon(hour=21).isoformat()})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not RescheduleRequest.objects.exists()
    lesson.refresh_from_db()
    assert lesson.start_at_utc == soon(hour=11)


def test_nothing_picked_is_a_form_error(lesson: Any, student: Any) -> None:
    response = login(student).post(url("propose_reschedule", lesson.pk), {"message": "any time"})
    assert response.status_code == 200 and response.context["form"].errors["when"]
    assert not RescheduleRequest.objects.exists()


def test_strangers_get_404_everywhere(lesson: Any, student: Any, teacher: Any, other_student: Any) -> None:
    propose(login(student), lesson, soon(hour=14))
    proposal = RescheduleRequest.objects.get(booking=lesson)
    stranger = login(other_student)
    assert stranger.get(url("propose_reschedule", lesson.pk)).status_code == 404
    assert stranger.post(url("propose_reschedule", lesson.pk), {"start": soon(hour=15).isoformat()}).status_code == 404
    for name in ("accept_reschedule", "decline_reschedule", "withdraw_reschedule"):
        assert stranger.post(url(name, proposal.pk)).status_code == 404
    # Whoever proposed may not accept their own proposal; the other side may not withdraw it.
    assert login(student).post(url("accept_reschedule", proposal.pk)).status_code == 404
    assert login(teacher).post(url("withdraw_reschedule", proposal.pk)).status_code == 404
    proposal.refresh_from_db()
    assert proposal.status == "pending"


def test_the_pages_refuse_get_and_need_the_csrf_token(lesson: Any, student: Any, teacher: Any) -> None:
    propose(login(student), lesson, soon(hour=14))
    proposal = RescheduleRequest.objects.get(booking=lesson)
    assert login(teacher).get(url("accept_reschedule", proposal.pk)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(teacher)
    assert strict.post(url("accept_reschedule", proposal.pk)).status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == "pending"


class NoReschedulingAdapter(DefaultBookingAdapter):
    asked: list[str] = []

    def can_propose_reschedule(self, actor: Any, booking: Any) -> bool:
        self.asked.append("propose")
        return False

    def can_answer_reschedule(self, actor: Any, request: Any, action: str) -> bool:
        self.asked.append(action)
        return action == "withdraw" and super().can_answer_reschedule(actor, request, action)


def test_the_reschedule_hooks_are_asked(settings: Any, lesson: Any, student: Any, teacher: Any) -> None:
    propose(login(student), lesson, soon(hour=14))
    proposal = RescheduleRequest.objects.get(booking=lesson)
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.NoReschedulingAdapter"}
    NoReschedulingAdapter.asked.clear()
    page = login(teacher).get(url("booking_detail", lesson.pk))
    assert page.context["proposal_answers"] == [] and b"Accept the new time" not in page.content
    assert login(teacher).post(url("accept_reschedule", proposal.pk)).status_code == 404
    assert login(teacher).get(url("propose_reschedule", lesson.pk)).status_code == 404
    assert {"propose", "accept", "decline", "withdraw"} <= set(NoReschedulingAdapter.asked)
    proposal.refresh_from_db()
    assert proposal.status == "pending"


# --- moving a seat to another date of the class -------------------------------------------------


def test_a_group_booking_lists_other_dates_of_the_class_and_moves(teacher: Any, student: Any) -> None:
    first, *others = services.schedule_recurring_sessions(
        teacher, first_start=soon(days=2, hour=9), rrule="FREQ=WEEKLY;COUNT=3", duration=60, capacity=2,
        title="Algebra", timezone="UTC")
    unrelated = services.schedule_session(teacher, start=soon(days=4), duration=60, capacity=3, title="Chess",
                                          timezone="UTC")
    same_title = services.schedule_session(teacher, start=soon(days=5), duration=60, capacity=3, title="Algebra",
                                           timezone="UTC")
    booking = services.book_seat(student, first)
    client = login(student)
    page = client.get(url("booking_detail", booking.pk))
    options = [s.pk for s in page.context["move_options"]]
    weekly = list(get_session_model().objects.filter(recurrence_key=first.recurrence_key).exclude(pk=first.pk)
                  .order_by("start_at_utc").values_list("pk", flat=True))
    assert options == [*weekly, same_title.pk] and unrelated.pk not in options
    assert b"Move to this date" in page.content
    response = client.post(url("move_booking", booking.pk), {"session": weekly[0]}, follow=True)
    assert any("moved" in m for m in flashed(response))
    moved = response.context["booking"]
    assert moved.session_id == weekly[0] and moved.status == "confirmed"
    event, details = response.context["events"][-1]
    shown = {str(label): text for label, text in details}
    assert event.kind == "moved" and shown["Old time"].endswith("9 a.m.–10 a.m. (UTC)") and set(shown) == {"Old time",
                                                                                                  "New time"}


def test_a_move_the_service_refuses_shows_its_message(teacher: Any, student: Any, other_student: Any,
                                                      group: Any) -> None:
    full = services.schedule_session(teacher, start=soon(days=5), duration=60, capacity=1, title="Algebra",
                                     timezone="UTC")
    services.book_seat(other_student, full)
    booking = services.book_seat(student, group)
    client = login(student)
    assert client.get(url("booking_detail", booking.pk)).context["move_options"] == []
    response = client.post(url("move_booking", booking.pk), {"session": full.pk}, follow=True)
    assert response.status_code == 200 and [m.level_tag for m in response.context["messages"]] == ["error"]
    booking.refresh_from_db()
    assert booking.session_id == group.pk and booking.status == "confirmed"


def test_a_stranger_cannot_move_a_booking(teacher: Any, student: Any, other_student: Any, group: Any) -> None:
    later = services.schedule_session(teacher, start=soon(days=5), duration=60, capacity=3, title="Algebra",
                                      timezone="UTC")
    booking = services.book_seat(student, group)
    assert login(other_student).post(url("move_booking", booking.pk), {"session": later.pk}).status_code == 404
    assert login(student).post(url("move_booking", booking.pk), {"session": "x"}).status_code == 404
    booking.refresh_from_db()
    assert booking.session_id == group.pk


class NoMovesAdapter(DefaultBookingAdapter):
    def can_move_booking(self, actor: Any, booking: Any, session: Any) -> bool:
        return False


def test_the_move_hook_is_asked(settings: Any, teacher: Any, student: Any, group: Any) -> None:
    later = services.schedule_session(teacher, start=soon(days=5), duration=60, capacity=3, title="Algebra",
                                      timezone="UTC")
    booking = services.book_seat(student, group)
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.NoMovesAdapter"}
    client = login(student)
    assert client.get(url("booking_detail", booking.pk)).context["move_options"] == []
    assert client.post(url("move_booking", booking.pk), {"session": later.pk}).status_code == 404
    booking.refresh_from_db()
    assert booking.session_id == group.pk


# --- history -----------------------------------------------------------------------------------


def shown_range(start: dt.datetime) -> str:
    """A one-hour lesson as the pages write it, in the zone of ``start``."""
    end = start + dt.timedelta(hours=1)
    return (f"{date_format(start, 'D')}, {date_format(start, 'DATETIME_FORMAT')}–{time_format(end, 'TIME_FORMAT')}"
            f" ({start.tzinfo})")


def test_the_history_shows_each_change_in_the_viewers_zone(lesson: Any, student: Any, teacher: Any,
                                                           make_user: Any) -> None:
    proposal = services.request_reschedule(lesson, start=soon(hour=14), actor=teacher)
    services.accept_reschedule(proposal, actor=student)
    services.cancel_booking(lesson, actor=teacher, reason="Ill")
    client = login(student)
    client.post(url("set_timezone"), {"timezone": "America/New_York"})
    page = client.get(url("booking_detail", lesson.pk))
    rows = page.context["events"]
    assert [e.kind for e, _ in rows] == ["requested", "confirmed", "rescheduled", "cancelled"]
    assert ("Reason", "Ill") in [(str(label), text) for label, text in rows[-1][1]]
    new_york = zoneinfo.ZoneInfo("America/New_York")
    old, new = (soon(hour=hour).astimezone(new_york) for hour in (11, 14))
    moved = {str(label): text for label, text in rows[2][1]}
    assert moved == {"Old time": shown_range(old), "New time": shown_range(new)}
    html = page.content.decode()
    assert "History" in html and "Cancelled" in html and "Rescheduled" in html and teacher.get_username() in html
    assert "Old time" in html and "previous_start" not in html and "+00:00" not in html
    for kind in ("confirmed", "cancelled"):
        event = next(e for e, _ in rows if e.kind == kind)
        local = event.at.astimezone(new_york)
        assert time_format(local, "TIME_FORMAT") in html
    assert login(teacher).get(url("booking_detail", lesson.pk)).context["events"]
    assert login(make_user("nosy")).get(url("booking_detail", lesson.pk)).status_code == 404
