"""Database round trips of accepting a proposed new lesson time, against the budget the API promises.

A transactional test, so the BEGIN and COMMIT that Django logs are counted and no savepoints of a
test wrapper are (see test_slots_budget.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services
from django_liveclass_booking.models import RescheduleRequest

pytestmark = pytest.mark.django_db(transaction=True)

#: The promise, on PostgreSQL: its writes go in one statement, its locked read joins the student.
ACCEPT_RESCHEDULE_BUDGET = 12
#: Elsewhere each write is a statement of its own (and the student a query of its own).
PORTABLE_BUDGET = 16


def budget() -> int:
    return ACCEPT_RESCHEDULE_BUDGET if connection.vendor == "postgresql" else PORTABLE_BUDGET


def count(call: Callable[[], Any]) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as ctx:
        result = call()
    return len(ctx.captured_queries), result


@pytest.fixture
def busy_teacher(teacher: Any, make_user: Callable[..., Any], now: dt.datetime) -> Any:
    """Weekday windows, time off, a buffer, notice, advance and lengths, and a calendar of lessons."""
    services.set_policy(teacher, buffer_minutes=10, min_notice_minutes=60, max_advance_days=60,
                        lesson_durations=[30, 60], approval_mode="manual", timezone="UTC")
    for weekday in range(5):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(20),
                                  timezone="UTC")
    for day in (3, 10, 17):
        start = now + dt.timedelta(days=day)
        services.add_time_off(teacher, start=start, end=start + dt.timedelta(hours=5))
    day = now.replace(hour=0)
    for _ in range(20):
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            services.request_lesson(make_user(), teacher, start=day.replace(hour=14), duration=60, now=now)
    return teacher


def proposal_for(teacher: Any, student: Any, now: dt.datetime, *, series: bool = False) -> RescheduleRequest:
    start = dt.datetime(2026, 5, 5, 10, 0, tzinfo=dt.UTC)
    if series:
        created = services.create_series(student, teacher, first_start=start, duration=60,
                                         rrule="FREQ=WEEKLY;COUNT=2", timezone="UTC", now=now)
        booking = created.items.order_by("index").first().booking
    else:
        booking = services.request_lesson(student, teacher, start=start, duration=60, now=now)
    services.confirm_booking(booking, actor=teacher, now=now)
    proposal = services.request_reschedule(booking, start=start + dt.timedelta(days=1), actor=student, now=now)
    # As a view would hold it: loaded by its primary key, nothing else.
    return RescheduleRequest.objects.get(pk=proposal.pk)


@pytest.mark.parametrize("series", [False, True], ids=["lesson", "series_occurrence"])
def test_accept_reschedule_stays_within_budget(busy_teacher, student, now, series):
    proposal = proposal_for(busy_teacher, student, now, series=series)
    queries, booking = count(lambda: services.accept_reschedule(proposal, actor=busy_teacher, now=now))
    assert booking.start_at_utc == proposal.start_at_utc and proposal.status == "accepted"
    print(f"accept_reschedule ({'series' if series else 'lesson'}): {queries} queries")
    assert queries <= budget(), queries


def test_accept_reschedule_with_limits_stays_within_budget(busy_teacher, student, now):
    # The daily and weekly limits count the student's bookings: one aggregate more, as for request_lesson.
    services.set_policy(busy_teacher, max_bookings_per_day=3, max_bookings_per_week=10)
    proposal = proposal_for(busy_teacher, student, now)
    queries, _ = count(lambda: services.accept_reschedule(proposal, actor=busy_teacher, now=now))
    print(f"accept_reschedule (limits): {queries} queries")
    assert queries <= budget(), queries
