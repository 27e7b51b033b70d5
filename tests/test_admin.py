"""The admin: every page renders, and every change it makes goes through the services."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.admin import LiveClassBookingAdmin, LiveClassSessionAdmin
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import (
    BookingSeries,
    BookingSeriesItem,
    BookingStatus,
    SessionStatus,
    SessionWaitlist,
    TeacherAvailability,
    TeacherBookingPolicy,
    TeacherTimeOff,
    get_booking_model,
    get_session_model,
)

pytestmark = pytest.mark.django_db

SWAPPED = settings.LIVECLASS_BOOKING_SESSION_MODEL != "liveclass_booking.LiveClassSession"
if SWAPPED:
    # What a host's admin.py does; done at import so it precedes the first URLconf load.
    for model, model_admin in ((get_session_model(), LiveClassSessionAdmin),
                               (get_booking_model(), LiveClassBookingAdmin)):
        if not admin.site.is_registered(model):
            admin.site.register(model, model_admin)

Session, Booking = get_session_model(), get_booking_model()


def new_user(username: str, **extra: Any) -> Any:
    return get_user_model().objects.create_user(username=username, email=f"{username}@example.com",
                                                password="pw", **extra)


def in_days(days: int, hour: int = 10) -> dt.datetime:
    day = (timezone.now() + dt.timedelta(days=days)).date()
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def teacher() -> Any:
    return new_user("teacher")


@pytest.fixture
def students() -> list[Any]:
    return [new_user(f"student{i}") for i in range(3)]


@pytest.fixture
def session(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=in_days(3), duration=60, capacity=5, title="Algebra")


@pytest.fixture
def manual_session(teacher: Any) -> Any:
    TeacherBookingPolicy.objects.update_or_create(teacher=teacher, defaults={"approval_mode": "manual"})
    return services.schedule_session(teacher, start=in_days(4), duration=60, capacity=5, title="Geometry")


@pytest.fixture
def everything(teacher: Any, students: list[Any], session: Any) -> dict[str, Any]:
    """One row of every model, so each changelist and change page renders with data."""
    booking = services.book_seat(students[0], session)
    entry = SessionWaitlist.objects.create(session=session, student=students[1], position=1)
    series = BookingSeries.objects.create(
        student=students[2], teacher=teacher, rrule="FREQ=WEEKLY;COUNT=2", first_start_date=in_days(5).date(),
        first_start_time=dt.time(9), timezone="UTC", duration_minutes=30,
    )
    BookingSeriesItem.objects.create(series=series, index=0, start_at_utc=in_days(5, 9),
                                     end_at_utc=in_days(5, 9) + dt.timedelta(minutes=30), status="skipped")
    return {
        "session": session,
        "booking": booking,
        "policy": TeacherBookingPolicy.objects.get(teacher=teacher),
        "availability": TeacherAvailability.objects.create(teacher=teacher, weekday=0, start_time=dt.time(9),
                                                           end_time=dt.time(12), timezone="Europe/London"),
        "time_off": TeacherTimeOff.objects.create(teacher=teacher, start_at_utc=in_days(10),
                                                  end_at_utc=in_days(12), reason="Holiday"),
        "series": series,
        "waitlist": entry,
    }


def url(obj_or_model: Any, view: str, *args: Any) -> str:
    opts = obj_or_model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def post_action(client: Any, model: Any, action: str, objs: list[Any], **extra: str) -> Any:
    data = {"action": action, "_selected_action": [o.pk for o in objs], "index": 0, **extra}
    return client.post(url(model, "changelist"), data, follow=True)


def texts(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("name", ["session", "booking", "policy", "availability", "time_off", "series", "waitlist"])
def test_changelist_and_change_page_render(admin_client: Any, everything: dict[str, Any], name: str) -> None:
    obj = everything[name]
    changelist = admin_client.get(url(obj, "changelist"))
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count == 1
    change = admin_client.get(url(obj, "change", obj.pk))
    assert change.status_code == 200


def test_changelist_search_and_filters_render(admin_client: Any, everything: dict[str, Any]) -> None:
    for name in ("session", "booking", "policy", "availability", "time_off", "series", "waitlist"):
        response = admin_client.get(url(everything[name], "changelist"), {"q": "teacher"})
        assert response.status_code == 200, name
    response = admin_client.get(url(Booking, "changelist"), {"status__exact": "confirmed"})
    assert response.context["cl"].result_count == 1


def test_session_change_page_lists_bookings_and_waitlist(admin_client: Any, everything: dict[str, Any]) -> None:
    response = admin_client.get(url(everything["session"], "change", everything["session"].pk))
    content = response.content.decode()
    assert "student0" in content and "student1" in content
    # Time, capacity and teacher are shown, not editable, on an existing session.
    form_fields = response.context["adminform"].form.fields
    host_fields = {"subject"} if SWAPPED else set()  # the swapped test model's own field stays editable
    assert set(form_fields) == {"title", "meeting_provider", "meeting_url", "meeting_passcode", *host_fields}


def test_booking_changelist_query_count_does_not_grow_with_rows(
    admin_client: Any, session: Any, students: list[Any]
) -> None:
    services.book_seat(students[0], session)
    with CaptureQueriesContext(connection) as one:
        admin_client.get(url(Booking, "changelist"))
    for student in students[1:]:
        services.book_seat(student, session)
    with CaptureQueriesContext(connection) as three:
        admin_client.get(url(Booking, "changelist"))
    assert len(three) == len(one)


def test_session_changelist_query_count_does_not_grow_with_rows(admin_client: Any, teacher: Any) -> None:
    services.schedule_session(teacher, start=in_days(3), duration=60, capacity=5)
    with CaptureQueriesContext(connection) as one:
        admin_client.get(url(Session, "changelist"))
    other = new_user("teacher2")
    for day in (4, 5):
        services.schedule_session(other, start=in_days(day), duration=60, capacity=5)
    with CaptureQueriesContext(connection) as three:
        admin_client.get(url(Session, "changelist"))
    assert len(three) == len(one)


def test_confirm_action_goes_through_the_service(
    admin_client: Any, manual_session: Any, students: list[Any]
) -> None:
    pending = [services.book_seat(s, manual_session) for s in students[:2]]
    assert {b.status for b in pending} == {BookingStatus.PENDING}
    response = post_action(admin_client, Booking, "confirm_bookings", pending)
    assert response.status_code == 200
    assert "Confirmed 2 bookings." in texts(response)
    for booking in pending:
        booking.refresh_from_db()
        assert booking.status == BookingStatus.CONFIRMED
        assert booking.decided_by == response.wsgi_request.user


def test_decline_action_frees_the_seat_and_keeps_the_reason(
    admin_client: Any, manual_session: Any, students: list[Any]
) -> None:
    booking = services.book_seat(students[0], manual_session)
    manual_session.refresh_from_db()
    assert manual_session.seats_taken == 1
    response = post_action(admin_client, Booking, "decline_bookings", [booking], reason="Class is full")
    assert "Declined 1 booking." in texts(response)
    booking.refresh_from_db()
    manual_session.refresh_from_db()
    assert (booking.status, booking.reason) == (BookingStatus.DECLINED, "Class is full")
    assert manual_session.seats_taken == 0


def test_cancel_action_releases_seats(admin_client: Any, session: Any, students: list[Any]) -> None:
    bookings = [services.book_seat(s, session) for s in students]
    session.refresh_from_db()
    assert session.seats_taken == 3
    response = post_action(admin_client, Booking, "cancel_bookings", bookings[:2])
    assert "Cancelled 2 bookings." in texts(response)
    session.refresh_from_db()
    assert session.seats_taken == 1
    statuses = sorted(Booking.objects.values_list("status", flat=True))
    assert statuses == [BookingStatus.CANCELLED, BookingStatus.CANCELLED, BookingStatus.CONFIRMED]


def test_refused_row_is_reported_and_the_others_still_run(
    admin_client: Any, manual_session: Any, students: list[Any]
) -> None:
    cancelled = services.book_seat(students[0], manual_session)
    services.cancel_booking(cancelled, actor=students[0])
    pending = services.book_seat(students[1], manual_session)
    before = Booking.objects.get(pk=cancelled.pk)

    response = post_action(admin_client, Booking, "confirm_bookings", [cancelled, pending])

    messages = texts(response)
    assert "Confirmed 1 booking." in messages
    errors = [m for m in messages if "invalid_transition" in m]
    assert len(errors) == 1 and f"Booking #{cancelled.pk}" in errors[0]
    after = Booking.objects.get(pk=cancelled.pk)
    assert (after.status, after.status_changed, after.decided_by_id) == (
        BookingStatus.CANCELLED, before.status_changed, None
    )
    pending.refresh_from_db()
    assert pending.status == BookingStatus.CONFIRMED


def test_cancel_sessions_action(admin_client: Any, session: Any, teacher: Any, students: list[Any]) -> None:
    booking = services.book_seat(students[0], session)
    other = services.schedule_session(teacher, start=in_days(6), duration=30, capacity=2)
    services.cancel_session(other, actor=teacher)

    response = post_action(admin_client, Session, "cancel_sessions", [session, other], reason="Ill")

    messages = texts(response)
    assert "Cancelled 1 session." in messages
    assert any("invalid_transition" in m for m in messages)
    session.refresh_from_db()
    booking.refresh_from_db()
    assert (session.status, session.seats_taken, session.cancellation_reason) == (SessionStatus.CANCELLED, 0, "Ill")
    assert booking.status == BookingStatus.CANCELLED


def add_form_data(teacher: Any, start: dt.datetime, **overrides: Any) -> dict[str, Any]:
    data = {
        "teacher": teacher.pk, "title": "Physics", "start_0": start.strftime("%Y-%m-%d"),
        "start_1": start.strftime("%H:%M:%S"), "timezone": "Europe/Paris", "duration_minutes": 90,
        "capacity": 8, "meeting_provider": "zoom", "meeting_url": "https://example.com/m/1", "meeting_passcode": "",
    }
    return {**data, **overrides}


def test_add_session_through_the_service(admin_client: Any, teacher: Any) -> None:
    start = in_days(7, hour=18)
    response = admin_client.post(url(Session, "add"), add_form_data(teacher, start))
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = Session.objects.get()
    paris = start.replace(tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    assert created.start_at_utc == paris
    assert created.end_at_utc == paris + dt.timedelta(minutes=90)
    assert (created.title, created.capacity, created.seats_taken, created.timezone_snapshot) == (
        "Physics", 8, 0, "Europe/Paris"
    )
    assert created.meeting_url == "https://example.com/m/1"


def test_add_form_renders(admin_client: Any) -> None:
    response = admin_client.get(url(Session, "add"))
    assert response.status_code == 200
    assert {"start", "timezone", "teacher", "capacity"} <= set(response.context["adminform"].form.fields)


def test_overlapping_session_shows_the_service_error_and_writes_nothing(
    admin_client: Any, teacher: Any, session: Any
) -> None:
    start = session.start_at_utc + dt.timedelta(minutes=30)
    data = add_form_data(teacher, start, timezone="UTC")
    response = admin_client.post(url(Session, "add"), data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "The teacher already has a session at that time." in form.non_field_errors()
    assert "The teacher already has a session at that time." in response.content.decode()
    assert Session.objects.count() == 1


def test_session_in_the_past_is_refused_by_the_service(admin_client: Any, teacher: Any) -> None:
    data = add_form_data(teacher, timezone.now() - dt.timedelta(days=1), timezone="UTC")
    response = admin_client.post(url(Session, "add"), data)
    assert "A session cannot start in the past." in response.context["adminform"].form.non_field_errors()
    assert not Session.objects.exists()


def test_add_form_validates_the_timezone(admin_client: Any, teacher: Any) -> None:
    response = admin_client.post(url(Session, "add"), add_form_data(teacher, in_days(8), timezone="Mars/Base"))
    assert "timezone" in response.context["adminform"].form.errors
    assert not Session.objects.exists()


def test_add_form_refuses_a_time_skipped_by_dst(admin_client: Any, teacher: Any) -> None:
    march_31 = dt.date(timezone.now().year + 1, 3, 31)
    last_sunday = march_31 - dt.timedelta(days=(march_31.weekday() + 1) % 7)
    skipped = dt.datetime.combine(last_sunday, dt.time(2, 30))
    response = admin_client.post(url(Session, "add"), add_form_data(teacher, skipped))
    assert "start" in response.context["adminform"].form.errors
    assert not Session.objects.exists()


def inline_management_data(session: Any) -> dict[str, Any]:
    data = {}
    for prefix, count in (("bookings", session.bookings.count()), ("waitlist_entries", 0)):
        data.update({f"{prefix}-TOTAL_FORMS": count, f"{prefix}-INITIAL_FORMS": count,
                     f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000})
    return data


def test_change_session_edits_only_title_and_meeting(admin_client: Any, session: Any) -> None:
    original = (session.start_at_utc, session.capacity, session.teacher_id)
    data = {"title": "Algebra II", "meeting_provider": "meet", "meeting_url": "https://example.com/x",
            "meeting_passcode": "1234", "capacity": 99, "start_at_utc_0": "2000-01-01", "start_at_utc_1": "10:00",
            **inline_management_data(session)}
    response = admin_client.post(url(session, "change", session.pk), data)
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.title == "Algebra II" and session.meeting_passcode == "1234"
    assert (session.start_at_utc, session.capacity, session.teacher_id) == original


def test_booking_admin_has_no_add_or_delete(admin_client: Any, everything: dict[str, Any]) -> None:
    model_admin = admin.site._registry[Booking]
    request = admin_client.get(url(Booking, "changelist")).wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_delete_permission(request, everything["booking"])
    assert admin_client.get(url(Booking, "add")).status_code == 403


def test_policy_admin_validates_timezone_and_durations(admin_client: Any, teacher: Any) -> None:
    data = {"teacher": teacher.pk, "timezone": "Nowhere/Special", "approval_mode": "auto", "min_notice_minutes": 0,
            "request_ttl_hours": 48, "cancellation_cutoff_hours": 0, "buffer_minutes": 0,
            "lesson_durations": "[30, -5]", "waitlist_offer_ttl_minutes": 60}
    response = admin_client.post(url(TeacherBookingPolicy, "add"), data)
    assert {"timezone", "lesson_durations"} <= set(response.context["adminform"].form.errors)
    assert not TeacherBookingPolicy.objects.exists()

    data.update(timezone="America/New_York", lesson_durations="[30, 60]")
    assert admin_client.post(url(TeacherBookingPolicy, "add"), data).status_code == 302
    policy = TeacherBookingPolicy.objects.get()
    assert (policy.timezone, policy.lesson_durations) == ("America/New_York", [30, 60])


def test_the_active_models_are_registered_with_the_exported_classes() -> None:
    assert isinstance(admin.site._registry[Session], LiveClassSessionAdmin)
    assert isinstance(admin.site._registry[Booking], LiveClassBookingAdmin)


@pytest.mark.swapped
def test_swapped_models_use_the_exported_admin_classes(admin_client: Any, teacher: Any, students: list[Any]) -> None:
    Session, Booking = get_session_model(), get_booking_model()
    start = in_days(5, hour=9)
    data = add_form_data(teacher, start, timezone="UTC", subject="Chemistry")
    response = admin_client.post(url(Session, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    session = Session.objects.get()
    assert (session.subject, session.start_at_utc) == ("Chemistry", start)

    booking = services.book_seat(students[0], session)
    assert admin_client.get(url(Session, "changelist")).status_code == 200
    assert "student0" in admin_client.get(url(Session, "change", session.pk)).content.decode()
    change = admin_client.get(url(Booking, "change", booking.pk))
    assert "paid" in change.context["adminform"].form.fields

    response = post_action(admin_client, Booking, "cancel_bookings", [booking])
    assert "Cancelled 1 booking." in texts(response)
    session.refresh_from_db()
    assert session.seats_taken == 0


def test_a_session_with_bookings_cannot_be_deleted(admin_client: Any, everything: dict[str, Any]) -> None:
    session = everything["session"]
    response = admin_client.post(url(session, "delete", session.pk), {"post": "yes"})
    assert response.status_code == 403
    assert Session.objects.filter(pk=session.pk).exists()


def test_feed_tokens_are_listed_and_revoked_through_the_service(admin_client: Any, student: Any,
                                                                other_student: Any) -> None:
    from django_liveclass_booking.models import CalendarFeedToken

    services.issue_feed_token(student)
    services.issue_feed_token(other_student)
    listing = admin_client.get(url(CalendarFeedToken, "changelist"))
    assert listing.status_code == 200 and "token_hash" not in listing.content.decode()
    chosen = list(CalendarFeedToken.objects.filter(user=student))
    response = post_action(admin_client, CalendarFeedToken, "revoke", chosen)
    assert texts(response) == ["1 token revoked."]
    assert not CalendarFeedToken.objects.live().filter(user=student).exists()
    assert CalendarFeedToken.objects.live().filter(user=other_student).count() == 1


# --- a teacher's settings go through the services -------------------------------------------------


POLICY_FORM = {"timezone": "UTC", "approval_mode": "auto", "min_notice_minutes": 0, "request_ttl_hours": 48,
               "cancellation_cutoff_hours": 0, "buffer_minutes": 0, "lesson_durations": "[]",
               "waitlist_offer_ttl_minutes": 60, "waitlist_enabled": "on", "allow_recurring": "on",
               "allow_late_cancellation": "on"}


@pytest.fixture
def service_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """Records each call of the teacher services, which still do their work."""
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        real = getattr(services, name)

        def record(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, args, kwargs))
            return real(*args, **kwargs)

        return record

    for name in ("set_policy", "add_availability", "add_time_off", "remove_availability", "remove_time_off"):
        monkeypatch.setattr(services, name, recorder(name))
    return calls


def form_errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, response.status_code
    return dict(response.context["adminform"].form.errors)


@pytest.mark.parametrize("durations", ["[99999999999]", "[0]", "[30, 30]", "[30.5]", '["30"]', "30", "{}"])
def test_a_bad_lesson_length_in_the_policy_admin_is_a_form_error_and_nothing_is_written(
    admin_client: Any, teacher: Any, durations: str
) -> None:
    response = admin_client.post(url(TeacherBookingPolicy, "add"),
                                 {**POLICY_FORM, "teacher": teacher.pk, "lesson_durations": durations})
    assert "lesson_durations" in form_errors(response)
    assert not TeacherBookingPolicy.objects.exists()

    policy = services.set_policy(teacher, lesson_durations=[30])
    response = admin_client.post(url(policy, "change", policy.pk), {**POLICY_FORM, "lesson_durations": durations})
    assert "lesson_durations" in form_errors(response)
    stored = TeacherBookingPolicy.objects.get()
    assert (stored.lesson_durations, stored.modified) == ([30], policy.modified)


def test_a_new_policy_is_saved_by_set_policy_with_every_value_of_the_form(
    admin_client: Any, teacher: Any, service_calls: list[Any]
) -> None:
    data = {**POLICY_FORM, "teacher": teacher.pk, "approval_mode": "manual", "lesson_durations": "[45, 30]",
            "max_advance_days": "30"}
    response = admin_client.post(url(TeacherBookingPolicy, "add"), data, follow=True)
    assert any("was added successfully" in text for text in texts(response))
    [(name, args, fields)] = service_calls
    assert (name, args) == ("set_policy", (teacher,))
    assert (fields["approval_mode"], fields["lesson_durations"], fields["max_advance_days"]) == ("manual", [45, 30], 30)
    policy = TeacherBookingPolicy.objects.get(teacher=teacher)
    assert (policy.approval_mode, policy.lesson_durations, policy.max_advance_days) == ("manual", [45, 30], 30)


def test_a_changed_policy_passes_only_the_changed_fields_to_set_policy(
    admin_client: Any, admin_user: Any, teacher: Any, service_calls: list[Any]
) -> None:
    policy = services.set_policy(teacher, buffer_minutes=10, lesson_durations=[30])
    service_calls.clear()
    data = {**POLICY_FORM, "buffer_minutes": 10, "approval_mode": "manual", "lesson_durations": ""}
    response = admin_client.post(url(policy, "change", policy.pk), data)
    assert response.status_code == 302, form_errors(response)
    assert service_calls == [("set_policy", (teacher,),
                              {"actor": admin_user, "approval_mode": "manual", "lesson_durations": []})]
    policy.refresh_from_db()
    assert (policy.approval_mode, policy.lesson_durations, policy.buffer_minutes) == ("manual", [], 10)


def test_a_refusal_of_set_policy_is_a_form_error_not_a_saved_message(
    admin_client: Any, teacher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusal = BookingError("Not that buffer.", code="invalid_policy", params={"fields": ["buffer_minutes"]})

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise refusal

    monkeypatch.setattr(services, "set_policy", refuse)
    response = admin_client.post(url(TeacherBookingPolicy, "add"), {**POLICY_FORM, "teacher": teacher.pk},
                                 follow=True)
    # The field the refusal names shows the message a person reads for its code, from the registry.
    assert form_errors(response) == {"buffer_minutes": [refusal.message]}
    assert "buffer_minutes" in refusal.message
    assert not any("success" in text for text in texts(response))
    assert not TeacherBookingPolicy.objects.exists()


def test_a_policy_keeps_its_teacher(admin_client: Any, teacher: Any, students: list[Any]) -> None:
    policy = services.set_policy(teacher, buffer_minutes=5)
    response = admin_client.post(url(policy, "change", policy.pk),
                                 {**POLICY_FORM, "teacher": students[0].pk, "buffer_minutes": 5})
    assert response.status_code == 302
    assert TeacherBookingPolicy.objects.get().teacher == teacher


def window_form(teacher: Any, **changes: Any) -> dict[str, Any]:
    return {"teacher": teacher.pk, "weekday": 2, "start_time": "09:00", "end_time": "12:00", "timezone": "",
            **changes}


def test_a_window_is_added_by_the_service_in_the_policy_timezone(
    admin_client: Any, teacher: Any, service_calls: list[Any]
) -> None:
    services.set_policy(teacher, timezone="Asia/Tokyo")
    service_calls.clear()
    response = admin_client.post(url(TeacherAvailability, "add"), window_form(teacher), follow=True)
    assert any("was added successfully" in text for text in texts(response))
    assert [name for name, _, _ in service_calls] == ["add_availability"]
    window = TeacherAvailability.objects.get()
    assert (window.weekday, window.start_time, window.timezone) == (2, dt.time(9), "Asia/Tokyo")


@pytest.mark.parametrize(("changes", "field"), [
    ({"end_time": "08:00"}, None),
    ({"timezone": "Nowhere/City"}, "timezone"),
])
def test_a_refused_window_is_a_form_error_and_nothing_is_written(admin_client: Any, teacher: Any,
                                                                 changes: dict[str, Any], field: str | None) -> None:
    response = admin_client.post(url(TeacherAvailability, "add"), window_form(teacher, **changes))
    errors = form_errors(response)
    assert errors[field] if field else errors
    assert not TeacherAvailability.objects.exists()


def time_off_form(teacher: Any, start: dt.datetime, end: dt.datetime, reason: str = "") -> dict[str, Any]:
    return {"teacher": teacher.pk, "start_at_utc_0": start.date().isoformat(), "start_at_utc_1": "10:00",
            "end_at_utc_0": end.date().isoformat(), "end_at_utc_1": "10:00", "reason": reason}


def test_time_off_is_added_by_the_service(admin_client: Any, teacher: Any, service_calls: list[Any]) -> None:
    response = admin_client.post(url(TeacherTimeOff, "add"),
                                 time_off_form(teacher, in_days(3), in_days(5), "Conference; Zürich"))
    assert response.status_code == 302, form_errors(response)
    [(name, args, kwargs)] = service_calls
    assert (name, args, kwargs["start"], kwargs["reason"]) == ("add_time_off", (teacher,), in_days(3),
                                                                "Conference; Zürich")
    assert TeacherTimeOff.objects.get().end_at_utc == in_days(5)


@pytest.mark.parametrize(("days", "reason", "field"), [
    ((5, 3), "", None),
    ((3, 5), "On\x00leave", "reason"),
])
def test_refused_time_off_is_a_form_error_and_nothing_is_written(admin_client: Any, teacher: Any,
                                                                 days: tuple[int, int], reason: str,
                                                                 field: str | None) -> None:
    response = admin_client.post(url(TeacherTimeOff, "add"),
                                 time_off_form(teacher, in_days(days[0]), in_days(days[1]), reason))
    errors = form_errors(response)
    assert errors[field] if field else errors
    assert not TeacherTimeOff.objects.exists()


@pytest.fixture
def settings_rows(teacher: Any) -> tuple[Any, Any]:
    window = services.add_availability(teacher, weekday=0, start_time=dt.time(9), end_time=dt.time(12))
    time_off = services.add_time_off(teacher, start=in_days(3), end=in_days(4))
    return window, time_off


def test_windows_and_time_off_are_shown_read_only(admin_client: Any, settings_rows: tuple[Any, Any]) -> None:
    for row in settings_rows:
        page = admin_client.get(url(row, "change", row.pk))
        assert page.status_code == 200 and not page.context["has_change_permission"]
        assert admin_client.post(url(row, "change", row.pk), {"reason": "changed"}).status_code == 403


def test_windows_and_time_off_are_deleted_by_the_services_as_the_admin_user(
    admin_client: Any, settings_rows: tuple[Any, Any], service_calls: list[Any]
) -> None:
    window, time_off = settings_rows
    assert admin_client.post(url(window, "delete", window.pk), {"post": "yes"}).status_code == 302
    response = post_action(admin_client, TeacherTimeOff, "delete_selected", [time_off], post="yes")
    assert response.status_code == 200
    user = response.wsgi_request.user
    assert [(name, args, kwargs) for name, args, kwargs in service_calls] == [
        ("remove_availability", (window,), {"actor": user}), ("remove_time_off", (time_off,), {"actor": user}),
    ]
    assert not TeacherAvailability.objects.exists() and not TeacherTimeOff.objects.exists()


def test_staff_without_the_manager_permission_delete_only_their_own_windows(
    client: Any, teacher: Any, settings_rows: tuple[Any, Any]
) -> None:
    from django.contrib.auth.models import Permission

    staff = new_user("staff", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=[
        "view_teacheravailability", "delete_teacheravailability"]))
    own = services.add_availability(staff, weekday=1, start_time=dt.time(9), end_time=dt.time(12))
    window, _ = settings_rows
    client.force_login(staff)
    assert client.post(url(window, "delete", window.pk), {"post": "yes"}).status_code == 403
    assert post_action(client, TeacherAvailability, "delete_selected", [window, own], post="yes").status_code == 403
    assert TeacherAvailability.objects.count() == 2
    assert client.post(url(own, "delete", own.pk), {"post": "yes"}).status_code == 302
    assert list(TeacherAvailability.objects.all()) == [window]


class AssistantAdapter(DefaultBookingAdapter):
    """A host whose assistants keep the calendar of the teacher they assist."""

    def can_manage_teacher(self, actor: Any, teacher: Any) -> bool:
        assisted = getattr(teacher, "pk", teacher)
        return super().can_manage_teacher(actor, teacher) or actor.username == f"assistant-{assisted}"


@override_settings(LIVECLASS_BOOKING={"ADAPTER": "tests.test_admin.AssistantAdapter"})
def test_the_admin_offers_the_deletions_the_adapter_allows(
    client: Any, teacher: Any, settings_rows: tuple[Any, Any]
) -> None:
    from django.contrib.auth.models import Permission

    assistant = new_user(f"assistant-{teacher.pk}", is_staff=True)
    assistant.user_permissions.add(*Permission.objects.filter(codename__in=[
        "view_teacheravailability", "delete_teacheravailability"]))
    window, _ = settings_rows
    client.force_login(assistant)
    assert client.post(url(window, "delete", window.pk), {"post": "yes"}).status_code == 302
    assert not TeacherAvailability.objects.exists()


def test_a_bookings_external_reference_is_read_only(admin_client: Any, everything: dict[str, Any]) -> None:
    booking = everything["booking"]
    Booking.objects.filter(pk=booking.pk).update(external_ref="legacy-1")
    page = admin_client.get(url(booking, "change", booking.pk))
    assert "external_ref" not in page.context["adminform"].form.fields
    admin_client.post(url(booking, "change", booking.pk), {"external_ref": "changed"})
    booking.refresh_from_db()
    assert booking.external_ref == "legacy-1"
