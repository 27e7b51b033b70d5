"""The lesson lifecycle end to end in a real headless Chromium: a new time proposed and accepted, a
class's meeting link changed, attendance marked after the start; each page checked for labels and
button text, and for fitting a phone's width."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.models import RescheduleRequest

from .browser import SCREENSHOT_DIR, Browser, chromium  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: A class in the future of the real clock; ``ClockAdapter`` moves the pages' clock past it.
START = dt.datetime(2031, 3, 3, 15, 0, tzinfo=dt.UTC)

#: Form controls without a label, and buttons without text (an empty list is a pass).
UNLABELLED = """
return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
  .filter(el => el.tagName === 'BUTTON' ? !el.textContent.trim()
                : !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML);
"""


class ClockAdapter(DefaultBookingAdapter):
    current: dt.datetime | None = None

    def now(self) -> dt.datetime:
        return self.current or super().now()


def soon(days: int, hour: int) -> dt.datetime:
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def browser(chromium: Any, live_server: Any, tmp_path: Path) -> Any:  # noqa: F811
    chromium.set_window_size(1200, 900)
    yield Browser(chromium, live_server.url, Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path)
    chromium.set_window_size(1200, 900)


def check_page(browser: Browser) -> None:
    """Every control has a label and every button text; at a phone's width nothing spills sideways."""
    assert browser.driver.execute_script(UNLABELLED) == []
    browser.driver.set_window_size(390, 844)
    try:
        overflow = browser.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    finally:
        browser.driver.set_window_size(1200, 900)


def test_a_student_proposes_a_new_time_and_the_teacher_accepts(browser: Browser, teacher: Any,
                                                               student: Any) -> None:
    from selenium.webdriver.common.by import By

    # A teacher who approves every booking: the student's proposal waits for their answer.
    services.set_policy(teacher, approval_mode="manual", timezone="UTC")
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(9), end_time=dt.time(17),
                                  timezone="UTC")
    lesson = services.confirm_booking(services.request_lesson(student, teacher, start=soon(3, 10), duration=60),
                                      actor=teacher)
    new_start = soon(3, 14)

    browser.log_in_as(student)
    browser.get(f"/booking/bookings/{lesson.pk}/")
    check_page(browser)
    browser.click("Propose a new time", "a")
    check_page(browser)
    browser.driver.find_element(By.CSS_SELECTOR, f"input[name=start][value='{new_start.isoformat()}']").click()
    browser.driver.find_element(By.ID, "id_message").send_keys("Dentist in the morning")
    browser.screenshot("propose-reschedule")
    browser.click("Propose this time", "button")
    assert "New time proposed" in browser.text()
    assert "Withdraw the proposal" in browser.text()
    assert RescheduleRequest.objects.get(booking=lesson).status == "pending"

    browser.log_in_as(teacher)
    browser.get("/booking/teach/")
    assert "Dentist in the morning" in browser.text()
    check_page(browser)
    browser.screenshot("teacher-proposals")
    browser.click("Accept the new time", "button")
    assert "The lesson is moved" in browser.text()

    for user in (teacher, student):
        browser.log_in_as(user)
        browser.get(f"/booking/bookings/{lesson.pk}/")
        when = browser.driver.find_element(By.XPATH, "//dt[normalize-space()='When']/following-sibling::dd[1]").text
        assert "2 p.m.–3 p.m. (UTC)" in when
        assert "Rescheduled" in browser.text()
    browser.screenshot("booking-history")


def test_a_teacher_changes_the_meeting_link_and_the_student_sees_it(browser: Browser, teacher: Any,
                                                                    student: Any) -> None:
    from selenium.webdriver.common.by import By

    services.set_policy(teacher, approval_mode="auto")
    session = services.schedule_session(teacher, start=soon(2, 17), duration=60, capacity=8, title="Algebra II",
                                        timezone="UTC", meeting_url="https://meet.example.org/old")
    booking = services.book_seat(student, session)

    browser.log_in_as(teacher)
    browser.get(f"/booking/teach/sessions/{session.pk}/")
    browser.click("Change time, seats or meeting details", "a")
    check_page(browser)
    link = browser.driver.find_element(By.ID, "id_details-meeting_url")
    link.clear()
    link.send_keys("https://meet.example.org/algebra-new")
    browser.driver.find_element(By.ID, "id_details-meeting_passcode").send_keys("5150")
    browser.screenshot("edit-session")
    browser.click("Save", "button")
    assert "The session is saved." in browser.text()
    assert "https://meet.example.org/algebra-new" in browser.text()

    browser.log_in_as(student)
    browser.get(f"/booking/bookings/{booking.pk}/")
    text = browser.text()
    assert "https://meet.example.org/algebra-new" in text and "5150" in text and "meet.example.org/old" not in text


def test_a_teacher_marks_attendance_after_the_start(browser: Browser, settings: Any, teacher: Any, student: Any,
                                                    other_student: Any) -> None:
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.ClockAdapter"}
    ClockAdapter.current = START - dt.timedelta(days=2)
    services.set_policy(teacher, approval_mode="auto")
    session = services.schedule_session(teacher, start=START, duration=60, capacity=5, title="Algebra II",
                                        timezone="UTC")
    first = services.book_seat(student, session)
    second = services.book_seat(other_student, session)
    ClockAdapter.current = START + dt.timedelta(minutes=65)
    try:
        browser.log_in_as(teacher)
        browser.get(f"/booking/teach/sessions/{session.pk}/")
        assert "record who attended" in browser.text()
        check_page(browser)
        browser.screenshot("roster-attendance")
        browser.click("Attended", "button")
        assert "Recorded: the lesson took place." in browser.text()
        browser.click("Did not attend", "button")
        assert "Recorded: the student did not come." in browser.text()
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.status, second.status) == ("completed", "no_show")
        assert "Completed" in browser.text() and "Student did not attend" in browser.text()
    finally:
        ClockAdapter.current = None
