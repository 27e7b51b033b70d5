"""The pages state the teacher's rules up front and offer only what the services would accept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import PolicyViolation
from django_liveclass_booking.views._common import TIMEZONE_SESSION_KEY

pytestmark = pytest.mark.django_db


def url(name: str, *args: Any) -> str:
    return reverse(f"liveclass_booking:{name}", args=args)


def soon(days: int = 3, hour: int = 10) -> dt.datetime:
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def login(user: Any, zone: str | None = None) -> Client:
    client = Client()
    client.force_login(user)
    if zone:
        session = client.session
        session[TIMEZONE_SESSION_KEY] = zone
        session.save()
    return client


def page(client: Client, session: Any) -> str:
    response = client.get(url("session_detail", session.pk))
    assert response.status_code == 200
    return response.content.decode()


BOOK = f'action="{url("book_seat", 0)}"'.replace("/0/", "/{}/")


def offers_booking(body: str, session: Any) -> bool:
    return BOOK.format(session.pk) in body


@pytest.fixture
def group(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=soon(), duration=60, capacity=2, title="Algebra",
                                     timezone="UTC")


def test_the_rules_are_stated_before_booking(student: Any, teacher: Any, group: Any) -> None:
    services.set_policy(teacher, cancellation_cutoff_hours=24, allow_late_cancellation=False,
                        max_bookings_per_week=3, min_notice_minutes=120, waitlist_offer_ttl_minutes=180)
    body = page(login(student, "Asia/Tokyo"), group)
    assert "Bookings are confirmed at once." in body
    deadline = (group.start_at_utc - dt.timedelta(hours=24)).astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert f"Free cancellation until {deadline:%A} {deadline.day} {deadline:%B %Y, %H:%M} (Asia/Tokyo)." in body
    assert "After that, a booking can no longer be cancelled." in body
    assert "at most 3 bookings a week with this teacher" in body and "book at least 2 hours ahead" in body
    assert "who has 3 hours to accept it" in body
    assert offers_booking(body, group)


def test_approval_is_stated_for_this_student(student: Any, teacher: Any, group: Any) -> None:
    services.set_policy(teacher, approval_mode="manual", request_ttl_hours=48)
    body = page(login(student), group)
    assert "Your booking will wait for the teacher's approval." in body
    assert "A request not answered within 2 days (or by the start) expires." in body


def test_a_limit_that_would_refuse_hides_the_button_and_says_why(student: Any, teacher: Any, group: Any) -> None:
    services.set_policy(teacher, max_bookings_per_day=1)
    other = services.schedule_session(teacher, start=soon(hour=14), duration=60, capacity=2, title="Geometry",
                                      timezone="UTC")
    services.book_seat(student, other)
    body = page(login(student), group)
    assert not offers_booking(body, group)
    assert 'id="cannot-book"' in body and "the limit is 1" in body
    # The services agree: the page offered nothing they would accept.
    with pytest.raises(PolicyViolation):
        services.book_seat(student, group)


def test_a_full_class_offers_the_waitlist_not_a_seat(student: Any, make_user: Any, group: Any) -> None:
    for name in ("a", "b"):
        services.book_seat(make_user(name), group)
    body = page(login(student), group)
    assert not offers_booking(body, group)
    assert f'action="{url("join_waitlist", group.pk)}"' in body


def test_no_waitlist_no_button(student: Any, teacher: Any, make_user: Any, group: Any) -> None:
    services.set_policy(teacher, waitlist_enabled=False)
    for name in ("a", "b"):
        services.book_seat(make_user(name), group)
    body = page(login(student), group)
    assert not offers_booking(body, group) and url("join_waitlist", group.pk) not in body
    assert "This teacher keeps no waitlist" in body


def test_the_waitlist_place_counts_those_still_waiting(student: Any, make_user: Any, group: Any) -> None:
    for name in ("a", "b"):
        services.book_seat(make_user(name), group)
    first, gone = make_user("first"), make_user("gone")
    services.join_waitlist(gone, group)
    services.join_waitlist(first, group)
    services.join_waitlist(student, group)
    services.leave_waitlist(group.waitlist_entries.get(student=gone), actor=gone)
    body = page(login(student), group)
    assert "place 2 of 2" in body and "2 waiting" in body
    assert "place 1 of 2" in page(login(first), group)
