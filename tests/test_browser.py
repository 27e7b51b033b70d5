"""End to end in a real headless Chromium against a live server: what a person clicks works."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.models import BookingSeries, SessionWaitlist, get_booking_model

from .browser import SCREENSHOT_DIR, Browser, chromium  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def soon(days: int, hour: int) -> dt.datetime:
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@pytest.fixture
def browser(chromium: Any, live_server: Any, tmp_path: Path) -> Browser:  # noqa: F811
    return Browser(chromium, live_server.url, Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path)


@pytest.fixture
def open_week(teacher: Any) -> None:
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(9), end_time=dt.time(17),
                                  timezone="UTC")


def test_a_student_books_a_seat(browser: Browser, teacher: Any, student: Any) -> None:
    teacher.first_name, teacher.last_name = "Tom", "Jones"
    teacher.save()
    session = services.schedule_session(teacher, start=soon(2, 17), duration=60, capacity=8, title="Algebra II",
                                        timezone="Europe/London", meeting_url="https://meet.example.org/alg2",
                                        meeting_passcode="7421")
    services.schedule_session(teacher, start=soon(4, 17), duration=45, capacity=2, title="Fractions clinic",
                              timezone="Europe/London")
    browser.log_in_as(student)
    browser.get("/booking/")
    browser.screenshot("session-list")
    browser.click("Algebra II", "a")
    assert "The meeting link is shown once your booking is confirmed." in browser.text()
    browser.click("Book a seat", "button")
    assert "Your seat is booked." in browser.text()
    assert "7421" in browser.text()
    browser.screenshot("booking-detail")
    booking = get_booking_model().objects.get(student=student, session=session)
    assert booking.status == "confirmed"


def test_a_teacher_approves_a_pending_request(browser: Browser, teacher: Any, student: Any, open_week: None) -> None:
    services.set_policy(teacher, approval_mode="manual", lesson_durations=[30, 60])
    browser.log_in_as(student)
    browser.get("/booking/teachers/")
    browser.click("See free times", "a")
    from selenium.webdriver.common.by import By

    browser.driver.find_elements(By.CSS_SELECTOR, "input[name=start]")[3].click()
    browser.driver.find_element(By.ID, "id_message").send_keys("Exam next month")
    browser.screenshot("request-lesson")
    browser.click("Request this lesson", "button")
    assert "Lesson requested" in browser.text()
    booking = get_booking_model().objects.get(student=student)
    assert booking.status == "pending"

    browser.log_in_as(teacher)
    browser.get("/booking/teach/")
    assert "Exam next month" in browser.text() or student.get_username() in browser.text()
    browser.screenshot("teacher-dashboard")
    browser.click("Confirm", "button")
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_a_freed_seat_goes_to_the_waitlist_and_the_student_accepts_it(
    browser: Browser, teacher: Any, student: Any, make_user: Any
) -> None:
    session = services.schedule_session(teacher, start=soon(3, 17), duration=45, capacity=1,
                                        title="Fractions clinic", timezone="UTC")
    holder = make_user("holder")
    services.book_seat(holder, session)
    browser.log_in_as(student)
    browser.get(f"/booking/sessions/{session.pk}/")
    assert "This class is full." in browser.text()
    browser.click("Join the waitlist", "button")
    assert "You are on the waitlist" in browser.text()

    browser.log_in_as(holder)
    browser.get("/booking/bookings/")
    browser.click("Details or cancel", "a")
    browser.click("Cancel booking", "a")
    assert "Cancel your booking for Fractions clinic on" in browser.text()
    browser.click("Yes, cancel", "button")
    assert "Booking cancelled." in browser.text()
    assert SessionWaitlist.objects.get(student=student).status == "offered"

    browser.log_in_as(student)
    browser.get("/booking/bookings/")
    browser.screenshot("waitlist-offer")
    browser.click("Accept the seat", "button")
    assert "The seat is yours" in browser.text()
    booking = get_booking_model().objects.get(student=student, session=session)
    assert (booking.status, booking.source) == ("confirmed", "waitlist")


def test_a_weekly_series_is_booked_and_listed(browser: Browser, teacher: Any, student: Any,
                                              open_week: None) -> None:
    from selenium.webdriver.common.by import By

    first = soon(3, 11)
    browser.log_in_as(student)
    browser.get("/booking/teachers/")
    browser.click("Weekly lessons", "a")
    date_input = browser.driver.find_element(By.ID, "id_first_date")
    # Date and time inputs take the value through script: their keyboard format follows the locale.
    browser.driver.execute_script("arguments[0].value = arguments[1]", date_input, first.date().isoformat())
    browser.driver.execute_script("arguments[0].value = '11:00'", browser.driver.find_element(By.ID, "id_start_time"))
    weeks = browser.driver.find_element(By.ID, "id_weeks")
    weeks.clear()
    weeks.send_keys("6")
    browser.screenshot("create-series")
    browser.click("Book weekly lessons", "button")
    assert "6 booked." in browser.text()
    browser.screenshot("series-detail")
    series = BookingSeries.objects.get(student=student)
    assert series.items.filter(status="booked").count() == 6

    browser.get("/booking/bookings/")
    text = browser.text()
    assert "Weekly series" in text and text.count("1:1 lesson") >= 6
    browser.screenshot("my-bookings")
