"""The teacher pages: who may open them, one service per POST, refusals shown on the form, nothing written.

The views read the adapter's real clock, so every session here starts in the future of
``django.utils.timezone.now()``, not of the fixed ``now`` fixture.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.forms.teacher import POLICY_FIELDS
from django_liveclass_booking.models import (
    BookingSeries,
    BookingStatus,
    SeriesStatus,
    SessionStatus,
    TeacherAvailability,
    TeacherBookingPolicy,
    TeacherTimeOff,
    get_booking_model,
    get_session_model,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PAGES = ["teacher_dashboard", "schedule_session", "teacher_policy", "teacher_availability", "session_roster"]
POST_ONLY = ["confirm_booking", "confirm_series"]
# Destructive: their GET is the confirmation page (tests/test_views_confirm.py).
CONFIRM_FIRST = ["decline_booking", "decline_series", "cancel_session", "delete_availability", "delete_time_off"]
WITH_PK = {"session_roster", *POST_ONLY, *CONFIRM_FIRST}


def url(name: str, *args: Any) -> str:
    return reverse(f"liveclass_booking:{name}", args=args)


def page_url(name: str, pk: int = 1) -> str:
    return url(name, pk) if name in WITH_PK else url(name)


def soon(days: int = 3, hour: int = 10) -> dt.datetime:
    """A whole hour ``days`` ahead of the real clock, in UTC."""
    return (timezone.now().astimezone(UTC) + dt.timedelta(days=days)).replace(hour=hour, minute=0, second=0,
                                                                            microsecond=0)


def typed(value: dt.datetime, tz: str = "UTC") -> str:
    """``value`` as a viewer in ``tz`` types it into ``<input type="datetime-local">``."""
    return value.astimezone(zoneinfo.ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def errors(response: Any, field: str, form: str = "form") -> list[str]:
    return list(response.context[form].errors.get(field, []))


def flashed(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def tutor(teacher: Any) -> Any:
    services.set_policy(teacher, approval_mode="manual")
    return teacher


@pytest.fixture
def tutor_client(client: Client, tutor: Any) -> Client:
    client.force_login(tutor)
    return client


@pytest.fixture
def rival(make_user: Any) -> Any:
    user = make_user("rival")
    services.set_policy(user, approval_mode="manual")
    return user


@pytest.fixture
def rival_client(rival: Any) -> Client:
    other = Client()
    other.force_login(rival)
    return other


@pytest.fixture
def group(tutor: Any) -> Any:
    return services.schedule_session(tutor, start=soon(), duration=60, capacity=2, title="Algebra")


@pytest.fixture
def pending(group: Any, student: Any) -> Any:
    booking = services.book_seat(student, group)
    assert booking.status == BookingStatus.PENDING
    return booking


def status_of(obj: Any) -> str:
    obj.refresh_from_db()
    return obj.status


# --- who may open the pages ---------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES + POST_ONLY + CONFIRM_FIRST)
def test_a_student_gets_403_on_every_teacher_page(client: Client, student: Any, name: str) -> None:
    client.force_login(student)
    method = client.post if name in POST_ONLY else client.get
    assert method(page_url(name)).status_code == 403


@pytest.mark.parametrize("name", PAGES + POST_ONLY + CONFIRM_FIRST)
def test_anonymous_visitors_are_sent_to_log_in(client: Client, name: str) -> None:
    method = client.post if name in POST_ONLY else client.get
    response = method(page_url(name))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", POST_ONLY)
def test_state_changing_endpoints_refuse_get(tutor_client: Client, name: str) -> None:
    assert tutor_client.get(page_url(name)).status_code == 405


def test_posts_need_the_csrf_token(tutor: Any, pending: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(tutor)
    assert strict.post(url("confirm_booking", pending.pk)).status_code == 403
    assert status_of(pending) == BookingStatus.PENDING


# --- dashboard and decisions --------------------------------------------------------------------


def test_dashboard_lists_pending_requests_and_upcoming_sessions(tutor_client: Client, pending: Any,
                                                                group: Any) -> None:
    response = tutor_client.get(url("teacher_dashboard"))
    assert response.status_code == 200
    assert list(response.context["pending_bookings"]) == [pending]
    [session] = response.context["upcoming"]
    assert (session.pk, session.seats_taken, session.capacity, session.waiting) == (group.pk, 1, 2, 0)
    body = response.content.decode()
    assert "student" in body and url("confirm_booking", pending.pk) in body
    assert url("session_roster", group.pk) in body


def test_teacher_confirms_a_pending_request(tutor_client: Client, pending: Any) -> None:
    response = tutor_client.post(url("confirm_booking", pending.pk), follow=True)
    assert response.redirect_chain[-1][0] == url("teacher_dashboard")
    assert status_of(pending) == BookingStatus.CONFIRMED
    assert "The booking is confirmed." in flashed(response)


def test_teacher_declines_with_a_reason_and_the_seat_is_freed(tutor_client: Client, pending: Any,
                                                              group: Any) -> None:
    response = tutor_client.post(url("decline_booking", pending.pk), {"reason": "Class is for beginners"})
    assert response.status_code == 302
    pending.refresh_from_db()
    group.refresh_from_db()
    assert (pending.status, pending.reason, group.seats_taken) == (BookingStatus.DECLINED, "Class is for beginners", 0)


def test_a_decision_returns_to_the_page_it_was_made_on_but_never_off_site(tutor_client: Client, pending: Any,
                                                                          group: Any) -> None:
    roster = url("session_roster", group.pk)
    response = tutor_client.post(url("decline_booking", pending.pk), {"next": "https://evil.example/"})
    assert response["Location"] == url("teacher_dashboard")
    other = services.book_seat(pending.student, group)
    assert tutor_client.post(url("confirm_booking", other.pk), {"next": roster})["Location"] == roster


def test_a_refused_decision_is_a_message_and_writes_nothing(tutor_client: Client, pending: Any) -> None:
    tutor_client.post(url("confirm_booking", pending.pk), follow=True)
    response = tutor_client.post(url("decline_booking", pending.pk), follow=True)
    assert status_of(pending) == BookingStatus.CONFIRMED
    [message] = [m for m in response.context["messages"]]
    assert message.level_tag == "error"


def test_a_too_long_reason_is_refused(tutor_client: Client, pending: Any) -> None:
    response = tutor_client.post(url("decline_booking", pending.pk), {"reason": "x" * 1001}, follow=True)
    assert status_of(pending) == BookingStatus.PENDING
    assert any("1000" in m for m in flashed(response))


def test_another_teachers_booking_and_session_are_404_and_unchanged(rival_client: Client, pending: Any,
                                                                    group: Any) -> None:
    assert rival_client.post(url("confirm_booking", pending.pk)).status_code == 404
    assert rival_client.post(url("decline_booking", pending.pk)).status_code == 404
    assert rival_client.get(url("session_roster", group.pk)).status_code == 404
    assert rival_client.post(url("cancel_session", group.pk)).status_code == 404
    assert status_of(pending) == BookingStatus.PENDING
    assert status_of(group) == SessionStatus.SCHEDULED
    assert pending not in rival_client.get(url("teacher_dashboard")).context["pending_bookings"]


def test_a_booking_manager_may_answer_for_any_teacher(make_user: Any, pending: Any) -> None:
    manager = make_user("manager")
    manager.user_permissions.add(Permission.objects.get(codename="manage_bookings"))
    client = Client()
    client.force_login(manager)
    assert client.post(url("confirm_booking", pending.pk)).status_code == 302
    assert status_of(pending) == BookingStatus.CONFIRMED


@pytest.fixture
def series(tutor: Any, student: Any) -> BookingSeries:
    for weekday in range(7):
        services.add_availability(tutor, weekday=weekday, start_time=dt.time(0), end_time=dt.time(23, 59),
                                  timezone="UTC")
    made = services.create_series(student, tutor, first_start=soon(days=2), duration=45,
                                  rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC")
    assert made.status == SeriesStatus.PENDING
    return made


def series_statuses(series: BookingSeries) -> set[str]:
    return set(get_booking_model().objects.filter(series_item__series=series).values_list("status", flat=True))


def test_a_pending_series_is_answered_as_a_whole(tutor_client: Client, series: BookingSeries) -> None:
    response = tutor_client.get(url("teacher_dashboard"))
    [listed] = response.context["pending_series"]
    assert (listed.pk, listed.pending_count) == (series.pk, 3)
    assert not list(response.context["pending_bookings"])  # not offered one by one as well
    tutor_client.post(url("confirm_series", series.pk))
    assert (status_of(series), series_statuses(series)) == (SeriesStatus.ACTIVE, {BookingStatus.CONFIRMED})


def test_teacher_declines_a_whole_series(tutor_client: Client, series: BookingSeries) -> None:
    tutor_client.post(url("decline_series", series.pk), {"reason": "Full term"})
    assert (status_of(series), series_statuses(series)) == (SeriesStatus.DECLINED, {BookingStatus.DECLINED})


def test_another_teachers_series_is_404(rival_client: Client, series: BookingSeries) -> None:
    assert rival_client.post(url("confirm_series", series.pk)).status_code == 404
    assert rival_client.post(url("decline_series", series.pk)).status_code == 404
    assert series_statuses(series) == {BookingStatus.PENDING}


# --- scheduling -------------------------------------------------------------------------------


def schedule_data(when: dt.datetime, tz: str = "UTC", **changes: Any) -> dict[str, Any]:
    return {"title": "Chemistry", "start": typed(when, tz), "duration": 60, "capacity": 8, "timezone": tz,
            "meeting_provider": "Jitsi", "meeting_url": "https://meet.example/chem", "meeting_passcode": "",
            "repeat": "none", "weeks": "", **changes}


def test_schedule_page_renders_with_the_viewers_timezone(tutor_client: Client) -> None:
    response = tutor_client.get(url("schedule_session"))
    assert response.status_code == 200
    assert response.context["form"].initial["timezone"] == "UTC"


def test_schedule_a_single_session_in_the_viewers_timezone(tutor_client: Client, tutor: Any) -> None:
    services.set_policy(tutor, timezone="Europe/Berlin")
    start = soon(days=5, hour=9)
    response = tutor_client.post(url("schedule_session"), schedule_data(start, "Europe/Berlin"))
    [session] = get_session_model().objects.filter(teacher=tutor)
    assert response["Location"] == url("session_roster", session.pk)
    assert (session.start_at_utc, session.duration_minutes, session.capacity) == (start, 60, 8)
    assert (session.timezone_snapshot, session.meeting_url, session.title) == (
        "Europe/Berlin", "https://meet.example/chem", "Chemistry")


def test_schedule_weekly_for_four_weeks(tutor_client: Client, tutor: Any) -> None:
    start = soon(days=4)
    response = tutor_client.post(url("schedule_session"), schedule_data(start, repeat="weekly", weeks=4))
    assert response.status_code == 302
    sessions = list(get_session_model().objects.filter(teacher=tutor).order_by("start_at_utc"))
    assert [s.start_at_utc for s in sessions] == [start + dt.timedelta(weeks=i) for i in range(4)]
    assert len({s.recurrence_key for s in sessions}) == 1 and sessions[0].recurrence_key


def test_schedule_every_weekday_for_two_weeks(tutor_client: Client, tutor: Any) -> None:
    start = soon(days=3)
    start += dt.timedelta(days=(7 - start.weekday()) % 7)  # a Monday
    tutor_client.post(url("schedule_session"), schedule_data(start, repeat="weekdays", weeks=2))
    starts = list(get_session_model().objects.filter(teacher=tutor).values_list("start_at_utc", flat=True))
    assert len(starts) == 10 and {s.weekday() for s in starts} == {0, 1, 2, 3, 4}


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"duration": -30}, "duration", "greater than or equal to 1"),
        ({"capacity": 0}, "capacity", "greater than or equal to 1"),
        ({"timezone": "Mars/Base"}, "timezone", "not a known IANA timezone"),
        ({"start": "tomorrow-ish"}, "start", "valid date/time"),
        ({"repeat": "weekly", "weeks": ""}, "weeks", "how many weeks"),
        ({"repeat": "weekly", "weeks": 53}, "weeks", "less than or equal to 52"),
        ({"repeat": "weekdays", "weeks": 30}, "weeks", "at most"),
        ({"repeat": "FREQ=SECONDLY"}, "repeat", "valid choice"),
        ({"meeting_url": "not a url"}, "meeting_url", "valid URL"),
    ],
)
def test_bad_schedule_input_is_shown_on_the_form_and_writes_nothing(tutor_client: Client, tutor: Any,
                                                                    changes: dict[str, Any], field: str,
                                                                    text: str) -> None:
    response = tutor_client.post(url("schedule_session"), schedule_data(soon(days=4), **changes))
    assert response.status_code == 200
    assert any(text in e for e in errors(response, field)), response.context["form"].errors
    assert not get_session_model().objects.filter(teacher=tutor).exists()


def test_an_overlapping_start_is_shown_next_to_the_start_field(tutor_client: Client, tutor: Any,
                                                               group: Any) -> None:
    response = tutor_client.post(url("schedule_session"), schedule_data(group.start_at_utc + dt.timedelta(minutes=30)))
    assert response.status_code == 200
    assert errors(response, "start") == ["The teacher already has a session at that time."]
    assert 'id="id_start_errors"' in response.content.decode()
    assert list(get_session_model().objects.filter(teacher=tutor)) == [group]


def test_one_clashing_week_refuses_the_whole_run(tutor_client: Client, tutor: Any, group: Any) -> None:
    data = schedule_data(group.start_at_utc - dt.timedelta(weeks=1), repeat="weekly", weeks=3)
    response = tutor_client.post(url("schedule_session"), data)
    assert response.status_code == 200 and errors(response, "start")
    assert get_session_model().objects.filter(teacher=tutor).count() == 1


def test_past_start_and_weekend_start_for_weekdays_are_refused(tutor_client: Client, tutor: Any) -> None:
    past = tutor_client.post(url("schedule_session"), schedule_data(timezone.now() - dt.timedelta(hours=2)))
    assert errors(past, "start") == ["A session cannot start in the past."]
    saturday = soon(days=3)
    saturday += dt.timedelta(days=(5 - saturday.weekday()) % 7)
    response = tutor_client.post(url("schedule_session"), schedule_data(saturday, repeat="weekdays", weeks=2))
    assert errors(response, "start") and not get_session_model().objects.filter(teacher=tutor).exists()


def test_a_wall_clock_time_skipped_by_dst_is_refused(tutor_client: Client, tutor: Any) -> None:
    services.set_policy(tutor, timezone="Europe/Berlin")
    year = timezone.now().year + 1
    march_31 = dt.date(year, 3, 31)
    spring_forward = march_31 - dt.timedelta(days=(march_31.weekday() + 1) % 7)  # last Sunday of March
    data = schedule_data(soon(), "Europe/Berlin", start=f"{spring_forward.isoformat()}T02:30")
    response = tutor_client.post(url("schedule_session"), data)
    assert "does not exist" in errors(response, "start")[0]
    assert not get_session_model().objects.filter(teacher=tutor).exists()


def test_a_lower_occurrence_cap_is_said_in_weeks(tutor_client: Client, tutor: Any, settings: Any) -> None:
    settings.LIVECLASS_BOOKING = {"MAX_OCCURRENCES": 3}
    response = tutor_client.post(url("schedule_session"), schedule_data(soon(days=4), repeat="weekly", weeks=4))
    assert errors(response, "weeks") == ["That makes 4 classes; at most 3 can be scheduled at once."]
    assert not get_session_model().objects.filter(teacher=tutor).exists()


# --- roster and cancelling --------------------------------------------------------------------


def test_roster_shows_bookings_waitlist_in_line_order_and_meeting(tutor_client: Client, tutor: Any,
                                                                   make_user: Any) -> None:
    session = services.schedule_session(tutor, start=soon(), duration=60, capacity=1, title="Full class",
                                        meeting_url="https://meet.example/x", meeting_passcode="4711")
    booked = services.book_seat(make_user("ann"), session)
    first = services.join_waitlist(make_user("bob"), session)
    second = services.join_waitlist(make_user("cleo"), session)
    response = tutor_client.get(url("session_roster", session.pk))
    assert response.status_code == 200
    assert list(response.context["bookings"]) == [booked]
    assert list(response.context["waitlist"]) == [first, second]
    body = response.content.decode()
    assert body.index("bob") < body.index("cleo")
    assert "4711" in body and url("cancel_session", session.pk) in body
    assert url("confirm_booking", booked.pk) in body and url("cancel_booking", booked.pk) in body


def test_cancel_session_cancels_its_bookings(tutor_client: Client, pending: Any, group: Any) -> None:
    response = tutor_client.post(url("cancel_session", group.pk), {"reason": "Teacher ill"}, follow=True)
    assert response.redirect_chain[-1][0] == url("session_roster", group.pk)
    group.refresh_from_db()
    assert (group.status, group.cancellation_reason) == (SessionStatus.CANCELLED, "Teacher ill")
    assert status_of(pending) == BookingStatus.CANCELLED
    again = tutor_client.post(url("cancel_session", group.pk), follow=True)
    assert [m.level_tag for m in again.context["messages"]] == ["error"]


# --- policy -----------------------------------------------------------------------------------


#: The policy fields typed as amount + unit on the page, and their stored unit in minutes.
SPANS = {"min_notice_minutes": 1, "request_ttl_hours": 60, "cancellation_cutoff_hours": 60,
         "waitlist_offer_ttl_minutes": 1}


def policy_data(teacher: Any, **changes: Any) -> dict[str, str]:
    """The policy form as a browser posts it: unchecked boxes are left out."""
    policy = TeacherBookingPolicy.for_teacher(teacher)
    values = {**{name: getattr(policy, name) for name in POLICY_FIELDS}, **changes}
    data = {}
    for name, value in values.items():
        if name in SPANS:  # an amount and its unit, typed in the field's stored unit
            data[f"{name}_0"], data[f"{name}_1"] = ("" if value is None else str(value)), str(SPANS[name])
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = ", ".join(str(v) for v in value)
        else:
            data[name] = "" if value is None else str(value)
    return data


def test_policy_form_saves_valid_values(tutor_client: Client, tutor: Any) -> None:
    assert tutor_client.get(url("teacher_policy")).status_code == 200
    data = policy_data(tutor, timezone="Asia/Tokyo", lesson_durations="60, 30", max_bookings_per_day=2,
                       allow_late_cancellation=False, request_ttl_hours=None)
    response = tutor_client.post(url("teacher_policy"), data)
    assert response.status_code == 302
    policy = TeacherBookingPolicy.objects.get(teacher=tutor)
    assert (policy.timezone, policy.lesson_durations, policy.max_bookings_per_day) == ("Asia/Tokyo", [30, 60], 2)
    assert (policy.allow_late_cancellation, policy.request_ttl_hours, policy.approval_mode) == (False, None, "manual")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"lesson_durations": "30, -5"}, "lesson_durations"),
        ({"lesson_durations": "half an hour"}, "lesson_durations"),
        # Each length is added to times when a student's page lists the slots.
        ({"lesson_durations": "99999999999"}, "lesson_durations"),
        ({"lesson_durations": "0, 30"}, "lesson_durations"),
        ({"lesson_durations": "1441"}, "lesson_durations"),
        ({"lesson_durations": ", ".join(str(n) for n in range(1, 26))}, "lesson_durations"),
        ({"min_notice_minutes": "-1"}, "min_notice_minutes"),
        ({"approval_mode": "sometimes"}, "approval_mode"),
        # Values this large would overflow date arithmetic on every student's page later.
        ({"max_advance_days": "2147483647"}, "max_advance_days"),
        ({"buffer_minutes": "2147483647"}, "buffer_minutes"),
        ({"cancellation_cutoff_hours": "2147483647"}, "cancellation_cutoff_hours"),
        ({"request_ttl_hours": "2147483647"}, "request_ttl_hours"),
    ],
)
def test_policy_form_shows_errors_next_to_the_field_and_writes_nothing(tutor_client: Client, tutor: Any,
                                                                       changes: dict[str, Any], field: str) -> None:
    before = TeacherBookingPolicy.objects.get(teacher=tutor).modified
    response = tutor_client.post(url("teacher_policy"), policy_data(tutor, max_bookings_per_day=5, **changes))
    assert response.status_code == 200
    assert errors(response, field), response.context["form"].errors
    policy = TeacherBookingPolicy.objects.get(teacher=tutor)
    assert (policy.max_bookings_per_day, policy.modified) == (None, before)


def test_policy_form_takes_each_length_once_within_the_bounds(tutor_client: Client, tutor: Any) -> None:
    data = policy_data(tutor, lesson_durations="1440, 30, 1, 30")
    assert tutor_client.post(url("teacher_policy"), data).status_code == 302
    assert TeacherBookingPolicy.objects.get(teacher=tutor).lesson_durations == [1, 30, 1440]


# --- availability and time off ----------------------------------------------------------------


def window_data(**changes: Any) -> dict[str, Any]:
    return {"add": "window", "window-weekday": "2", "window-start_time": "09:00", "window-end_time": "12:00",
            "window-timezone": "Europe/Paris", **{f"window-{k}": v for k, v in changes.items()}}


def test_add_and_remove_an_availability_window(tutor_client: Client, tutor: Any) -> None:
    response = tutor_client.post(url("teacher_availability"), window_data())
    assert response.status_code == 302
    window = TeacherAvailability.objects.get(teacher=tutor)
    assert (window.weekday, window.start_time, window.end_time, window.timezone) == (
        2, dt.time(9), dt.time(12), "Europe/Paris")
    page = tutor_client.get(url("teacher_availability"))
    assert list(page.context["windows"]) == [window]
    assert url("delete_availability", window.pk) in page.content.decode()
    assert tutor_client.post(url("delete_availability", window.pk)).status_code == 302
    assert not TeacherAvailability.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end_time": "08:00"}, "end_time"),
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"weekday": "7"}, "weekday"),
        ({"start_time": "nine"}, "start_time"),
    ],
)
def test_bad_window_is_shown_on_its_form_and_writes_nothing(tutor_client: Client, changes: dict[str, Any],
                                                            field: str) -> None:
    response = tutor_client.post(url("teacher_availability"), window_data(**changes))
    assert response.status_code == 200
    assert errors(response, field, "window_form")
    assert not response.context["time_off_form"].is_bound
    assert not TeacherAvailability.objects.exists()


def test_add_and_remove_time_off_in_the_viewers_timezone(tutor_client: Client, tutor: Any) -> None:
    services.set_policy(tutor, timezone="America/New_York")
    start, end = soon(days=10, hour=14), soon(days=12, hour=14)
    data = {"add": "timeoff", "timeoff-start": typed(start, "America/New_York"),
            "timeoff-end": typed(end, "America/New_York"), "timeoff-reason": "Conference"}
    assert tutor_client.post(url("teacher_availability"), data).status_code == 302
    off = TeacherTimeOff.objects.get(teacher=tutor)
    assert (off.start_at_utc, off.end_at_utc, off.reason) == (start, end, "Conference")
    assert list(tutor_client.get(url("teacher_availability")).context["time_off"]) == [off]
    assert tutor_client.post(url("delete_time_off", off.pk)).status_code == 302
    assert not TeacherTimeOff.objects.exists()


def test_time_off_ending_before_it_starts_is_refused(tutor_client: Client) -> None:
    data = {"add": "timeoff", "timeoff-start": typed(soon(days=5)), "timeoff-end": typed(soon(days=4))}
    response = tutor_client.post(url("teacher_availability"), data)
    assert response.status_code == 200
    assert [e.code for e in response.context["time_off_form"].errors.as_data()["end"]] == ["end_before_start"]
    assert not TeacherTimeOff.objects.exists()


def test_a_teacher_cannot_remove_another_teachers_window_or_time_off(rival_client: Client, tutor: Any) -> None:
    window = services.add_availability(tutor, weekday=0, start_time=dt.time(9), end_time=dt.time(10))
    off = services.add_time_off(tutor, start=soon(days=5), end=soon(days=6))
    assert rival_client.post(url("delete_availability", window.pk)).status_code == 404
    assert rival_client.post(url("delete_time_off", off.pk)).status_code == 404
    assert TeacherAvailability.objects.filter(pk=window.pk).exists()
    assert TeacherTimeOff.objects.filter(pk=off.pk).exists()
    assert window not in rival_client.get(url("teacher_availability")).context["windows"]


# --- accessible markup ------------------------------------------------------------------------


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: set[str] = set()
        self.labels: set[str] = set()
        self.tables = self.headers = 0
        self.empty_buttons = 0
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag in ("input", "select", "textarea") and attr.get("type") not in ("hidden", "submit"):
            self.fields.add(attr.get("id") or f"<{tag} name={attr.get('name')} without id>")
        elif tag == "label" and attr.get("for"):
            self.labels.add(attr["for"])
        elif tag == "table":
            self.tables += 1
        elif tag == "th":
            self.headers += 1
        elif tag == "button":
            self._button = []

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.empty_buttons += not "".join(self._button)
            self._button = None


def test_every_page_labels_its_inputs_and_heads_its_tables(tutor_client: Client, tutor: Any, pending: Any,
                                                           group: Any, series: BookingSeries) -> None:
    services.add_availability(tutor, weekday=0, start_time=dt.time(9), end_time=dt.time(10))
    services.add_time_off(tutor, start=soon(days=5), end=soon(days=6))
    for target in (url("teacher_dashboard"), url("schedule_session"), url("teacher_policy"),
                   url("teacher_availability"), url("session_roster", group.pk)):
        markup = _Markup()
        markup.feed(tutor_client.get(target).content.decode())
        assert markup.fields <= markup.labels, (target, markup.fields - markup.labels)
        assert markup.headers >= markup.tables, target
        assert not markup.empty_buttons, target



def test_zone_names_are_accepted_in_any_case_on_the_policy_and_availability_pages(tutor_client: Client,
                                                                                  tutor: Any) -> None:
    response = tutor_client.post(url("teacher_policy"), policy_data(tutor, timezone=" asia/TOKYO "))
    assert response.status_code == 302
    assert TeacherBookingPolicy.objects.get(teacher=tutor).timezone == "Asia/Tokyo"
    response = tutor_client.post(url("teacher_availability"), window_data(timezone="europe/paris"))
    assert response.status_code == 302
    assert TeacherAvailability.objects.get(teacher=tutor).timezone == "Europe/Paris"
