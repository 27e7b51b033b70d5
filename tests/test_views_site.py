"""What every page shares: the viewer's zone (picked, detected, kept through the adapter), the
schedule form's zone, one date style, no inline style or script, and refusals inside the layout."""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from django_liveclass_booking import services
from django_liveclass_booking.adapter import TIMEZONE_SESSION_KEY, DefaultBookingAdapter
from django_liveclass_booking.models import get_session_model

pytestmark = pytest.mark.django_db

MADRID, NEW_YORK = zoneinfo.ZoneInfo("Europe/Madrid"), zoneinfo.ZoneInfo("America/New_York")


def url(name: str, *args: Any) -> str:
    return reverse(f"liveclass_booking:{name}", args=args)


def next_week(hour: int, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    day = timezone.now().astimezone(tz).date() + dt.timedelta(days=7)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz)


@pytest.fixture
def as_teacher(client: Client, teacher: Any) -> Client:
    services.set_policy(teacher, approval_mode="auto")
    client.force_login(teacher)
    return client


class RememberingAdapter(DefaultBookingAdapter):
    """Keeps the zone in a dict, as a host keeps it on a profile."""

    zones: dict[int, str] = {}

    def get_viewer_timezone(self, request: Any) -> str | None:
        return self.zones.get(request.user.pk)

    def set_viewer_timezone(self, request: Any, zone: str) -> None:
        self.zones[request.user.pk] = zone


def test_a_teacher_in_madrid_schedules_a_class_at_six_pm_new_york_time(as_teacher: Client) -> None:
    as_teacher.post(url("set_timezone"), {"timezone": "Europe/Madrid"})
    form = as_teacher.get(url("schedule_session")).content.decode()
    assert "Starts at (in the timezone of the class)" in form
    when = next_week(18, NEW_YORK)
    response = as_teacher.post(url("schedule_session"), {
        "title": "Evening class", "timezone": "america/new_york", "start": when.strftime("%Y-%m-%dT%H:%M"),
        "duration": 60, "capacity": 5, "repeat": "none", "weeks": 4})
    assert response.status_code == 302
    session = get_session_model().objects.get(title="Evening class")
    assert session.start_at_utc == when and session.timezone_snapshot == "America/New_York"
    # Shown to the Madrid teacher in Madrid time, with the zone.
    roster = as_teacher.get(response["Location"]).content.decode()
    assert f"{date_format(when.astimezone(MADRID), 'DATETIME_FORMAT')}–" in roster
    assert "(Europe/Madrid)" in roster


def test_zone_names_are_matched_whatever_their_case(client: Client, student: Any) -> None:
    client.force_login(student)
    client.post(url("set_timezone"), {"timezone": "  asia/TOKYO "})
    assert client.session[TIMEZONE_SESSION_KEY] == "Asia/Tokyo"


def test_the_browsers_zone_is_kept_once_sent_and_asked_for_only_until_then(client: Client, student: Any) -> None:
    client.force_login(student)
    first = client.get(url("session_list")).content.decode()
    assert "data-detect-timezone" in first
    response = client.post(url("set_timezone"), {"timezone": "America/New_York", "detected": "1"})
    assert response.status_code == 204 and client.session[TIMEZONE_SESSION_KEY] == "America/New_York"
    assert client.post(url("set_timezone"), {"timezone": "Nowhere/Else", "detected": "1"}).status_code == 400
    later = client.get(url("session_list")).content.decode()
    assert "data-detect-timezone" not in later and "Times in America/New_York" in later


def test_the_adapter_keeps_the_zone_where_the_host_wants(client: Client, settings: Any, student: Any) -> None:
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.RememberingAdapter"}
    client.force_login(student)
    client.post(url("set_timezone"), {"timezone": "Europe/Madrid"})
    assert RememberingAdapter.zones[student.pk] == "Europe/Madrid"
    assert TIMEZONE_SESSION_KEY not in client.session
    client.logout()
    client.force_login(student)
    assert "Times in Europe/Madrid" in client.get(url("my_bookings")).content.decode()


def test_the_zone_list_is_one_cached_address_not_part_of_every_page(client: Client, student: Any) -> None:
    client.force_login(student)
    response = client.get(url("timezone_names"))
    names = json.loads(response.content)
    assert "UTC" in names and "Europe/Madrid" in names and len(names) > 300
    assert "max-age=86400" in response["Cache-Control"]
    page = client.get(url("session_list")).content.decode()
    assert "Europe/Madrid" not in page and len(page) < 8000


def test_every_time_has_its_zone_and_pages_carry_no_inline_style_or_script(client: Client, student: Any,
                                                                          teacher: Any) -> None:
    session = services.schedule_session(teacher, start=next_week(17, zoneinfo.ZoneInfo("UTC")), duration=60,
                                        capacity=4, title="Algebra", timezone="UTC")
    client.force_login(student)
    booking = services.book_seat(student, session)
    for page in (url("session_list"), url("session_detail", session.pk), url("my_bookings"),
                 url("booking_detail", booking.pk)):
        html = client.get(page).content.decode()
        assert re.search(r"5 p\.m\.–6 p\.m\. \(UTC\)", html), page
        assert "<style" not in html and "style=" not in html, page
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), page
        assert 'href="#main"' in html and '<main id="main"' in html


def test_flash_messages_are_a_status_region_around_a_list(client: Client, student: Any) -> None:
    client.force_login(student)
    response = client.post(url("set_timezone"), {"timezone": "Mars/Olympus"}, follow=True)
    html = response.content.decode()
    assert re.search(r'<div class="messages" role="status">\s*<ul><li class="error">', html)
    assert "<ul class=\"messages\" role=\"status\">" not in html


def test_opening_a_button_address_again_explains_itself(client: Client, student: Any, teacher: Any) -> None:
    session = services.schedule_session(teacher, start=next_week(17, zoneinfo.ZoneInfo("UTC")), duration=60,
                                        capacity=4, title="Algebra", timezone="UTC")
    client.force_login(student)
    response = client.get(url("book_seat", session.pk), HTTP_REFERER="http://testserver" + url("session_list"))
    html = response.content.decode()
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert "Nothing to show at this address" in html and f'href="http://testserver{url("session_list")}"' in html
    assert 'id="main"' in html


def test_refusals_render_inside_the_layout(client: Client, student: Any) -> None:
    client.force_login(student)
    denied = client.get(url("teacher_dashboard"))
    assert denied.status_code == 403 and "You cannot open this page" in denied.content.decode()
    assert 'id="main"' in denied.content.decode()
    missing = client.get(url("booking_detail", 999999))
    assert missing.status_code == 404 and "Page not found" in missing.content.decode()
    assert 'id="main"' in missing.content.decode()
