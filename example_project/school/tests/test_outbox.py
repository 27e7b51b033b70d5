"""The outbox page: staff read the most recent notifications and each one as its recipient reads it.

Run by tests/test_example_credits.py with the rest of the school's tests.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils.html import escape

from django_liveclass_booking import notifications, services
from django_liveclass_booking.models import Notification, NotificationKind
from school.adapter import add_credits
from school.models import CreditEntry

NOW = dt.datetime(2030, 5, 6, 9, 0, tzinfo=dt.UTC)
_names = itertools.count(1)

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    def make(prefix: str = "user", **extra: Any) -> Any:
        name = f"{prefix}{next(_names)}"
        return get_user_model().objects.create_user(name, f"{name}@example.com", "pw", **extra)

    return make


@pytest.fixture
def manager(make_user: Callable[..., Any]) -> Any:
    """Staff as the adapter counts them: a user with the permission to manage every booking."""
    user = make_user("office")
    user.user_permissions.add(Permission.objects.get(codename="manage_bookings"))
    return get_user_model().objects.get(pk=user.pk)  # without the permission cache of before


@pytest.fixture
def booked(make_user: Callable[..., Any]) -> Any:
    """A confirmed seat in a class 26 hours after NOW: its messages are written, not yet sent."""
    teacher, student = make_user("teacher", first_name="Tom", last_name="Jones"), make_user("student")
    with transaction.atomic():
        add_credits(student, 3, CreditEntry.Reason.GIFT)
    session = services.schedule_session(teacher, start=NOW + dt.timedelta(hours=26), duration=60, capacity=5,
                                        title="Algebra basics", now=NOW)
    return services.book_seat(student, session, now=NOW)


def confirmation(booking: Any) -> Notification:
    return Notification.objects.get(booking=booking, kind=NotificationKind.BOOKING_CONFIRMED)


class TestWhoMayRead:
    def test_anonymous_visitors_are_sent_to_the_login(self, client: Any, booked: Any) -> None:
        for url in (reverse("outbox"), reverse("outbox_message", args=[confirmation(booked).pk])):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_a_student_is_refused(self, client: Any, booked: Any) -> None:
        client.force_login(booked.student)
        assert client.get(reverse("outbox")).status_code == 403
        assert client.get(reverse("outbox_message", args=[confirmation(booked).pk])).status_code == 403

    def test_the_adapter_decides_not_the_staff_flag(self, client: Any, make_user: Callable[..., Any]) -> None:
        client.force_login(make_user("clerk", is_staff=True))
        assert client.get(reverse("outbox")).status_code == 403

    def test_only_staff_see_the_link(self, client: Any, manager: Any, make_user: Callable[..., Any]) -> None:
        client.force_login(make_user("student"))
        assert 'href="/outbox/"' not in client.get(reverse("my_credits")).content.decode()
        client.force_login(manager)
        assert 'href="/outbox/"' in client.get(reverse("my_credits")).content.decode()
        assert 'href="/outbox/"' in client.get(reverse("liveclass_booking:session_list")).content.decode()


class TestList:
    def test_a_booking_s_messages_are_listed_newest_first(self, client: Any, manager: Any, booked: Any) -> None:
        client.force_login(manager)
        response = client.get(reverse("outbox"))
        assert response.status_code == 200
        rows = list(response.context["notifications"])
        assert rows and rows == sorted(rows, key=lambda n: (n.created_at, n.pk), reverse=True)
        assert {n.kind for n in rows} >= {NotificationKind.BOOKING_CONFIRMED, NotificationKind.REMINDER}
        page = response.content.decode()
        assert "<caption>" in page and '<th scope="col">Kind</th>' in page and "times in UTC" in page
        assert "Booking confirmed" in page and "Algebra basics" in page and "Pending" in page
        assert f'href="{reverse("outbox_message", args=[confirmation(booked).pk])}"' in page
        assert f'href="{reverse("liveclass_booking:booking_detail", args=[booked.pk])}"' in page

    # Committed for real: the sweep sends nothing from inside a transaction that could still roll back.
    @pytest.mark.django_db(transaction=True)
    def test_sent_and_failed_rows_say_so(self, client: Any, manager: Any, booked: Any) -> None:
        # Sent right after the booking's commit, or by the sweep: once either way.
        services.process_due(now=NOW + dt.timedelta(minutes=1))
        assert confirmation(booked).sent_at is not None
        assert [m.subject for m in mail.outbox] == [notifications.render(confirmation(booked)).subject]
        Notification.objects.filter(kind=NotificationKind.REMINDER).update(
            attempts=2, last_error="SMTPServerDisconnected: Connection unexpectedly closed")
        client.force_login(manager)
        page = client.get(reverse("outbox")).content.decode()
        assert "Sent" in page and "Failed" in page and "Connection unexpectedly closed" in page

    def test_times_are_in_the_viewer_s_timezone(self, client: Any, manager: Any, booked: Any) -> None:
        client.force_login(manager)
        client.post(reverse("liveclass_booking:set_timezone"), {"timezone": "Asia/Tokyo", "next": "/outbox/"})
        page = client.get(reverse("outbox")).content.decode()
        # The class starts at 11:00 UTC, 20:00 in Tokyo.
        assert "times in Asia/Tokyo" in page and "8 p.m." in page and "(Asia/Tokyo)" in page

    def test_at_most_fifty_rows(self, client: Any, manager: Any, booked: Any) -> None:
        first = confirmation(booked)
        Notification.objects.bulk_create([
            Notification(recipient=booked.student, kind=NotificationKind.BOOKING_CONFIRMED, booking=booked,
                         scheduled_for=NOW, next_attempt_at=NOW) for _ in range(55)])
        client.force_login(manager)
        rows = client.get(reverse("outbox")).context["notifications"]
        assert len(rows) == 50 and first not in rows


    def test_the_page_reads_in_the_visitor_s_language(self, manager: Any, booked: Any) -> None:
        from django.test import Client

        client = Client(HTTP_ACCEPT_LANGUAGE="fr")
        client.force_login(manager)
        page = client.get(reverse("outbox")).content.decode()
        assert "<h1>Boîte d’envoi</h1>" in page and '<th scope="col">Prévue pour</th>' in page
        assert f"Réservation nº {booked.pk}" in page and "En attente" in page
        preview = client.get(reverse("outbox_message", args=[confirmation(booked).pk])).content.decode()
        assert "Retour à la boîte d’envoi" in preview and "<dt>Invitation</dt>" in preview


class TestPreview:
    def test_the_message_as_its_recipient_reads_it(self, client: Any, manager: Any, booked: Any) -> None:
        row = confirmation(booked)
        rendered = notifications.render(row)
        client.force_login(manager)
        response = client.get(reverse("outbox_message", args=[row.pk]))
        assert response.status_code == 200
        page = response.content.decode()
        assert rendered.subject and f"<h1>{escape(rendered.subject)}</h1>" in page
        assert f'<pre class="message-text">{escape(rendered.text)}</pre>' in page
        # The HTML body in an iframe with every sandbox restriction, so its markup runs nowhere.
        assert f'sandbox="" srcdoc="{escape(rendered.html)}"' in page
        assert booked.student.email in page
        if rendered.calendar is not None:  # the ics extra is installed
            assert f"METHOD:{rendered.method}" in page and rendered.method == "REQUEST"
        else:
            assert "Invitation</dt><dd>None" in page

    def test_an_unknown_row_is_not_found(self, client: Any, manager: Any) -> None:
        client.force_login(manager)
        assert client.get(reverse("outbox_message", args=[999999])).status_code == 404

    def test_markup_in_a_message_stays_text(self, client: Any, manager: Any, booked: Any) -> None:
        """A title is the teacher's to write: in the text body and the iframe's srcdoc it cannot become markup."""
        type(booked.session).objects.filter(pk=booked.session_id).update(
            title='Maths "</pre><script>alert(1)</script><iframe srcdoc=">')
        client.force_login(manager)
        page = client.get(reverse("outbox_message", args=[confirmation(booked).pk])).content.decode()
        assert "<script>alert(1)" not in page and page.count("<iframe") == 1
        assert page.count("</pre>") == page.count("<pre")
