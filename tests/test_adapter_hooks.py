"""Every permission decision is the adapter's: a host that widens or narrows a hook changes the services and
the pages alike, series and waitlist actions included."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.exceptions import NotAllowed
from django_liveclass_booking.models import BookingSeries, SessionWaitlist, TeacherAvailability, get_booking_model

pytestmark = pytest.mark.django_db


def url(name: str, *args: Any) -> str:
    return reverse(f"liveclass_booking:{name}", args=args)


def soon(days: int = 3, hour: int = 10) -> dt.datetime:
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def _is_assistant(user: Any) -> bool:
    return getattr(user, "username", "") == "assistant"


class AssistantAdapter(DefaultBookingAdapter):
    """A teaching assistant acts for every teacher: decides, cancels, books, keeps calendars, sees rosters."""

    def is_teacher(self, user: Any) -> bool:
        return _is_assistant(user) or super().is_teacher(user)

    def can_book_for(self, actor: Any, student: Any) -> bool:
        return _is_assistant(actor) or super().can_book_for(actor, student)

    def can_decide_booking(self, actor: Any, booking: Any) -> bool:
        return _is_assistant(actor) or super().can_decide_booking(actor, booking)

    def can_cancel_booking(self, actor: Any, booking: Any) -> bool:
        return _is_assistant(actor) or super().can_cancel_booking(actor, booking)

    def can_manage_teacher(self, actor: Any, teacher: Any) -> bool:
        return _is_assistant(actor) or super().can_manage_teacher(actor, teacher)

    def can_act_on_waitlist_entry(self, actor: Any, entry: Any, action: str) -> bool:
        return _is_assistant(actor) or super().can_act_on_waitlist_entry(actor, entry, action)

    def teacher_rows_managed_by(self, user: Any, rows: Any) -> Any:
        return rows if _is_assistant(user) else super().teacher_rows_managed_by(user, rows)

    def bookings_visible_to(self, user: Any, bookings: Any) -> Any:
        return bookings if _is_assistant(user) else super().bookings_visible_to(user, bookings)


class StrictAdapter(DefaultBookingAdapter):
    """Students may not cancel, book for themselves, act on offers or see meeting links; teachers may not
    cancel classes or edit their own calendars (the office does)."""

    def can_book_for(self, actor: Any, student: Any) -> bool:
        return self.is_staff_manager(actor)

    def can_cancel_booking(self, actor: Any, booking: Any) -> bool:
        return actor.pk == booking.teacher_id or self.is_staff_manager(actor)

    def can_act_on_waitlist_entry(self, actor: Any, entry: Any, action: str) -> bool:
        return self.is_staff_manager(actor)

    def can_manage_session(self, actor: Any, session: Any) -> bool:
        return self.is_staff_manager(actor)

    def can_manage_teacher(self, actor: Any, teacher: Any) -> bool:
        return self.is_staff_manager(actor)

    def can_see_meeting_details(self, user: Any, session: Any, booking: Any) -> bool:
        return user.pk == session.teacher_id

    def sessions_visible_to(self, user: Any, sessions: Any) -> Any:
        return sessions.filter(title__startswith="Open")


@pytest.fixture
def assistant_adapter(settings: Any, make_user: Any) -> Any:
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.AssistantAdapter"}
    return make_user("assistant")


@pytest.fixture
def strict_adapter(settings: Any) -> None:
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.StrictAdapter"}


@pytest.fixture
def open_week(teacher: Any) -> None:
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(18),
                                  timezone="UTC")


@pytest.fixture
def pending_series(teacher: Any, student: Any, open_week: None) -> BookingSeries:
    services.set_policy(teacher, approval_mode="manual")
    return services.create_series(student, teacher, first_start=soon(), duration=60,
                                  rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC")


@pytest.fixture
def group(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=soon(), duration=60, capacity=1, title="Open algebra",
                                     timezone="UTC", meeting_url="https://meet.example.org/alg")


def _offered(group: Any, student: Any, other_student: Any) -> SessionWaitlist:
    booking = services.book_seat(other_student, group)
    entry = services.join_waitlist(student, group)
    services.cancel_booking(booking, actor=services.SYSTEM)
    entry.refresh_from_db()
    assert entry.status == "offered"
    return entry


# --- widened hooks: an assistant --------------------------------------------------------------------


def test_whoever_may_decide_bookings_may_decide_the_series(assistant_adapter: Any, pending_series: BookingSeries):
    services.confirm_series(pending_series, actor=assistant_adapter)
    assert set(get_booking_model().objects.values_list("status", flat=True)) == {"confirmed"}


def test_whoever_may_cancel_bookings_may_cancel_the_series(assistant_adapter: Any, pending_series: BookingSeries):
    assert services.cancel_series(pending_series, actor=assistant_adapter) == 3


def test_a_widened_booking_hook_lets_an_assistant_book_for_a_student(assistant_adapter: Any, group: Any,
                                                                      student: Any) -> None:
    booking = services.book_seat(student, group, actor=assistant_adapter)
    assert booking.student_id == student.pk


def test_a_widened_waitlist_hook_lets_an_assistant_accept_an_offer(assistant_adapter: Any, group: Any, student: Any,
                                                                    other_student: Any) -> None:
    entry = _offered(group, student, other_student)
    booking = services.accept_offer(entry, actor=assistant_adapter)
    assert booking.student_id == student.pk


def test_a_widened_calendar_hook_lets_an_assistant_remove_a_window(assistant_adapter: Any, teacher: Any,
                                                                    open_week: None) -> None:
    window = TeacherAvailability.objects.filter(teacher=teacher).first()
    services.remove_availability(window, actor=assistant_adapter)
    assert TeacherAvailability.objects.filter(teacher=teacher).count() == 6


def test_the_assistant_confirms_a_series_on_the_teacher_pages(client: Any, assistant_adapter: Any,
                                                               pending_series: BookingSeries) -> None:
    client.force_login(assistant_adapter)
    response = client.post(url("confirm_series", pending_series.pk))
    assert response.status_code == 302
    assert set(get_booking_model().objects.values_list("status", flat=True)) == {"confirmed"}


def test_the_assistant_sees_the_teachers_requests_and_classes_on_the_dashboard(
        client: Any, assistant_adapter: Any, pending_series: BookingSeries, teacher: Any) -> None:
    group = services.schedule_session(teacher, start=soon() + dt.timedelta(days=2), duration=60, capacity=3)
    client.force_login(assistant_adapter)
    response = client.get(url("teacher_dashboard"))
    assert response.status_code == 200
    assert response.context["pending_series"].get().pk == pending_series.pk
    assert group.pk in {s.pk for s in response.context["upcoming"]}


def test_the_assistant_opens_a_students_booking_page(client: Any, assistant_adapter: Any, group: Any,
                                                      student: Any) -> None:
    booking = services.book_seat(student, group)
    client.force_login(assistant_adapter)
    assert client.get(url("booking_detail", booking.pk)).status_code == 200
    assert client.get(url("session_roster", group.pk)).status_code == 200


# --- narrowed hooks ---------------------------------------------------------------------------------


def test_a_student_who_may_not_cancel_a_booking_may_not_cancel_the_series(strict_adapter: None, teacher: Any,
                                                                           student: Any, open_week: None) -> None:
    series = services.create_series(student, teacher, first_start=soon(), duration=60,
                                    rrule="FREQ=WEEKLY;COUNT=2", timezone="UTC")
    booking = series.items.first().booking
    with pytest.raises(NotAllowed):
        services.cancel_booking(booking, actor=student)
    with pytest.raises(NotAllowed):
        services.cancel_series(series, actor=student)
    assert set(get_booking_model().objects.values_list("status", flat=True)) == {"confirmed"}


def test_a_narrowed_cancel_hook_shows_on_the_page_and_writes_nothing(client: Any, strict_adapter: None, group: Any,
                                                                      make_user: Any) -> None:
    office = make_user("office", is_staff=True, is_superuser=True)
    student = make_user("pupil")
    booking = services.book_seat(student, group, actor=office)
    client.force_login(student)
    response = client.post(url("cancel_booking", booking.pk), {"reason": "ill"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors().as_data()[0].code == "not_allowed"
    assert response.context["booking"].status == "confirmed"
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_a_narrowed_booking_hook_refuses_a_student_booking_for_themselves(strict_adapter: None, group: Any,
                                                                           student: Any, client: Any) -> None:
    with pytest.raises(NotAllowed):
        services.book_seat(student, group)
    client.force_login(student)
    response = client.post(url("book_seat", group.pk))
    assert response.status_code == 200
    assert not get_booking_model().objects.exists()


def test_a_narrowed_waitlist_hook_refuses_the_offer_in_services_and_pages(strict_adapter: None, group: Any,
                                                                           student: Any, other_student: Any,
                                                                           make_user: Any, client: Any) -> None:
    office = make_user("office", is_staff=True, is_superuser=True)
    booking = services.book_seat(other_student, group, actor=office)
    entry = services.join_waitlist(student, group)
    services.cancel_booking(booking, actor=services.SYSTEM)
    entry.refresh_from_db()
    with pytest.raises(NotAllowed):
        services.accept_offer(entry, actor=student)
    client.force_login(student)
    assert client.post(url("accept_offer", entry.pk)).status_code == 404
    entry.refresh_from_db()
    assert entry.status == "offered"


def test_narrowed_session_and_calendar_hooks_refuse_the_teacher(strict_adapter: None, teacher: Any, group: Any,
                                                                 open_week: None) -> None:
    with pytest.raises(NotAllowed):
        services.cancel_session(group, actor=teacher)
    with pytest.raises(NotAllowed):
        services.remove_availability(TeacherAvailability.objects.filter(teacher=teacher).first(), actor=teacher)
    group.refresh_from_db()
    assert group.status == "scheduled"
    assert TeacherAvailability.objects.filter(teacher=teacher).count() == 7


def test_narrowed_visibility_hides_sessions_meeting_links_and_calendar_files(strict_adapter: None, teacher: Any,
                                                                             group: Any, student: Any,
                                                                             make_user: Any, client: Any) -> None:
    hidden = services.schedule_session(teacher, start=soon(days=4), duration=60, capacity=3, title="Closed",
                                       timezone="UTC")
    office = make_user("office", is_staff=True, is_superuser=True)
    booking = services.book_seat(student, group, actor=office)
    client.force_login(student)
    assert client.get(url("session_detail", hidden.pk)).status_code == 404
    assert b"Closed" not in client.get(url("session_list")).content
    page = client.get(url("session_detail", group.pk))
    assert page.status_code == 200
    assert b"meet.example.org" not in page.content
    assert client.get(url("booking_ics", booking.pk)).status_code == 200


def test_narrowed_booking_visibility_hides_the_booking_page_and_its_calendar_file(settings: Any, group: Any,
                                                                                   student: Any, client: Any):
    booking = services.book_seat(student, group)
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.HiddenBookingsAdapter"}
    client.force_login(student)
    assert client.get(url("booking_detail", booking.pk)).status_code == 404
    assert client.get(url("booking_ics", booking.pk)).status_code == 404


class HiddenBookingsAdapter(DefaultBookingAdapter):
    def bookings_visible_to(self, user: Any, bookings: Any) -> Any:
        return bookings.none()


def test_a_narrowed_meeting_hook_keeps_the_link_out_of_calendar_files(settings: Any, teacher: Any, student: Any,
                                                                       client: Any) -> None:
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.NoLinksAdapter"}
    group = services.schedule_session(teacher, start=soon(), duration=60, capacity=3, title="Open algebra",
                                      timezone="UTC", meeting_url="https://meet.example.org/alg",
                                      meeting_passcode="s3cret")
    booking = services.book_seat(student, group)
    client.force_login(student)
    download = client.get(url("booking_ics", booking.pk))
    assert download.status_code == 200
    assert b"meet.example.org" not in download.content and b"s3cret" not in download.content
    token = services.issue_feed_token(student)
    feed = client.get(url("calendar_feed_ics", token))
    assert feed.status_code == 200 and b"BEGIN:VEVENT" in feed.content
    assert b"meet.example.org" not in feed.content and b"s3cret" not in feed.content


class NoLinksAdapter(DefaultBookingAdapter):
    def can_see_meeting_details(self, user: Any, session: Any, booking: Any) -> bool:
        return False


def test_a_narrowed_calendar_hook_refuses_adding_to_a_teachers_calendar(strict_adapter: None, teacher: Any,
                                                                         client: Any) -> None:
    with pytest.raises(NotAllowed):
        services.add_availability(teacher, weekday=0, start_time=dt.time(9), end_time=dt.time(10), actor=teacher)
    with pytest.raises(NotAllowed):
        services.set_policy(teacher, actor=teacher, buffer_minutes=5)
    with pytest.raises(NotAllowed):
        services.add_time_off(teacher, start=soon(), end=soon(days=4), actor=teacher)
    client.force_login(teacher)
    services.set_policy(teacher)  # a policy row makes the teacher pages open to them
    client.post(url("teacher_availability"), {"add": "window", "window-weekday": "0", "window-start_time": "09:00",
                                              "window-end_time": "10:00", "window-timezone": "UTC"})
    assert not TeacherAvailability.objects.exists()


def test_a_widened_calendar_hook_lets_an_assistant_add_a_window(assistant_adapter: Any, teacher: Any) -> None:
    services.add_availability(teacher, weekday=0, start_time=dt.time(9), end_time=dt.time(10), actor=assistant_adapter)
    assert TeacherAvailability.objects.filter(teacher=teacher).count() == 1
