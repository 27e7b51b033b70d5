"""Database round trips per call, against the budgets the API promises.

Measured in transactional tests so that no test-wrapping savepoints are counted: these are the
statements a real request sends, BEGIN and COMMIT included (Django 5.2+ records both).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import services

pytestmark = pytest.mark.django_db(transaction=True)

BOOK_SEAT_BUDGET = 8
DECISION_BUDGET = 10  # confirm_booking / cancel_booking, including a waitlist hand-over


def book_seat_budget():
    """The budgets are PostgreSQL's, where the seat claim, the booking and its first history row are one
    statement; the portable path writes the history row in a statement of its own."""
    return BOOK_SEAT_BUDGET + (connection.vendor != "postgresql")


def count(call):
    with CaptureQueriesContext(connection) as ctx:
        result = call()
    return len(ctx.captured_queries), result


@pytest.mark.parametrize("mode", ["auto", "manual", "manual_for_new_students"])
def test_book_seat_budget(session, student, set_policy, now, mode):
    set_policy(approval_mode=mode)
    fresh = type(session).objects.get(pk=session.pk)  # as a view would load it: no teacher cached
    queries, _ = count(lambda: services.book_seat(student, fresh, now=now))
    assert queries <= book_seat_budget(), queries


def test_book_seat_budget_for_a_teacher_without_a_policy_row(session, student, now):
    queries, _ = count(lambda: services.book_seat(student, session, now=now))
    assert queries <= book_seat_budget(), queries


def test_confirm_budget(session, student, teacher, set_policy, now):
    set_policy(approval_mode="manual")
    booking = services.book_seat(student, session, now=now)
    queries, _ = count(lambda: services.confirm_booking(booking, actor=teacher, now=now))
    assert queries <= DECISION_BUDGET, queries


def test_decline_budget(session, student, teacher, set_policy, now):
    set_policy(approval_mode="manual")
    booking = services.book_seat(student, session, now=now)
    queries, _ = count(lambda: services.decline_booking(booking, actor=teacher, now=now))
    assert queries <= DECISION_BUDGET, queries


@pytest.mark.parametrize("who", ["student", "teacher"])
def test_cancel_budget(session, student, teacher, set_policy, now, who):
    set_policy(cancellation_cutoff_hours=12)
    booking = services.book_seat(student, session, now=now)
    actor = student if who == "student" else teacher
    queries, _ = count(lambda: services.cancel_booking(booking, actor=actor, now=now))
    assert queries <= DECISION_BUDGET, queries


def test_book_seat_cost_does_not_grow_with_the_bookings_already_made(make_session, make_user, now):
    session = make_session(capacity=40)
    services.book_seat(make_user(), session, now=now)  # the process reads the teacher's rules once
    first, _ = count(lambda: services.book_seat(make_user(), session, now=now))
    for _ in range(20):
        services.book_seat(make_user(), session, now=now)
    later, _ = count(lambda: services.book_seat(make_user(), session, now=now))
    assert later == first


def test_cancel_with_a_waitlist_hand_over_budget(make_session, make_user, student, set_policy, now):
    set_policy(cancellation_cutoff_hours=12)
    session = make_session(capacity=1)
    booking = services.book_seat(student, session, now=now)
    services.join_waitlist(make_user(), session, now=now)
    queries, _ = count(lambda: services.cancel_booking(booking, actor=student, now=now))
    assert queries <= DECISION_BUDGET, queries


def test_book_seat_budget_with_people_waiting_elsewhere(make_session, make_user, student, now):
    other = make_session(capacity=1)
    services.book_seat(make_user(), other, now=now)
    services.join_waitlist(make_user(), other, now=now)
    session = type(other).objects.get(pk=make_session(capacity=3).pk)
    queries, _ = count(lambda: services.book_seat(student, session, now=now))
    assert queries <= book_seat_budget(), queries
