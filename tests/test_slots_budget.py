"""Database round trips of the 1:1 lesson services, against the budgets the API promises.

Measured in transactional tests so that no test-wrapping savepoints are counted: these are the
statements a real request sends, including the BEGIN and COMMIT that Django logs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services

pytestmark = pytest.mark.django_db(transaction=True)

AVAILABLE_SLOTS_BUDGET = 5
REQUEST_LESSON_BUDGET = 12
MONTH = dt.timedelta(days=31)


def count(call: Callable[[], Any]) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as ctx:
        result = call()
    return len(ctx.captured_queries), result


@pytest.fixture
def busy_teacher(teacher: Any, now: dt.datetime) -> Any:
    """Weekday windows 08:00-20:00 UTC and three periods of time off, but no sessions yet."""
    services.set_policy(teacher, buffer_minutes=10, min_notice_minutes=60, max_advance_days=60,
                        lesson_durations=[30, 60], approval_mode="manual")
    for weekday in range(5):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(20),
                                  timezone="UTC")
    for day in (3, 10, 17):
        start = now + dt.timedelta(days=day)
        services.add_time_off(teacher, start=start, end=start + dt.timedelta(hours=5))
    return teacher


def fill_calendar(teacher: Any, make_user: Callable[..., Any], now: dt.datetime) -> None:
    """Forty sessions over the month: group sessions and 1:1 requests, some pending, some confirmed."""
    day = now.replace(hour=0)
    placed = 0
    while placed < 40:
        day += dt.timedelta(days=1)
        if day.weekday() >= 5:
            continue
        services.schedule_session(teacher, start=day.replace(hour=10), duration=60, capacity=5, now=now)
        booking = services.request_lesson(make_user(), teacher, start=day.replace(hour=14), duration=60, now=now)
        if placed % 4 == 0:
            services.confirm_booking(booking, actor=teacher, now=now)
        placed += 2
    assert day < now + MONTH


def slots_for_a_month(teacher: Any, now: dt.datetime) -> Callable[[], Any]:
    return lambda: services.available_slots(teacher, start=now, end=now + MONTH, duration=60, now=now)


def test_available_slots_for_a_month_of_a_full_calendar_stays_within_budget(busy_teacher, make_user, now):
    fill_calendar(busy_teacher, make_user, now)
    queries, slots = count(slots_for_a_month(busy_teacher, now))
    assert queries <= AVAILABLE_SLOTS_BUDGET, queries
    assert slots  # the calendar still has room: the count is of a real answer, not of an early exit


def test_available_slots_cost_does_not_grow_with_the_sessions_on_the_calendar(busy_teacher, make_user, now):
    empty, before = count(slots_for_a_month(busy_teacher, now))
    fill_calendar(busy_teacher, make_user, now)
    full, after = count(slots_for_a_month(busy_teacher, now))
    assert full == empty, (empty, full)
    assert len(after) < len(before)  # the sessions were read, and took slots away


def test_request_lesson_with_every_limit_set_stays_within_budget(teacher, student, make_user, now):
    services.set_policy(teacher, approval_mode="manual_for_new_students", max_bookings_per_day=2,
                        max_bookings_per_week=5, max_pending_requests=3, min_notice_minutes=60,
                        max_advance_days=30, buffer_minutes=15, lesson_durations=[30, 60])
    services.add_availability(teacher, weekday=1, start_time=dt.time(8), end_time=dt.time(20), timezone="UTC")
    tuesday = now.replace(hour=8) + dt.timedelta(days=1)
    # Something on the calendar around the requested time, and a request of the student's already
    # waiting, so that every rule and every calendar check has rows to read.
    services.schedule_session(teacher, start=tuesday.replace(hour=9), duration=60, capacity=5, now=now)
    services.request_lesson(student, teacher, start=tuesday.replace(hour=16), duration=30, now=now)
    services.request_lesson(make_user(), teacher, start=tuesday.replace(hour=12), duration=60, now=now)

    queries, booking = count(lambda: services.request_lesson(student, teacher, start=tuesday.replace(hour=14),
                                                             duration=60, now=now))
    # PostgreSQL writes the booking and its first history row in one statement; elsewhere they are two.
    assert queries <= REQUEST_LESSON_BUDGET + (connection.vendor != "postgresql"), queries
    assert booking.status == "pending"  # a new student: manual approval, so every rule ran
