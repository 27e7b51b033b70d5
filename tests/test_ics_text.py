"""Stored text in calendars: whatever a title or a name holds, the .ics is valid and says what was typed."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import icalendar
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking import ics, services

pytestmark = pytest.mark.django_db

_slots = itertools.count(1)

#: (what is typed, what a calendar program must read back): line breaks become one "\n", NUL is dropped.
HOSTILE = {
    "lf": ("Algebra\nBEGIN:VEVENT", "Algebra\nBEGIN:VEVENT"),
    "cr": ("Algebra\rX-INJECTED:1", "Algebra\nX-INJECTED:1"),
    "crlf": ("Algebra\r\nEND:VCALENDAR", "Algebra\nEND:VCALENDAR"),
    "semicolon": ("Algebra; part 2", "Algebra; part 2"),
    "comma": ("Algebra, part 2", "Algebra, part 2"),
    "backslash": ("C:\\path\\n not a break", "C:\\path\\n not a break"),
    "emoji": ("Algebra 🎉🧮 " + "✨" * 40, "Algebra 🎉🧮 " + "✨" * 40),
    "nul": ("Alge\x00bra", "Algebra"),
    "unicode line separator": ("Algebra\u2028II", "Algebra\nII"),
    "long": ("Ä" * 200, "Ä" * 200),
}


def future() -> dt.datetime:
    base = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=3)
    return base + dt.timedelta(hours=2 * next(_slots))


def schedule(teacher, **kwargs):
    fields = {"duration": 60, "capacity": 5, "title": "Algebra", "timezone": "Europe/London", **kwargs}
    return services.schedule_session(teacher, start=future(), **fields)


def physical_lines(body: bytes) -> list[bytes]:
    assert body.endswith(b"\r\n")
    return body[:-2].split(b"\r\n")


def assert_well_formed(body: bytes) -> None:
    """Every line ends in CRLF, holds no other line break or control character and is folded at 75 octets."""
    for line in physical_lines(body):
        assert b"\r" not in line and b"\n" not in line and b"\x00" not in line, line
        assert len(line) <= 75, line
        line.decode("utf-8")  # folding never splits a character


def calendar_name(calendar: icalendar.Calendar) -> str:
    # icalendar does not know the X- property's type, so it hands back the TEXT as written: unescape it (RFC 5545).
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], str(calendar["X-WR-CALNAME"]))


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("typed,expected", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_title_reads_back_as_typed_in_the_summary_and_the_calendar_name(teacher, student, typed, expected):
    booking = services.book_seat(student, schedule(teacher))
    # Not saved: NUL cannot be stored on PostgreSQL, and the calendar must survive it all the same.
    booking.session.title = typed

    body = ics.booking_calendar(booking)

    assert_well_formed(body)
    calendar = icalendar.Calendar.from_ical(body)
    (event,) = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == expected
    assert calendar_name(calendar) == one_line(expected)
    assert len(calendar.walk("VEVENT")) == 1 and len(calendar.walk("VCALENDAR")) == 1


@pytest.mark.parametrize("typed,expected", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_name_reads_back_on_one_line(teacher, student, typed, expected, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    booking = services.request_lesson(student, teacher, start=future(), duration=45)
    booking.student.first_name = typed

    body = ics.booking_calendar(booking, for_teacher=True)

    assert_well_formed(body)
    calendar = icalendar.Calendar.from_ical(body)
    (event,) = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == f"1:1 lesson with {one_line(expected)}"
    assert calendar_name(calendar) == f"1:1 lesson with {one_line(expected)}"


def test_a_name_cannot_add_a_line_to_the_description(teacher, student, settings):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    session = schedule(teacher, title="", meeting_url="https://meet.example/real")
    teacher.first_name = "Ann\r\nJoin: https://evil.example"
    teacher.save()
    booking = services.book_seat(student, session)

    (event,) = icalendar.Calendar.from_ical(ics.booking_calendar(booking)).walk("VEVENT")

    lines = str(event["DESCRIPTION"]).split("\n")
    assert lines[0] == "Teacher: Ann Join: https://evil.example"
    assert [line for line in lines if line.startswith("Join:")] == ["Join: https://meet.example/real"]


def test_a_link_no_uri_can_hold_stays_only_in_the_description(teacher, student):
    booking = services.book_seat(student, schedule(teacher, meeting_url="https://meet.example/x"))
    booking.session.meeting_url = "https://meet.example/x\r\nX-INJECTED:1"

    body = ics.booking_calendar(booking)

    assert_well_formed(body)
    (event,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert "URL" not in event
    assert "Join: https://meet.example/x X-INJECTED:1" in str(event["DESCRIPTION"]).split("\n")


# --- through the pages, with what every database stores ------------------------------------------


STORABLE = {key: value for key, value in HOSTILE.items() if "\x00" not in value[0]}


@pytest.mark.parametrize("typed,expected", STORABLE.values(), ids=STORABLE.keys())
def test_the_download_and_the_feed_carry_a_stored_title(client: Client, teacher, student, typed, expected):
    booking = services.book_seat(student, schedule(teacher, title=typed))
    client.force_login(student)

    download = client.get(reverse("liveclass_booking:booking_ics", args=[booking.pk]))
    feed = client.get(reverse("liveclass_booking:calendar_feed_ics", args=[services.issue_feed_token(student)]))

    for response in (download, feed):
        assert response.status_code == 200
        assert_well_formed(response.content)
        events = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
        assert [str(event["SUMMARY"]) for event in events] == [expected]
    assert calendar_name(icalendar.Calendar.from_ical(download.content)) == one_line(expected)


@pytest.mark.parametrize("name", ["Ann\nLee", "Ann\rLee", "Ann\r\nLee", "Ann;\\Lee,"])
def test_the_teachers_download_and_feed_carry_a_stored_student_name(client: Client, teacher, student, settings,
                                                                    name):
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    student.first_name = name
    student.save()
    booking = services.request_lesson(student, teacher, start=future(), duration=45)
    client.force_login(teacher)

    download = client.get(reverse("liveclass_booking:booking_ics", args=[booking.pk]))
    feed = client.get(reverse("liveclass_booking:calendar_feed_ics", args=[services.issue_feed_token(teacher)]))

    for response in (download, feed):
        assert response.status_code == 200
        assert_well_formed(response.content)
        (event,) = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
        assert str(event["SUMMARY"]) == f"1:1 lesson with {one_line(name)}"
