"""Every destructive action of the pages asks first: its GET shows the question and changes nothing, its POST acts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.models import (
    BookingSeries,
    BookingStatus,
    CalendarFeedToken,
    SessionStatus,
    SessionWaitlist,
    TeacherAvailability,
    TeacherTimeOff,
    WaitlistStatus,
    get_booking_model,
)
from django_liveclass_booking.services import SYSTEM

from .pages import login, soon, url

pytestmark = pytest.mark.django_db


def confirmation(response: Any, action: str) -> str:
    """The page's text, after checking it is a confirmation posting to ``action``."""
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="confirm-heading"' in body
    assert f'action="{action}"' in body and 'method="post"' in body
    return body


@pytest.fixture
def open_week(teacher: Any) -> None:
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(0), end_time=dt.time(23, 59),
                                  timezone="UTC")


@pytest.fixture
def group(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=soon(), duration=60, capacity=1, title="Algebra",
                                     timezone="UTC")


def test_cancelling_a_booking_asks_first_then_cancels(student: Any, teacher: Any, group: Any) -> None:
    services.set_policy(teacher, cancellation_cutoff_hours=24)
    booking = services.book_seat(student, group)
    client = login(student)
    body = confirmation(client.get(url("cancel_booking", booking.pk)), url("cancel_booking", booking.pk))
    assert "Cancel your booking for Algebra on" in body
    assert "Free cancellation until" in body and "Yes, cancel" in body and "Keep it" in body
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    response = client.post(url("cancel_booking", booking.pk), {"reason": ""})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


def test_asking_to_cancel_a_booking_cancelled_meanwhile_says_so(student: Any, group: Any) -> None:
    booking = services.book_seat(student, group)
    client = login(student)
    services.cancel_booking(booking, actor=student)  # in another tab, after this one showed the link
    response = client.get(url("cancel_booking", booking.pk), follow=True)
    assert response.redirect_chain == [(url("booking_detail", booking.pk), 302)]
    assert "There is nothing to cancel: this booking is now “Cancelled”." in response.content.decode()


def test_the_booking_page_links_to_the_confirmation(student: Any, group: Any) -> None:
    booking = services.book_seat(student, group)
    body = login(student).get(url("booking_detail", booking.pk)).content.decode()
    assert f'href="{url("cancel_booking", booking.pk)}"' in body
    assert f'action="{url("cancel_booking", booking.pk)}"' not in body


def test_the_teacher_cancelling_from_the_roster_is_asked_and_returns_there(student: Any, teacher: Any,
                                                                          group: Any) -> None:
    booking = services.book_seat(student, group)
    client, roster = login(teacher), url("session_roster", group.pk)
    assert f'href="{url("cancel_booking", booking.pk)}?next=' in client.get(roster).content.decode()
    body = confirmation(client.get(url("cancel_booking", booking.pk), {"next": roster}),
                        url("cancel_booking", booking.pk))
    assert "Cancel student&#x27;s booking" in body
    response = client.post(url("cancel_booking", booking.pk), {"next": roster})
    assert response["Location"] == roster
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


def test_leaving_the_waitlist_and_declining_an_offer_ask_first(student: Any, other_student: Any,
                                                               group: Any) -> None:
    first = services.book_seat(other_student, group)
    entry = services.join_waitlist(student, group)
    client = login(student)
    body = confirmation(client.get(url("leave_waitlist", entry.pk)), url("leave_waitlist", entry.pk))
    assert "Leave the waitlist of Algebra" in body
    assert f'href="{url("leave_waitlist", entry.pk)}"' in client.get(url("my_bookings")).content.decode()
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING
    services.cancel_booking(first, actor=other_student)
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED
    body = confirmation(client.get(url("decline_offer", entry.pk)), url("decline_offer", entry.pk))
    assert "Decline the seat offered in Algebra" in body
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.OFFERED
    client.post(url("decline_offer", entry.pk))
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.DECLINED


def test_leaving_the_waitlist_by_post(student: Any, other_student: Any, group: Any) -> None:
    services.book_seat(other_student, group)
    entry = services.join_waitlist(student, group)
    login(student).post(url("leave_waitlist", entry.pk))
    assert SessionWaitlist.objects.get(pk=entry.pk).status == WaitlistStatus.LEFT


def test_another_users_entry_has_no_confirmation_page(other_student: Any, student: Any, group: Any,
                                                      make_user: Any) -> None:
    services.book_seat(other_student, group)
    entry = services.join_waitlist(student, group)
    assert login(make_user("third")).get(url("leave_waitlist", entry.pk)).status_code == 404


