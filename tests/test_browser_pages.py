"""Every student and teacher page in a real headless Chromium at a phone's width (375 px): nothing
scrolls sideways and axe-core finds no serious or critical problem; the browser's own time zone is
what a new person sees times in. Screenshots of the main pages at 1280 and 375 px."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django.utils.formats import date_format

from django_liveclass_booking import services

from .browser import SCREENSHOT_DIR, Browser, axe_source, chromium  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE, DESKTOP = (375, 812), (1280, 900)
#: Pages screenshotted for the docs at both widths (the file names end in -phone at 375 px).
SCREENSHOTS = {"": "classes", "bookings/": "bookings", "teach/": "teaching"}


def soon(days: int, hour: int) -> dt.datetime:
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def browser(chromium: Any, live_server: Any, tmp_path: Path) -> Any:  # noqa: F811
    chromium.set_window_size(*DESKTOP)
    yield Browser(chromium, live_server.url, Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path)
    chromium.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})
    chromium.set_window_size(1200, 900)


@pytest.fixture
def school(teacher: Any, student: Any, other_student: Any, make_user: Any) -> dict[str, Any]:
    """A teacher who approves bookings, with a class (booked, full, a waitlist), 1:1 lessons (one with a
    proposed new time, one pending), a weekly series and time off: every page has rows to show."""
    teacher.first_name, teacher.last_name = "Maria", "Garcia-Fernandez"
    teacher.save()
    services.set_policy(teacher, approval_mode="manual", lesson_durations=[30, 60], timezone="UTC")
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(9), end_time=dt.time(17),
                                  timezone="UTC")
    services.add_time_off(teacher, start=soon(20, 0), end=soon(22, 0), reason="Conference in Lisbon")
    group = services.schedule_session(
        teacher, start=soon(2, 17), duration=60, capacity=2, title="Algebra II: quadratic equations",
        timezone="Europe/London", meeting_url="https://meet.example.org/algebra-two-quadratic-equations-room-4821",
        meeting_passcode="7421")
    seat = services.book_seat(student, group)
    services.confirm_booking(seat, actor=teacher)
    services.book_seat(other_student, group)
    services.join_waitlist(make_user("waiting"), group)
    lesson = services.confirm_booking(services.request_lesson(student, teacher, start=soon(3, 10), duration=60,
                                                              message="Exam next month"), actor=teacher)
    services.request_reschedule(lesson, start=soon(3, 14), actor=student, message="Dentist in the morning")
    services.request_lesson(other_student, teacher, start=soon(4, 10), duration=30, message="Quick question")
    series = services.create_series(student, teacher, first_start=soon(5, 11), duration=60,
                                    rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC")
    return {"group": group, "seat": seat, "lesson": lesson, "series": series}


def student_pages(school: dict[str, Any], teacher: Any) -> list[str]:
    group, seat, lesson, series = school["group"], school["seat"], school["lesson"], school["series"]
    return ["", f"sessions/{group.pk}/", "bookings/", f"bookings/{seat.pk}/", f"bookings/{lesson.pk}/",
            f"bookings/{lesson.pk}/reschedule/", "teachers/", f"teachers/{teacher.pk}/",
            f"teachers/{teacher.pk}/series/", f"series/{series.pk}/", "calendar/",
            # Refusals: a teacher's page (403), a missing booking (404), a button's address opened (405).
            "teach/", "bookings/999999/", f"sessions/{group.pk}/book/"]


def teacher_pages(school: dict[str, Any]) -> list[str]:
    group, lesson = school["group"], school["lesson"]
    return ["teach/", "teach/sessions/new/", f"teach/sessions/{group.pk}/", f"teach/sessions/{group.pk}/edit/",
            "teach/policy/", "teach/availability/", f"bookings/{lesson.pk}/", f"bookings/{lesson.pk}/reschedule/"]


def check_pages(browser: Browser, paths: list[str], axe: str) -> list[str]:
    problems = []
    for path in paths:
        browser.driver.set_window_size(*PHONE)
        browser.csp_refusals()  # forget the console of the pages before
        browser.get(f"/booking/{path}")
        if browser.overflow() > 0:
            problems.append(f"/booking/{path} is {browser.overflow()}px wider than a phone")
        problems += [f"/booking/{path}: {finding}" for finding in browser.axe_violations(axe)]
        problems += [f"/booking/{path}: {refusal}" for refusal in browser.csp_refusals()]
        if path in SCREENSHOTS:
            browser.screenshot(f"{SCREENSHOTS[path]}-phone")
            browser.driver.set_window_size(*DESKTOP)
            browser.screenshot(SCREENSHOTS[path])
    return problems


def test_every_page_fits_a_phone_and_passes_axe(browser: Browser, school: dict[str, Any], teacher: Any,
                                                student: Any) -> None:
    axe = axe_source()
    browser.log_in_as(student)
    browser.driver.set_window_size(*PHONE)
    assert browser.driver.execute_script("return document.documentElement.clientWidth") == PHONE[0]
    problems = check_pages(browser, student_pages(school, teacher), axe)
    browser.log_in_as(teacher)
    problems += check_pages(browser, teacher_pages(school), axe)
    assert problems == []


def test_a_page_with_flash_messages_passes_axe(browser: Browser, school: dict[str, Any], student: Any) -> None:
    axe = axe_source()
    browser.log_in_as(student)
    browser.driver.set_window_size(*PHONE)
    browser.get(f"/booking/bookings/{school['seat'].pk}/")
    browser.click("Cancel booking", "a")
    assert browser.axe_violations(axe) == []  # the confirmation page
    browser.click("Yes, cancel", "button")
    assert "Booking cancelled." in browser.text()
    assert browser.overflow() <= 0
    assert browser.axe_violations(axe) == []
    assert browser.driver.find_element("css selector", "div.messages[role=status] li").text == "Booking cancelled."


def test_a_new_person_sees_times_in_the_browsers_zone(browser: Browser, teacher: Any, student: Any) -> None:
    start = soon(2, 23)
    services.schedule_session(teacher, start=start, duration=60, capacity=4, title="Late algebra", timezone="UTC")
    browser.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})
    browser.log_in_as(student, zone=None)
    browser.get("/booking/")
    browser.wait_for_zone()
    local = start.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    text = browser.text()
    assert f"{date_format(local, 'D')}, {date_format(local, 'DATETIME_FORMAT')}–" in text
    assert "(America/New_York)" in text and "Times in America/New_York" in text
