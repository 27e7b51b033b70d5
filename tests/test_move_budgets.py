"""Database round trips of moving a seat and changing a class, against the budgets the API promises.

Measured in transactional tests, so the count is what a real request sends, BEGIN and COMMIT included
(see tests/test_slots_budget.py). The numbers are PostgreSQL's; the other backends send about the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services
from django_liveclass_booking.models import SessionWaitlist

from .invariants import assert_all

pytestmark = pytest.mark.django_db(transaction=True)

MOVE_SEAT_BUDGET = 12
UPDATE_SESSION_BUDGET = 10
#: On MariaDB the seat claim locks the row by primary key before its UPDATE (see seats.claim_seat).
CLAIM_LOCK = 1 if connection.vendor == "mysql" else 0
#: PostgreSQL writes the booking, its series item and its history row in one statement; elsewhere they are three.
SEPARATE_WRITES = 0 if connection.vendor == "postgresql" else 2


def count(call: Callable[[], Any]) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("approval_mode", ["auto", "manual"])
def test_move_seat_with_a_waitlist_hand_over_budget(make_session, make_user, student, set_policy, now, approval_mode):
    set_policy(approval_mode=approval_mode)
    old, new = make_session(capacity=1), make_session(capacity=2)
    booking = services.book_seat(student, old, now=now)
    waiting = make_user()
    services.join_waitlist(waiting, old, now=now)

    queries, sql = count(lambda: services.move_seat(booking, new, actor=student, now=now))

    assert queries <= MOVE_SEAT_BUDGET + CLAIM_LOCK + SEPARATE_WRITES, (queries, sql)
    assert SessionWaitlist.objects.get(student=waiting).status == "offered"  # the count is of the whole hand-over
    assert_all()


@pytest.mark.parametrize("someone_waits", [False, True])
def test_move_seat_budget_with_booking_limits(make_session, make_user, student, set_policy, now, someone_waits):
    set_policy(max_bookings_per_day=2)
    old, new = make_session(capacity=1), make_session(capacity=2)
    booking = services.book_seat(student, old, now=now)
    if someone_waits:
        services.join_waitlist(make_user(), old, now=now)
    queries, sql = count(lambda: services.move_seat(booking, new, actor=student, now=now))
    assert queries <= MOVE_SEAT_BUDGET + CLAIM_LOCK + SEPARATE_WRITES, (queries, sql)


def test_update_session_raising_capacity_with_waiting_students_budget(make_session, make_user, teacher, now):
    session = make_session(capacity=1)
    services.book_seat(make_user(), session, now=now)
    waiting = [make_user() for _ in range(4)]
    for who in waiting:
        services.join_waitlist(who, session, now=now)

    queries, sql = count(lambda: services.update_session(session, actor=teacher, capacity=4, title="Bigger room",
                                                         now=now))

    assert queries <= UPDATE_SESSION_BUDGET, (queries, sql)
    assert SessionWaitlist.objects.filter(session=session, status="offered").count() == 3
    assert_all()
