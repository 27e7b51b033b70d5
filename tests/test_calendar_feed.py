"""Calendar feeds: tokens (issue, rotate, revoke, hashed at rest), the feed, and one booking's .ics.

The views read the adapter's real clock, so sessions here are scheduled relative to
``timezone.now()``, not the fixed ``now`` fixture.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import icalendar
import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking import ics, services
from django_liveclass_booking.models import BookingStatus, CalendarFeedToken, get_booking_model
from django_liveclass_booking.services.calendar import feed_user

from .threads import run_at_once

pytestmark = pytest.mark.django_db

_slots = itertools.count(1)


def future(hours: int | None = None) -> dt.datetime:
    """A start time in the future by the real clock, on the hour, each call two hours after the last."""
    base = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=2)
    return base + dt.timedelta(hours=2 * next(_slots) if hours is None else hours)


def schedule(teacher, *, start: dt.datetime | None = None, **kwargs):
    fields = {"duration": 60, "capacity": 5, "title": "Algebra", "timezone": "Europe/London", **kwargs}
    return services.schedule_session(teacher, start=start or future(), **fields)


def feed_url(token: str) -> str:
    return reverse("liveclass_booking:calendar_feed_ics", args=[token])


def get_feed(client: Client, token: str):
    response = client.get(feed_url(token))
    assert response.status_code == 200, response.status_code
    return response


def events(body: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture
def logged_in(client: Client):
    def login(user) -> Client:
        client.force_login(user)
        return client

    return login


# --- tokens ---------------------------------------------------------------------------------------


def test_token_has_at_least_128_bits_and_differs_per_issue(student):
    first = services.issue_feed_token(student)
    second = services.issue_feed_token(student)
    for token in (first, second):
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 16
    assert first != second


def test_db_stores_only_the_sha256_of_the_token(student):
    token = services.issue_feed_token(student)
    row = CalendarFeedToken.objects.get(user=student, revoked_at__isnull=True)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(value) for value in CalendarFeedToken.objects.values_list(
        "token_hash", "created", "modified", "revoked_at", "last_used_at", "user_id", "live_key").get()]
    assert all(token not in value for value in stored)


def test_issuing_again_revokes_the_previous_token(student):
    old = services.issue_feed_token(student)
    new = services.issue_feed_token(student)
    assert feed_user(old) is None
    assert feed_user(new) == student
    assert CalendarFeedToken.objects.filter(user=student).count() == 2
    assert CalendarFeedToken.objects.live().filter(user=student).count() == 1


def test_revoke_counts_and_is_idempotent(student, other_student):
    assert services.revoke_feed_token(student) == 0
    token = services.issue_feed_token(student)
    other = services.issue_feed_token(other_student)
    assert services.revoke_feed_token(student) == 1
    assert services.revoke_feed_token(student) == 0
    assert feed_user(token) is None
    assert feed_user(other) == other_student  # revoking one user's token leaves others alone


def test_database_refuses_two_live_tokens_for_one_user(student):
    CalendarFeedToken.objects.create(user=student, token_hash="a" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarFeedToken.objects.create(user=student, token_hash="b" * 64)
    # Revoked rows do not count.
    CalendarFeedToken.objects.filter(user=student).update(revoked_at=timezone.now())
    CalendarFeedToken.objects.create(user=student, token_hash="c" * 64)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_leave_exactly_one_live_token(student):
    results = run_at_once(lambda _: services.issue_feed_token(student), range(8))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 8
    (live,) = CalendarFeedToken.objects.live().filter(user=student)
    assert [token for token in results if feed_user(token) is not None] == [
        token for token in results if hashlib.sha256(token.encode()).hexdigest() == live.token_hash
    ]
    assert CalendarFeedToken.objects.filter(user=student).count() == 8


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * 5000])
def test_feed_user_refuses_unknown_tokens(student, token):
    services.issue_feed_token(student)
    assert feed_user(token) is None


def test_inactive_user_gets_no_feed(student):
    token = services.issue_feed_token(student)
    student.is_active = False
    student.save()
    assert feed_user(token) is None


def test_last_used_at_is_written_at_most_once_an_hour(student, django_assert_num_queries):
    token = services.issue_feed_token(student)
    start = timezone.now()
    with django_assert_num_queries(2):  # lookup + first use recorded
        feed_user(token, now=start)
    with django_assert_num_queries(1):  # lookup only
        feed_user(token, now=start + dt.timedelta(minutes=59))
    assert CalendarFeedToken.objects.get().last_used_at == start
    feed_user(token, now=start + dt.timedelta(minutes=61))
    assert CalendarFeedToken.objects.get().last_used_at == start + dt.timedelta(minutes=61)


# --- the feed -------------------------------------------------------------------------------------


def test_feed_lists_confirmed_bookings_in_utc(client, teacher, student):
    session = schedule(teacher, title="Algebra II", meeting_url="https://meet.example/abc", meeting_passcode="9876")
    booking = services.book_seat(student, session)
    assert booking.status == BookingStatus.CONFIRMED
    token = services.issue_feed_token(student)

    response = get_feed(client, token)

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in response["Cache-Control"]
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["PRODID"]) == "-//django-liveclass-booking//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert "X-WR-CALNAME" in calendar
    found = events(response.content)
    event = found[f"booking-{booking.pk}@liveclass-booking"]
    for name, expected in (("DTSTART", booking.start_at_utc), ("DTEND", booking.end_at_utc)):
        value = event[name].dt
        assert value.utcoffset() == dt.timedelta(0)
        assert value == expected
        assert re.search(rf"^{name}:\d{{8}}T\d{{6}}Z\r?$", response.content.decode(), re.MULTILINE)
    assert str(event["SUMMARY"]) == "Algebra II"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == "https://meet.example/abc"
    assert "9876" in str(event["DESCRIPTION"])
    assert "DTSTAMP" in event


def test_every_event_time_in_the_raw_feed_is_utc(client, teacher, student, make_user):
    services.book_seat(student, schedule(teacher))
    services.book_seat(student, schedule(make_user(), title="Chemistry"))
    token = services.issue_feed_token(student)
    body = get_feed(client, token).content.decode()
    lines = [line for line in body.splitlines() if line.startswith(("DTSTART", "DTEND"))]
    assert len(lines) == 4
    assert all(re.fullmatch(r"DT(START|END):\d{8}T\d{6}Z", line) for line in lines), lines


def test_only_confirmed_bookings_are_in_the_feed(client, teacher, student, other_student, set_policy, make_user):
    confirmed = services.book_seat(student, schedule(teacher, title="Confirmed one"))
    cancelled = services.book_seat(student, schedule(teacher, title="Cancelled one"))
    services.cancel_booking(cancelled, actor=student)
    set_policy(approval_mode="manual")
    pending = services.book_seat(student, schedule(teacher, title="Pending one"))
    assert pending.status == BookingStatus.PENDING
    dropped_session = schedule(teacher, title="Session cancelled")
    dropped = services.book_seat(student, dropped_session)
    services.cancel_session(dropped_session, actor=teacher)
    someone_elses = services.book_seat(other_student, schedule(make_user(), title="Not mine"))
    token = services.issue_feed_token(student)

    uids = set(events(get_feed(client, token).content))

    assert uids == {f"booking-{confirmed.pk}@liveclass-booking"}
    for booking in (cancelled, pending, dropped, someone_elses):
        assert f"booking-{booking.pk}@liveclass-booking" not in uids


def test_pending_booking_is_not_in_the_feed(client, teacher, student, set_policy):
    set_policy(approval_mode="manual")
    services.book_seat(student, schedule(teacher))
    token = services.issue_feed_token(student)
    assert events(get_feed(client, token).content) == {}


def test_teachers_feed_contains_their_sessions(client, teacher, student, make_user):
    taught = schedule(teacher, title="My class", meeting_url="https://meet.example/t", meeting_passcode="pass-1")
    cancelled = schedule(teacher, title="Dropped")
    services.cancel_session(cancelled, actor=teacher)
    schedule(make_user(), title="Someone else's class")
    services.book_seat(student, taught)
    token = services.issue_feed_token(teacher)

    found = events(get_feed(client, token).content)

    assert set(found) == {f"session-{taught.pk}@liveclass-booking"}
    event = found[f"session-{taught.pk}@liveclass-booking"]
    assert str(event["SUMMARY"]) == "My class"
    assert event["DTSTART"].dt == taught.start_at_utc
    assert event["DTEND"].dt == taught.end_at_utc
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == "https://meet.example/t"
    assert "pass-1" in str(event["DESCRIPTION"])
    assert "1 of 5" in str(event["DESCRIPTION"])


def test_teachers_feed_shows_lessons_with_the_student(client, teacher, student, other_student, set_policy, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    confirmed = services.request_lesson(student, teacher, start=future(), duration=45)
    set_policy(approval_mode="manual")
    requested = services.request_lesson(other_student, teacher, start=future(), duration=45)
    assert requested.status == BookingStatus.PENDING
    token = services.issue_feed_token(teacher)

    found = events(get_feed(client, token).content)

    lesson = found[f"session-{confirmed.session_id}@liveclass-booking"]
    assert str(lesson["SUMMARY"]) == f"1:1 lesson with {student.get_username()}"
    assert str(lesson["STATUS"]) == "CONFIRMED"
    request = found[f"session-{requested.session_id}@liveclass-booking"]
    assert str(request["STATUS"]) == "TENTATIVE"
    # The student's side: a confirmed 1:1 lesson names the teacher.
    student_events = events(get_feed(client, services.issue_feed_token(student)).content)
    assert str(student_events[f"booking-{confirmed.pk}@liveclass-booking"]["SUMMARY"]) == (
        f"1:1 lesson with {teacher.get_username()}"
    )


def test_uids_are_stable_across_fetches(client, teacher, student):
    services.book_seat(student, schedule(teacher))
    token = services.issue_feed_token(student)
    assert set(events(get_feed(client, token).content)) == set(events(get_feed(client, token).content))


def test_unknown_token_is_404(client, student):
    services.issue_feed_token(student)
    assert client.get(feed_url("not-a-real-token")).status_code == 404


def test_revoked_token_is_404(client, student):
    token = services.issue_feed_token(student)
    get_feed(client, token)
    services.revoke_feed_token(student)
    assert client.get(feed_url(token)).status_code == 404


def test_regenerated_token_makes_the_old_one_404(client, student):
    old = services.issue_feed_token(student)
    new = services.issue_feed_token(student)
    assert client.get(feed_url(old)).status_code == 404
    get_feed(client, new)


def test_feed_needs_no_login_and_ignores_who_is_logged_in(logged_in, teacher, student, other_student):
    booking = services.book_seat(student, schedule(teacher))
    token = services.issue_feed_token(student)
    client = logged_in(other_student)
    assert f"booking-{booking.pk}@liveclass-booking" in events(get_feed(client, token).content)


def test_feed_query_count_does_not_grow_with_events(client, student, make_user, settings,
                                                    django_assert_max_num_queries):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    for _ in range(6):
        services.book_seat(student, schedule(make_user()))
    # The student also teaches: group sessions and 1:1 lessons, confirmed and requested.
    for _ in range(4):
        schedule(student)
    for _ in range(3):
        services.request_lesson(make_user(), student, start=future(), duration=30)
    token = services.issue_feed_token(student)
    get_feed(client, token)  # records last_used_at, so the measured fetch is a plain read

    # Token lookup, bookings (with session and teacher), sessions taught, their 1:1 bookings.
    with django_assert_max_num_queries(4):
        body = get_feed(client, token).content
    assert len(events(body)) == 6 + 4 + 3


def test_feed_is_capped(client, teacher, monkeypatch):
    monkeypatch.setattr(ics, "FEED_MAX_EVENTS", 3)
    sessions = [schedule(teacher) for _ in range(5)]
    token = services.issue_feed_token(teacher)
    found = events(get_feed(client, token).content)
    assert set(found) == {f"session-{s.pk}@liveclass-booking" for s in sessions[:3]}  # the nearest ones


def test_feed_leaves_out_old_history(teacher, student):
    session = schedule(teacher)
    booking = services.book_seat(student, session)
    assert booking_uid_in(student, session.end_at_utc + dt.timedelta(days=29), booking)
    assert not booking_uid_in(student, session.end_at_utc + dt.timedelta(days=31), booking)


def booking_uid_in(user, now, booking) -> bool:
    return f"booking-{booking.pk}@liveclass-booking" in events(ics.feed_calendar(user, now))


def test_text_is_escaped(client, teacher, student):
    booking = services.book_seat(student, schedule(teacher, title="Evil\r\nBEGIN:VEVENT; x, y"))
    token = services.issue_feed_token(student)
    body = get_feed(client, token).content
    # A line break in a title cannot start a property or component of its own.
    assert body.split(b"\r\n").count(b"BEGIN:VEVENT") == 1
    assert str(events(body)[f"booking-{booking.pk}@liveclass-booking"]["SUMMARY"]) == "Evil\nBEGIN:VEVENT; x, y"


# --- one booking's .ics ---------------------------------------------------------------------------


def booking_ics_url(booking) -> str:
    return reverse("liveclass_booking:booking_ics", args=[booking.pk])


@pytest.mark.parametrize("who", ["student", "teacher", "manager"])
def test_booking_ics_downloads_for_student_teacher_and_manager(logged_in, teacher, student, make_user, who):
    session = schedule(teacher, meeting_url="https://meet.example/x", meeting_passcode="4321")
    booking = services.book_seat(student, session)
    manager = make_user()
    manager.user_permissions.add(Permission.objects.get(codename="manage_bookings"))
    client = logged_in({"student": student, "teacher": teacher, "manager": manager}[who])

    response = client.get(booking_ics_url(booking))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="booking-{booking.pk}.ics"'
    assert "private" in response["Cache-Control"]
    (event,) = events(response.content).values()
    assert str(event["UID"]) == f"booking-{booking.pk}@liveclass-booking"
    assert event["DTSTART"].dt == booking.start_at_utc and event["DTSTART"].dt.utcoffset() == dt.timedelta(0)
    assert event["DTEND"].dt == booking.end_at_utc
    assert str(event["URL"]) == "https://meet.example/x"
    assert "4321" in str(event["DESCRIPTION"])


def test_a_lessons_ics_names_the_other_person(logged_in, teacher, student, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    booking = services.request_lesson(student, teacher, start=future(), duration=45)
    summaries = {}
    for who in (student, teacher):
        (event,) = events(logged_in(who).get(booking_ics_url(booking)).content).values()
        summaries[who.get_username()] = str(event["SUMMARY"])
    assert summaries == {student.get_username(): f"1:1 lesson with {teacher.get_username()}",
                         teacher.get_username(): f"1:1 lesson with {student.get_username()}"}


def test_another_students_booking_ics_is_404(logged_in, teacher, student, other_student):
    booking = services.book_seat(student, schedule(teacher))
    assert logged_in(other_student).get(booking_ics_url(booking)).status_code == 404


def test_missing_booking_ics_is_404(logged_in, student):
    assert logged_in(student).get(reverse("liveclass_booking:booking_ics", args=[999999])).status_code == 404


def test_pending_booking_ics_is_tentative_without_meeting_details(logged_in, teacher, student, set_policy):
    set_policy(approval_mode="manual")
    booking = services.book_seat(student, schedule(teacher, meeting_url="https://meet.example/x",
                                                   meeting_passcode="4321"))
    response = logged_in(student).get(booking_ics_url(booking))
    (event,) = events(response.content).values()
    assert str(event["STATUS"]) == "TENTATIVE"
    assert "URL" not in event
    assert b"4321" not in response.content and b"meet.example" not in response.content


def test_cancelled_booking_ics_is_cancelled(logged_in, teacher, student):
    booking = services.book_seat(student, schedule(teacher, meeting_url="https://meet.example/x"))
    services.cancel_booking(booking, actor=student)
    response = logged_in(student).get(booking_ics_url(booking))
    (event,) = events(response.content).values()
    assert str(event["STATUS"]) == "CANCELLED"
    assert b"meet.example" not in response.content


def test_anonymous_is_sent_to_login(client, teacher, student):
    booking = services.book_seat(student, schedule(teacher))
    for url in (booking_ics_url(booking), reverse("liveclass_booking:calendar_feed")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


# --- the settings page ----------------------------------------------------------------------------


def test_settings_page_issues_shows_once_and_revokes(logged_in, student):
    client = logged_in(student)
    page = client.get(reverse("liveclass_booking:calendar_feed"))
    assert page.status_code == 200
    assert page.context["live_token"] is None

    issued = client.post(reverse("liveclass_booking:calendar_feed"), {"action": "issue"})
    assert issued.status_code == 200
    url = issued.context["feed_url"]
    assert url.startswith("http://testserver/booking/calendar/") and url.endswith(".ics")
    assert url.encode() in issued.content
    assert "no-store" in issued["Cache-Control"]
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert feed_user(token) == student
    assert [str(m) for m in issued.context["messages"]]

    again = client.get(reverse("liveclass_booking:calendar_feed"))
    assert again.context["live_token"] is not None
    assert token.encode() not in again.content  # shown only once

    revoked = client.post(reverse("liveclass_booking:calendar_feed"), {"action": "revoke"}, follow=True)
    assert revoked.status_code == 200
    assert revoked.context["live_token"] is None
    assert feed_user(token) is None


def test_settings_page_needs_csrf(student):
    client = Client(enforce_csrf_checks=True)
    client.force_login(student)
    response = client.post(reverse("liveclass_booking:calendar_feed"), {"action": "issue"})
    assert response.status_code == 403
    assert not CalendarFeedToken.objects.exists()


def test_settings_page_rejects_unknown_action(logged_in, student):
    response = logged_in(student).post(reverse("liveclass_booking:calendar_feed"), {"action": "nope"})
    assert response.status_code == 302
    assert not CalendarFeedToken.objects.exists()


# --- without the optional icalendar package -------------------------------------------------------


@pytest.fixture
def no_icalendar(monkeypatch):
    # None in sys.modules makes "import icalendar" raise ImportError, as if it were not installed.
    monkeypatch.setitem(sys.modules, "icalendar", None)


def test_views_answer_404_naming_the_extra_when_icalendar_is_missing(logged_in, teacher, student, no_icalendar,
                                                                     caplog):
    booking = services.book_seat(student, schedule(teacher))
    token = services.issue_feed_token(student)
    client = logged_in(student)
    settings_page = reverse("liveclass_booking:calendar_feed")
    requests = [(client.get, feed_url(token)), (client.get, booking_ics_url(booking)), (client.get, settings_page),
                (client.post, settings_page)]
    for method, url in requests:
        response = method(url, {"action": "issue"})
        assert response.status_code == 404, url
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        body = response.content.decode()
        assert "'icalendar' package" in body and 'pip install "django-liveclass-booking[ics]"' in body
    # The POST issued nothing: the one token is the one issued above.
    assert CalendarFeedToken.objects.filter(user=student).count() == 1
    warnings = [record for record in caplog.records if record.name == "django_liveclass_booking.calendar"]
    assert [record.levelname for record in warnings] == ["WARNING"] * len(requests)


def test_the_feed_answers_404_without_icalendar_on_a_site_that_hides_errors(client, student, no_icalendar,
                                                                             settings):
    settings.DEBUG = False
    response = client.get(feed_url(services.issue_feed_token(student)))
    assert response.status_code == 404 and b"django-liveclass-booking[ics]" in response.content


def test_the_settings_page_answers_once_icalendar_is_there(logged_in, student):
    # The request the test above answers 404, with the package installed: the 404 came from its absence.
    assert logged_in(student).get(reverse("liveclass_booking:calendar_feed")).status_code == 200


def test_ics_itself_still_raises_naming_the_extra(no_icalendar):
    # Code that writes calendars without a view (the notifications check this first) still gets the error.
    with pytest.raises(ImproperlyConfigured, match=re.escape("django-liveclass-booking[ics]")):
        ics.require_icalendar()


def test_modules_import_without_icalendar():
    # The URLconf imports the views, which import ics: none may need icalendar at import time.
    code = (
        "import sys; sys.modules['icalendar'] = None\n"
        "import django; django.setup()\n"
        "import django_liveclass_booking.ics, django_liveclass_booking.views.calendar\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.returncode == 0, result.stderr


# --- the booking model is swappable ---------------------------------------------------------------


def test_feed_uses_the_active_booking_model(teacher, student):
    booking = services.book_seat(student, schedule(teacher))
    assert isinstance(booking, get_booking_model())
    assert f"booking-{booking.pk}@liveclass-booking" in events(ics.feed_calendar(student, timezone.now()))
