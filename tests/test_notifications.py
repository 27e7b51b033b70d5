"""Notifications end to end: the outbox rows each change writes, delivered through a real SMTP server.

Every test runs against aiosmtpd on 127.0.0.1 with Django's SMTP email backend, on whichever
database the run uses; the messages are read back as the server received them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import icalendar
import pytest
from django.db import transaction

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import Notification, get_booking_model

from .smtp import SMTPServer

pytestmark = [pytest.mark.django_db(transaction=True)]

UTC = dt.UTC
#: `now` is Monday 2026-05-04 09:00 UTC.
WED = dt.datetime(2026, 5, 6, 10, 0, tzinfo=UTC)
THU = dt.datetime(2026, 5, 7, 10, 0, tzinfo=UTC)
FRI = dt.datetime(2026, 5, 8, 10, 0, tzinfo=UTC)


class ProfileAdapter(DefaultBookingAdapter):
    """Language and timezone from the user's name: "ny..." users live in New York and read German."""

    def get_user_timezone(self, user: Any) -> str | None:
        return "America/New_York" if user.get_username().startswith("ny") else None

    def get_user_language(self, user: Any) -> str | None:
        return "de" if user.get_username().startswith("ny") else None


@pytest.fixture
def notifying(settings, smtp):
    smtp.use(settings)
    settings.DEFAULT_FROM_EMAIL = "school@school.example"
    settings.LIVECLASS_BOOKING = {
        "ADAPTER": "tests.test_notifications.ProfileAdapter",
        "NOTIFICATIONS": {"ENABLED": True, "SITE_URL": "https://school.example", "REMINDERS_MINUTES": [1440, 60]},
        "ICS_UID_DOMAIN": "school.example",
    }
    return smtp


@pytest.fixture
def teacher(make_user):
    return make_user("teacher", email="teacher@example.com")


@pytest.fixture
def people(make_user):
    return {name: make_user(name, email=f"{name}@example.com")
            for name in ("tutor", "ana", "ben", "nyla", "manager")}


@pytest.fixture
def tutor(people):
    teacher = people["tutor"]
    services.set_policy(teacher, timezone="UTC", request_ttl_hours=48, approval_mode="manual")
    for weekday in range(5):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(20),
                                  timezone="UTC")
    return teacher


def received(smtp: SMTPServer) -> list[tuple[str, str, Any]]:
    """(recipient, kind from the subject's row, message) of every message the server accepted."""
    out = []
    for rcpts, message in smtp.inbox.messages():
        for rcpt in rcpts:
            out.append((rcpt, message))
    return out


def sent_rows(**filters: Any) -> list[tuple[str, str]]:
    return sorted((n.kind, n.recipient.email) for n in Notification.objects.filter(sent_at__isnull=False, **filters)
                  .select_related("recipient"))