@pytest.fixture
def manual(teacher: Any) -> Any:
    services.set_policy(teacher, approval_mode="manual")
    return teacher


def test_declining_a_booking_asks_first(student: Any, manual: Any, group: Any) -> None:
    booking = services.book_seat(student, group)
    client, dashboard = login(manual), url("teacher_dashboard")
    assert f'href="{url("decline_booking", booking.pk)}?next=' in client.get(dashboard).content.decode()
    body = confirmation(client.get(url("decline_booking", booking.pk), {"next": dashboard}),
                        url("decline_booking", booking.pk))
    assert "Decline student&#x27;s booking for Algebra" in body and 'name="reason"' in body
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING
    response = client.post(url("decline_booking", booking.pk), {"reason": "Sorry", "next": dashboard})
    assert response["Location"] == dashboard
    booking.refresh_from_db()
    assert (booking.status, booking.reason) == (BookingStatus.DECLINED, "Sorry")


def test_declining_a_series_asks_first(student: Any, manual: Any, open_week: None) -> None:
    series = services.create_series(student, manual, first_start=soon(2, 11), duration=30,
                                    rrule="FREQ=WEEKLY;COUNT=2", timezone="UTC")
    client = login(manual)
    body = confirmation(client.get(url("decline_series", series.pk)), url("decline_series", series.pk))
    assert "Decline every pending weekly lesson of student?" in body
    assert set(get_booking_model().objects.values_list("status", flat=True)) == {BookingStatus.PENDING}
    client.post(url("decline_series", series.pk))
    assert set(get_booking_model().objects.values_list("status", flat=True)) == {BookingStatus.DECLINED}


def test_cancelling_a_session_asks_first(student: Any, teacher: Any, group: Any) -> None:
    services.book_seat(student, group)
    client = login(teacher)
    assert f'href="{url("cancel_session", group.pk)}"' in client.get(url("session_roster", group.pk)).content.decode()
    body = confirmation(client.get(url("cancel_session", group.pk)), url("cancel_session", group.pk))
    assert "Cancel Algebra on" in body and "1 booking is cancelled" in body
    group.refresh_from_db()
    assert group.status == SessionStatus.SCHEDULED
    client.post(url("cancel_session", group.pk), {"reason": "Ill"})
    group.refresh_from_db()
    assert group.status == SessionStatus.CANCELLED


def test_removing_a_window_or_time_off_asks_first(teacher: Any, open_week: None) -> None:
    window = TeacherAvailability.objects.filter(teacher=teacher).order_by("weekday").first()
    time_off = services.add_time_off(teacher, start=soon(5, 8), end=soon(5, 12), reason="")
    client = login(teacher)
    page = client.get(url("teacher_availability")).content.decode()
    assert f'href="{url("delete_availability", window.pk)}"' in page
    assert f'href="{url("delete_time_off", time_off.pk)}"' in page
    body = confirmation(client.get(url("delete_availability", window.pk)), url("delete_availability", window.pk))
    assert "Remove your window on Monday, 00:00–23:59 (UTC)?" in body
    body = confirmation(client.get(url("delete_time_off", time_off.pk)), url("delete_time_off", time_off.pk))
    assert "Remove your time off from" in body
    assert TeacherAvailability.objects.filter(pk=window.pk).exists()
    assert TeacherTimeOff.objects.filter(pk=time_off.pk).exists()
    client.post(url("delete_availability", window.pk))
    client.post(url("delete_time_off", time_off.pk))
    assert not TeacherAvailability.objects.filter(pk=window.pk).exists()
    assert not TeacherTimeOff.objects.filter(pk=time_off.pk).exists()


def test_revoking_the_calendar_feed_asks_first(student: Any) -> None:
    client = login(student)
    client.post(url("calendar_feed"), {"action": "issue"})
    assert CalendarFeedToken.objects.live().filter(user=student).exists()
    assert 'href="?confirm=revoke"' in client.get(url("calendar_feed")).content.decode()
    body = confirmation(client.get(url("calendar_feed"), {"confirm": "revoke"}), url("calendar_feed"))
    assert "Revoke your calendar feed address?" in body and 'value="revoke"' in body
    assert CalendarFeedToken.objects.live().filter(user=student).exists()
    client.post(url("calendar_feed"), {"action": "revoke"})
    assert not CalendarFeedToken.objects.live().filter(user=student).exists()