def invitation(message: Any) -> Any:
    """The parsed ``text/calendar`` part of a message, or None."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
            assert part.get_param("method") == str(calendar["METHOD"])
            return calendar
    return None


def only_event(calendar: Any) -> Any:
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    return events[0]


def assert_each_row_sent_once(smtp: SMTPServer) -> None:
    """Every row is marked sent, with one attempt, and the server got exactly one message per row."""
    rows = list(Notification.objects.select_related("recipient").exclude(kind="reminder", sent_at__isnull=True))
    assert all(r.sent_at is not None and r.attempts == 1 and r.last_error == "" for r in rows), [
        (r.kind, r.sent_at, r.attempts, r.last_error) for r in rows]
    got = Counter(rcpt for rcpt, _message in received(smtp))
    want = Counter(r.recipient.email for r in rows)
    assert got == want


def test_a_lesson_tells_each_party_once_with_calendar_updates(notifying, tutor, people, now):
    ana = people["ana"]
    lesson = services.request_lesson(ana, tutor, start=WED, duration=60, now=now, message="Fractions, please")
    assert sent_rows() == [("booking_requested", "tutor@example.com")]
    services.confirm_booking(lesson, actor=tutor, now=now)
    proposal = services.request_reschedule(lesson, start=THU, actor=tutor, now=now)
    services.accept_reschedule(proposal, actor=ana, now=now)
    proposal = services.request_reschedule(lesson, start=FRI, actor=ana, now=now)
    lesson = services.accept_reschedule(proposal, actor=tutor, now=now)
    services.cancel_booking(lesson, actor=ana, reason="Exam week", now=now)

    assert sent_rows() == sorted([
        ("booking_requested", "tutor@example.com"),
        ("booking_confirmed", "ana@example.com"), ("booking_confirmed", "tutor@example.com"),
        ("reschedule_requested", "ana@example.com"),
        ("booking_rescheduled", "ana@example.com"), ("booking_rescheduled", "tutor@example.com"),
        ("reschedule_requested", "tutor@example.com"),
        ("booking_rescheduled", "ana@example.com"), ("booking_rescheduled", "tutor@example.com"),
        ("booking_cancelled", "ana@example.com"), ("booking_cancelled", "tutor@example.com"),
    ])
    assert_each_row_sent_once(notifying)
    assert not Notification.objects.filter(kind="reminder").exists(), "a cancelled lesson keeps no reminder"

    to_ana = [message for rcpt, message in received(notifying) if rcpt == "ana@example.com"]
    calendars = [c for c in map(invitation, to_ana) if c is not None]
    methods = [str(c["METHOD"]) for c in calendars]
    assert methods == ["REQUEST", "REQUEST", "REQUEST", "CANCEL"]
    events = [only_event(c) for c in calendars]
    assert {str(e["UID"]) for e in events} == {f"booking-{lesson.pk}@school.example"}
    assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2, 3], "a cancellation outranks the last invitation"
    assert [e.decoded("DTSTART") for e in events] == [WED, THU, FRI, FRI]
    assert all(e["DTSTART"].to_ical().endswith(b"Z") for e in events), "times in UTC"
    assert str(events[-1]["STATUS"]) == "CANCELLED"
    first = to_ana[0]
    assert first["From"] == "school@school.example"
    assert "Exam week" in to_ana[-1].get_body(("plain",)).get_content()
    html = to_ana[0].get_body(("html",)).get_content()
    assert f"https://school.example/bookings/{lesson.pk}/" in html or "https://school.example" in html


def test_refusals_and_lapses_tell_the_one_who_waits(notifying, tutor, people, now):
    ana, ben = people["ana"], people["ben"]
    declined = services.request_lesson(ana, tutor, start=WED, duration=60, now=now)
    services.decline_booking(declined, actor=tutor, reason="Not that week", now=now)
    lapsing = services.request_lesson(ben, tutor, start=THU, duration=60, now=now)
    lesson = services.request_lesson(ana, tutor, start=FRI, duration=60, now=now)
    services.confirm_booking(lesson, actor=tutor, now=now)
    refused = services.request_reschedule(lesson, start=FRI + dt.timedelta(hours=2), actor=ana, now=now)
    services.decline_reschedule(refused, actor=tutor, reason="Busy", now=now)
    services.request_reschedule(lesson, start=FRI + dt.timedelta(hours=4), actor=ana, now=now)
    Notification.objects.all().delete()
    notifying.inbox.clear()
    counts = services.process_due(now=now + dt.timedelta(hours=49))
    assert counts["expired_requests"] == 1 and counts["expired_reschedules"] == 1
    assert counts["notifications_sent"] == 2
    assert sent_rows() == [("booking_expired", "ben@example.com"), ("reschedule_expired", "ana@example.com")]
    assert lapsing.pk in Notification.objects.filter(kind="booking_expired").values_list("booking_id", flat=True)
    assert services.process_due(now=now + dt.timedelta(hours=49))["notifications_sent"] == 0
    assert_each_row_sent_once(notifying)


def test_declines_reach_the_student_and_the_proposer(notifying, tutor, people, now):
    ana = people["ana"]
    declined = services.request_lesson(ana, tutor, start=WED, duration=60, now=now)
    services.decline_booking(declined, actor=tutor, reason="Not that week", now=now)
    lesson = services.request_lesson(ana, tutor, start=FRI, duration=60, now=now)
    services.confirm_booking(lesson, actor=tutor, now=now)
    proposal = services.request_reschedule(lesson, start=FRI + dt.timedelta(hours=2), actor=ana, now=now)
    services.decline_reschedule(proposal, actor=tutor, reason="Busy", now=now)
    kinds = sent_rows()
    assert ("booking_declined", "ana@example.com") in kinds
    assert ("reschedule_declined", "ana@example.com") in kinds
    assert ("reschedule_requested", "tutor@example.com") in kinds
    assert not [k for k in kinds if k[0] == "reschedule_declined" and k[1] == "tutor@example.com"]
    decline = [m for rcpt, m in received(notifying) if "Not that week" in m.get_body(("plain",)).get_content()]
    assert len(decline) == 1
    assert_each_row_sent_once(notifying)


def test_a_waitlisted_student_hears_of_the_seat_and_of_its_lapse(notifying, make_session, people, teacher, now):
    ana, ben = people["ana"], people["ben"]
    session = make_session(capacity=1, title="Algebra II")
    seat = services.book_seat(ana, session, actor=ana, now=now)
    entry = services.join_waitlist(ben, session, now=now)
    services.cancel_booking(seat, actor=ana, now=now)
    assert ("seat_offered", "ben@example.com") in sent_rows()
    offer = [m for rcpt, m in received(notifying) if rcpt == "ben@example.com"]
    assert len(offer) == 1 and "Algebra II" in offer[0]["Subject"] + offer[0].get_body(("plain",)).get_content()
    services.process_due(now=now + dt.timedelta(hours=2))
    assert Notification.objects.get(kind="offer_expired").entry_id == entry.pk
    assert ("offer_expired", "ben@example.com") in sent_rows()
    assert_each_row_sent_once(notifying)


def test_a_moved_then_cancelled_class_tells_every_student_once(notifying, make_session, people, teacher, now):
    students = [people["ana"], people["ben"], people["nyla"]]
    session = make_session(capacity=5, title="Algebra II")
    bookings = [services.book_seat(s, session, actor=s, now=now) for s in students]
    Notification.objects.all().delete()
    notifying.inbox.clear()

    services.reschedule_session(session, start=session.start_at_utc + dt.timedelta(days=1), actor=teacher, now=now)
    assert sent_rows() == sorted(("session_rescheduled", s.email) for s in students), "not the teacher who did it"
    manager = people["manager"]
    manager.is_superuser = True
    manager.save()
    services.cancel_session(session, actor=manager, reason="Storm", now=now)
    assert sent_rows(kind="session_cancelled") == sorted(
        [("session_cancelled", s.email) for s in students] + [("session_cancelled", "teacher@example.com")])
    assert not Notification.objects.filter(kind="booking_cancelled").exists()
    assert not Notification.objects.filter(kind="reminder").exists()
    for booking in bookings:
        messages = [m for rcpt, m in received(notifying) if rcpt == booking.student.email]
        calendars = [only_event(invitation(m)) for m in messages]
        assert [int(e["SEQUENCE"]) for e in calendars] == [1, 2]
        assert {str(e["UID"]) for e in calendars} == {f"booking-{booking.pk}@school.example"}
    assert_each_row_sent_once(notifying)


def test_the_recipient_reads_their_own_language_and_time(notifying, make_session, people, now):
    nyla = people["nyla"]
    session = make_session(capacity=5, title="Algebra II", start=dt.datetime(2026, 5, 12, 17, 0, tzinfo=UTC))
    services.book_seat(nyla, session, actor=nyla, now=now)
    [(rcpt, message)] = [(r, m) for r, m in received(notifying) if r == nyla.email]
    body = message.get_body(("plain",)).get_content()
    assert "13:00" in body and "America/New_York" in body, body
    assert "Dienstag" in body, "the weekday in the recipient's language"


def test_reminders_once_per_offset_never_for_a_past_offset_nor_a_cancelled_lesson(notifying, tutor, people, now):
    ana, ben = people["ana"], people["ben"]
    services.set_policy(tutor, timezone="UTC", approval_mode="auto")
    lesson = services.request_lesson(ana, tutor, start=WED, duration=60, now=now)
    soon = services.request_lesson(ben, tutor, start=now + dt.timedelta(hours=3), duration=60, now=now)
    planned = Counter((n.booking_id, n.data["minutes"]) for n in Notification.objects.filter(kind="reminder"))
    assert planned == {(lesson.pk, 1440): 2, (lesson.pk, 60): 2, (soon.pk, 60): 2}, "24h before `soon` had passed"
    notifying.inbox.clear()

    assert services.process_due(now=now + dt.timedelta(hours=2, minutes=5))["notifications_sent"] == 2
    assert sorted(rcpt for rcpt, _m in received(notifying)) == ["ben@example.com", "tutor@example.com"]
    notifying.inbox.clear()
    assert services.process_due(now=WED - dt.timedelta(hours=23))["notifications_sent"] == 2
    assert services.process_due(now=WED - dt.timedelta(hours=23))["notifications_sent"] == 0
    assert sorted(rcpt for rcpt, _m in received(notifying)) == ["ana@example.com", "tutor@example.com"]
    assert all("1 day" in m.get_body(("plain",)).get_content() for _r, m in received(notifying))
    notifying.inbox.clear()
    services.cancel_booking(lesson, actor=ana, now=WED - dt.timedelta(hours=22))
    notifying.inbox.clear()
    assert services.process_due(now=WED - dt.timedelta(minutes=30))["notifications_sent"] == 0
    assert received(notifying) == []


def test_a_moved_lesson_is_reminded_at_its_new_time(notifying, tutor, people, now):
    ana = people["ana"]
    services.set_policy(tutor, timezone="UTC", approval_mode="auto")
    lesson = services.request_lesson(ana, tutor, start=WED, duration=60, now=now)
    proposal = services.request_reschedule(lesson, start=THU, actor=tutor, now=now)
    services.accept_reschedule(proposal, actor=ana, now=now)
    reminders = Notification.objects.filter(kind="reminder", booking=lesson)
    assert sorted(r.scheduled_for for r in reminders) == sorted(
        [THU - dt.timedelta(hours=24)] * 2 + [THU - dt.timedelta(hours=1)] * 2)
    notifying.inbox.clear()
    assert services.process_due(now=WED - dt.timedelta(minutes=30))["notifications_sent"] == 0
    assert services.process_due(now=THU - dt.timedelta(minutes=30))["notifications_sent"] == 4
    subjects = [m["Subject"] for _r, m in received(notifying)]
    assert len(subjects) == 4


def test_a_class_reminds_its_teacher_once_not_per_seat(notifying, make_session, people, teacher, now):
    session = make_session(capacity=5, start=WED)
    for name in ("ana", "ben", "nyla"):
        services.book_seat(people[name], session, actor=people[name], now=now)
    to_teacher = Notification.objects.filter(kind="reminder", recipient=teacher)
    assert sorted(r.data["minutes"] for r in to_teacher) == [60, 1440]
    assert Notification.objects.filter(kind="reminder").exclude(recipient=teacher).count() == 6


def test_a_refused_or_rolled_back_call_writes_no_row_and_sends_nothing(notifying, make_session, people, now):
    ana, ben = people["ana"], people["ben"]
    session = make_session(capacity=1)
    services.book_seat(ana, session, actor=ana, now=now)
    before = Notification.objects.count()
    notifying.inbox.clear()
    with pytest.raises(BookingError):
        services.book_seat(ben, session, actor=ben, now=now)
    other = make_session(capacity=3)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.book_seat(ben, other, actor=ben, now=now)
        raise RuntimeError("the caller's own transaction fails")
    assert Notification.objects.count() == before
    assert received(notifying) == []


def test_a_mail_server_down_loses_nothing_and_sends_once_when_back(notifying, make_session, people, now):
    ana = people["ana"]
    session = make_session(capacity=3)
    notifying.stop()
    booking = services.book_seat(ana, session, actor=ana, now=now)
    booking.refresh_from_db()
    assert booking.status == "confirmed", "the booking commits though the mail server is down"
    [row] = Notification.objects.filter(kind="booking_confirmed")
    assert row.sent_at is None and row.attempts == 1 and "Connection refused" in row.last_error or row.last_error
    assert services.process_due(now=now)["notifications_sent"] == 0, "backing off"
    assert services.process_due(now=now + dt.timedelta(minutes=2))["notifications_sent"] == 0, "still down"
    row.refresh_from_db()
    assert row.attempts == 2 and row.sent_at is None
    notifying.start()
    later = now + dt.timedelta(minutes=10)
    assert services.process_due(now=later)["notifications_sent"] == 1
    assert services.process_due(now=later + dt.timedelta(hours=1))["notifications_sent"] == 0
    row.refresh_from_db()
    assert row.sent_at == later and row.attempts == 3
    assert [rcpt for rcpt, _m in received(notifying)] == ["ana@example.com"]


def test_the_admin_lists_the_outbox_and_sends_a_failed_row_again(notifying, make_session, people, admin_client,
                                                                  now):
    from django.urls import reverse

    ana = people["ana"]
    notifying.stop()
    booking = services.book_seat(ana, make_session(capacity=3), actor=ana, now=now)
    [row] = Notification.objects.filter(kind="booking_confirmed")
    changelist = reverse("admin:liveclass_booking_notification_changelist")
    failing = admin_client.get(changelist, {"delivery": "failing"}).content.decode()
    assert "Booking confirmed" in failing and "Connection" in failing
    assert admin_client.get(changelist, {"delivery": "sent"}).context["cl"].result_count == 0
    assert admin_client.get(reverse("admin:liveclass_booking_notification_change", args=[row.pk])).status_code == 200
    assert admin_client.get(changelist, {"q": f"#{booking.pk}"}).context["cl"].result_count >= 1
    notifying.start()
    # As a worker that died mid-send leaves it: its token on, its lease over.
    Notification.objects.filter(pk=row.pk).update(claim_token="gone", next_attempt_at=now)
    response = admin_client.post(changelist, {"action": "send_now", "_selected_action": [row.pk]}, follow=True)
    assert "1 notification sent." in response.content.decode()
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 2
    assert [rcpt for rcpt, _m in received(notifying)] == ["ana@example.com"]


def test_a_pending_seat_moved_with_its_class_gets_no_invitation_and_no_reminder(notifying, make_session, people,
                                                                                 teacher, set_policy, now):
    set_policy(approval_mode="manual")
    ana = people["ana"]
    session = make_session(capacity=3, start=WED)
    pending = services.book_seat(ana, session, actor=ana, now=now)
    notifying.inbox.clear()
    services.reschedule_session(session, start=THU, actor=teacher, now=now)
    [row] = Notification.objects.filter(kind="session_rescheduled", booking=pending)
    assert "method" not in row.data and row.sent_at is not None
    assert not Notification.objects.filter(kind="reminder", booking=pending).exists()
    [(rcpt, message)] = received(notifying)
    assert rcpt == "ana@example.com" and invitation(message) is None


def test_an_organizer_with_a_display_name_is_a_valid_calendar_address(notifying, make_session, people, settings,
                                                                       now):
    settings.DEFAULT_FROM_EMAIL = "Riverside School <bookings@school.example>"
    ana = people["ana"]
    services.book_seat(ana, make_session(capacity=3), actor=ana, now=now)
    [(_rcpt, message)] = received(notifying)
    event = only_event(invitation(message))
    assert str(event["ORGANIZER"]) == "mailto:bookings@school.example"
    assert event["ORGANIZER"].params["CN"] == "Riverside School"


def test_a_sweep_inside_the_callers_transaction_sends_only_once_it_commits(notifying, tutor, people, now):
    ana = people["ana"]
    services.request_lesson(ana, tutor, start=WED, duration=60, now=now)
    notifying.inbox.clear()
    later = now + dt.timedelta(hours=49)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert services.process_due(now=later)["notifications_sent"] == 0
        raise RuntimeError("the caller's transaction fails")
    assert received(notifying) == [], "nothing told of an expiry that was rolled back"
    with transaction.atomic():
        services.process_due(now=later)
    assert [rcpt for rcpt, _m in received(notifying)] == ["ana@example.com"]
    assert services.process_due(now=later)["notifications_sent"] == 0


def test_a_class_nobody_is_booked_in_any_more_reminds_no_teacher(notifying, make_session, people, teacher, now):
    ana, ben = people["ana"], people["ben"]
    session = make_session(capacity=5, start=WED)
    seats = [services.book_seat(s, session, actor=s, now=now) for s in (ana, ben)]
    for seat in seats:
        services.cancel_booking(seat, actor=seat.student, now=now)
    assert Notification.objects.filter(kind="reminder", recipient=teacher, sent_at__isnull=True).count() == 2
    notifying.inbox.clear()
    assert services.process_due(now=WED - dt.timedelta(minutes=30))["notifications_sent"] == 0
    assert received(notifying) == []
    assert not Notification.objects.filter(kind="reminder").exists(), "dropped, not kept for later"


def test_expiring_proposals_reads_their_bookings_at_once(notifying, settings, tutor, people, now):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # The first week's lessons are not completed by the second week's sweep.
    settings.LIVECLASS_BOOKING = {**settings.LIVECLASS_BOOKING, "OUTCOME_WINDOW_HOURS": 24 * 60}
    services.set_policy(tutor, timezone="UTC", request_ttl_hours=48, approval_mode="auto")
    ana = people["ana"]
    booking_table = get_booking_model()._meta.db_table

    def expire(proposals: int, week: int) -> tuple[int, int]:
        """(queries reading bookings, UPDATEs of the outbox) of a sweep expiring ``proposals`` proposals."""
        start = now + dt.timedelta(weeks=week)
        for hour in range(proposals):
            lesson = services.request_lesson(ana, tutor, start=FRI + dt.timedelta(weeks=week, hours=hour),
                                             duration=60, now=start)
            services.request_reschedule(lesson, start=THU + dt.timedelta(weeks=week, hours=hour), actor=tutor,
                                        now=start)
        with CaptureQueriesContext(connection) as ctx:
            counts = services.process_due(now=start + dt.timedelta(hours=48, minutes=1))
        assert counts["expired_reschedules"] == counts["notifications_sent"] == proposals
        sql = [q["sql"] for q in ctx.captured_queries]
        reads = [q for q in sql if q.startswith("SELECT") and booking_table in q.split(" WHERE ")[0]
                 and "notification" not in q.split(" WHERE ")[0]]
        marks = [q for q in sql if q.startswith("UPDATE") and "notification" in q.split(" SET ")[0]]
        return len(reads), len(marks)

    few, many = expire(2, 0), expire(6, 1)
    assert few[0] == many[0], "the expired proposals' bookings are read at once, not one by one"
    assert (few[1], many[1]) == (1 + 2, 1 + 6), "one claim, then one mark per row sent"


def test_a_new_way_to_join_reaches_the_booked_students_not_a_new_capacity(notifying, make_session, people, teacher,
                                                                          set_policy, now):
    ana, ben = people["ana"], people["ben"]
    session = make_session(capacity=3, title="Algebra II")
    services.book_seat(ana, session, actor=ana, now=now)
    set_policy(approval_mode="manual")
    pending = services.book_seat(ben, session, actor=ben, now=now)
    notifying.inbox.clear()
    services.update_session(session, actor=teacher, capacity=5)
    services.update_session(session, actor=teacher, title="Algebra II")
    assert not Notification.objects.filter(kind="session_updated").exists(), "nothing its students see changed"
    services.update_session(session, actor=teacher, meeting_provider="Zoom", meeting_url="https://zoom.example/j/42")
    assert sent_rows(kind="session_updated") == [("session_updated", "ana@example.com")]
    assert not Notification.objects.filter(kind="session_updated", booking=pending).exists()
    [(rcpt, message)] = received(notifying)
    body = message.get_body(("plain",)).get_content()
    assert "https://zoom.example/j/42" in body and "meeting URL" in body, body