def test_regenerating_the_calendar_feed_asks_first(student: Any) -> None:
    client = login(student)
    client.post(url("calendar_feed"), {"action": "issue"})
    first = CalendarFeedToken.objects.live().get(user=student)
    page = client.get(url("calendar_feed")).content.decode()
    assert 'href="?confirm=regenerate"' in page and 'value="issue"' not in page
    body = confirmation(client.get(url("calendar_feed"), {"confirm": "regenerate"}), url("calendar_feed"))
    assert "Replace your calendar feed address with a new one?" in body and 'value="issue"' in body
    assert CalendarFeedToken.objects.live().get(user=student) == first
    client.post(url("calendar_feed"), {"action": "issue"})
    assert CalendarFeedToken.objects.live().get(user=student) != first

@pytest.fixture
def weekly(student: Any, teacher: Any, open_week: None) -> BookingSeries:
    return services.create_series(student, teacher, first_start=soon(3, 11), duration=30,
                                  rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC")


def statuses(student: Any) -> list[str]:
    return list(get_booking_model().objects.filter(student=student).order_by("start_at_utc")
                .values_list("status", flat=True))


def test_the_series_form_defaults_to_this_lesson_only(student: Any, weekly: BookingSeries) -> None:
    body = login(student).get(url("series_detail", weekly.pk)).content.decode()
    assert 'method="get"' in body and f'action="{url("cancel_series", weekly.pk)}"' in body
    assert '<input type="radio" name="scope" value="one" checked>' in body
    assert 'value="all" checked' not in body


def test_cancelling_one_lesson_of_a_series(student: Any, weekly: BookingSeries) -> None:
    second = weekly.items.get(index=1)
    client, query = login(student), {"scope": "one", "from_start": second.start_at_utc.isoformat()}
    body = confirmation(client.get(url("cancel_series", weekly.pk), query), url("cancel_series", weekly.pk))
    assert "Cancel your lesson on" in body and "Only this lesson is cancelled" in body
    assert statuses(student) == ["confirmed"] * 3
    client.post(url("cancel_series", weekly.pk), query)
    assert statuses(student) == ["confirmed", "cancelled", "confirmed"]


def test_cancelling_the_following_lessons_and_all(student: Any, weekly: BookingSeries) -> None:
    second = weekly.items.get(index=1)
    client = login(student)
    query = {"scope": "following", "from_start": second.start_at_utc.isoformat()}
    body = confirmation(client.get(url("cancel_series", weekly.pk), query), url("cancel_series", weekly.pk))
    assert "and every later lesson of this series" in body
    assert statuses(student) == ["confirmed"] * 3
    client.post(url("cancel_series", weekly.pk), query)
    assert statuses(student) == ["confirmed", "cancelled", "cancelled"]
    body = confirmation(client.get(url("cancel_series", weekly.pk), {"scope": "all"}),
                        url("cancel_series", weekly.pk))
    assert "Cancel every future lesson of this series?" in body
    client.post(url("cancel_series", weekly.pk), {"scope": "all"})
    assert statuses(student) == ["cancelled"] * 3


class StrictPagesAdapter(DefaultBookingAdapter):
    """Students may not cancel; nobody manages a teacher's calendar, nor books a seat."""

    def can_cancel_booking(self, actor: Any, booking: Any) -> bool:
        return actor.pk != booking.student_id and super().can_cancel_booking(actor, booking)

    def can_manage_teacher(self, actor: Any, teacher: Any) -> bool:
        return False

    def can_book_for(self, actor: Any, student: Any) -> bool:
        return False


@pytest.fixture
def strict_pages(settings: Any) -> None:
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.StrictPagesAdapter"}


def test_the_adapter_decides_who_is_asked(group: Any, strict_pages: None, student: Any, teacher: Any) -> None:
    booking = services.book_seat(student, group, actor=SYSTEM)
    assert login(student).get(url("cancel_booking", booking.pk)).status_code == 403
    assert login(teacher).get(url("cancel_booking", booking.pk)).status_code == 200
    window = services.add_availability(teacher, weekday=0, start_time=dt.time(9), end_time=dt.time(10),
                                       timezone="UTC", actor=SYSTEM)
    assert login(teacher).get(url("delete_availability", window.pk)).status_code == 403
    assert TeacherAvailability.objects.filter(pk=window.pk).exists()


def test_the_adapter_decides_whether_book_is_offered(group: Any, strict_pages: None, other_student: Any) -> None:
    body = login(other_student).get(url("session_detail", group.pk)).content.decode()
    assert f'action="{url("book_seat", group.pk)}"' not in body and 'id="cannot-book"' in body
