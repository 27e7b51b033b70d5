"""A host whose router puts the booking models on another alias: nothing may reach ``default``.

Runs only with tests.settings_router (see tests.routers): the booking models, users and content
types live on ``booking``, sessions on ``default``. Every public service is called through
``routed``, which fails the test when the call sends any query or on-commit hook to ``default``,
sends none to ``booking``, or sends a signal before the booking database commits.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from importlib import import_module
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session as WebSession
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_liveclass_booking import services, signals
from django_liveclass_booking.exceptions import PolicyViolation, SessionFull, SlotUnavailable
from django_liveclass_booking.models import (
    BookingSeriesItem,
    CalendarFeedToken,
    SessionWaitlist,
    TeacherAvailability,
    TeacherBookingPolicy,
    TeacherTimeOff,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from django_liveclass_booking.operations import OVERLAP_CONSTRAINT

from .routers import BOOKING, DEFAULT, BookingRouter
from .threads import run_at_once

pytestmark = [pytest.mark.router, pytest.mark.django_db(databases=[DEFAULT, BOOKING])]

TUESDAY = dt.datetime(2026, 5, 5, tzinfo=dt.UTC)


class Routed:
    """Calls a service and checks where its queries, on-commit hooks and signals went."""

    def __init__(self, capture_on_commit: Callable[..., Any], signal_log: Any) -> None:
        self.capture_on_commit = capture_on_commit
        self.signal_log = signal_log
        self.booking_sql: list[str] = []

    def __call__(self, service: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The service's result; a refusal is raised again once its queries and hooks are checked too."""
        sent_before = len(self.signal_log.sent)
        refusal: Exception | None = None
        with ExitStack() as stack:
            on_default = stack.enter_context(CaptureQueriesContext(connections[DEFAULT]))
            on_booking = stack.enter_context(CaptureQueriesContext(connections[BOOKING]))
            hooks_on_default = stack.enter_context(self.capture_on_commit(using=DEFAULT))
            hooks = stack.enter_context(self.capture_on_commit(using=BOOKING))
            try:
                result = service(*args, **kwargs)
            except Exception as exc:
                refusal = exc
        assert [q["sql"] for q in on_default.captured_queries] == [], f"{service.__name__} used the default database"
        assert on_booking.captured_queries, f"{service.__name__} sent nothing to the booking database"
        assert list(hooks_on_default) == [], f"{service.__name__} waits for a commit of the default database"
        # Signals wait for the booking database's commit: none is sent inside the call.
        assert len(self.signal_log.sent) == sent_before, self.signal_log.names[sent_before:]
        self.booking_sql = [q["sql"] for q in on_booking.captured_queries]
        if refusal is not None:
            # Rolled back on the booking database, which drops its hooks: a refusal signals nothing.
            assert list(hooks) == [], f"{service.__name__} keeps hooks of a rolled-back change"
            raise refusal
        for hook in hooks:
            hook()
        return result

    def signals(self, service: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
        """The result, and the names of the signals its commit sent."""
        before = len(self.signal_log.sent)
        result = self(service, *args, **kwargs)
        return result, self.signal_log.names[before:]


@pytest.fixture
def routed(django_capture_on_commit_callbacks: Any, signal_log: Any) -> Routed:
    return Routed(django_capture_on_commit_callbacks, signal_log)


def on_booking(model: Any, **filters: Any) -> Any:
    return model._default_manager.db_manager(BOOKING).filter(**filters)


def stored(obj: Any) -> Any:
    return on_booking(type(obj), pk=obj.pk).get()


@pytest.fixture
def open_tuesdays(teacher: Any, routed: Routed) -> Any:
    """The teacher takes 1:1 lessons on Tuesdays 10:00-18:00 UTC."""
    routed(services.add_availability, teacher, weekday=1, start_time=dt.time(10), end_time=dt.time(18),
           timezone="UTC")
    return teacher


# --- the setup itself ----------------------------------------------------------------------------


def test_the_booking_tables_live_on_the_booking_database_only():
    on_default = set(connections[DEFAULT].introspection.table_names())
    on_booking_db = set(connections[BOOKING].introspection.table_names())
    tables = {get_booking_model()._meta.db_table, get_session_model()._meta.db_table,
              TeacherBookingPolicy._meta.db_table, get_user_model()._meta.db_table}
    assert tables <= on_booking_db
    assert not tables & on_default
    # The router really splits: what is not the booking app's stays on default.
    assert WebSession._meta.db_table in on_default - on_booking_db
    if connections[BOOKING].vendor == "postgresql":
        with connections[BOOKING].cursor() as cursor:
            constraints = connections[BOOKING].introspection.get_constraints(cursor, get_session_model()._meta.db_table)
        assert OVERLAP_CONSTRAINT in constraints


def test_the_engine_resolves_the_booking_alias():
    from django_liveclass_booking.services._engine import db

    assert (db.alias(), db.connection().alias) == (BOOKING, BOOKING)


# --- group sessions and seats ----------------------------------------------------------------------


def test_sessions_are_scheduled_on_the_booking_database(teacher, routed, now):
    session = routed(services.schedule_session, teacher, start=now + dt.timedelta(days=1), duration=60, capacity=3,
                     now=now, title="Algebra")
    assert session._state.db == BOOKING
    assert stored(session).title == "Algebra"
    sessions = routed(services.schedule_recurring_sessions, teacher, first_start=TUESDAY.replace(hour=8),
                      duration=60, capacity=2, rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC", now=now)
    assert on_booking(get_session_model(), recurrence_key=sessions[0].recurrence_key).count() == 3


def test_a_seat_is_booked_checked_and_cancelled_on_the_booking_database(session, student, teacher, routed, now):
    decision = routed(services.check_booking, student, session=session, now=now)
    assert decision.allowed
    booking, sent = routed.signals(services.book_seat, student, session, now=now)
    assert sent == ["booking_confirmed"]
    assert (stored(booking).status, stored(session).seats_taken) == ("confirmed", 1)
    if connections[BOOKING].vendor == "postgresql":
        # A plain booking model takes the one-statement claim-and-insert, on the booking connection.
        assert any(sql.startswith("WITH claim AS") for sql in routed.booking_sql), routed.booking_sql
    _, sent = routed.signals(services.cancel_booking, booking, actor=student, now=now)
    assert sent == ["booking_cancelled"]
    assert (stored(booking).status, stored(session).seats_taken) == ("cancelled", 0)


def test_pending_seats_are_confirmed_and_declined_on_the_booking_database(session, student, other_student, teacher,
                                                                           routed, now):
    routed(services.set_policy, teacher, approval_mode="manual", max_bookings_per_day=2, max_pending_requests=2)
    first = routed(services.book_seat, student, session, now=now)
    second = routed(services.book_seat, other_student, session, now=now)
    assert {stored(first).status, stored(second).status} == {"pending"}
    _, sent = routed.signals(services.confirm_booking, first, actor=teacher, now=now)
    assert sent == ["booking_confirmed"]
    _, sent = routed.signals(services.decline_booking, second, actor=teacher, reason="Full up", now=now)
    assert sent == ["booking_declined"]
    assert (stored(first).status, stored(second).status, stored(session).seats_taken) == ("confirmed", "declined", 1)


def test_refusals_write_nothing_and_signal_nothing_anywhere(make_session, teacher, student, other_student, routed,
                                                            now):
    routed(services.set_policy, teacher, max_bookings_per_day=1)
    session, same_day = make_session(capacity=1), make_session(capacity=5)
    routed(services.book_seat, student, session, now=now)
    with pytest.raises(SessionFull):
        routed(services.book_seat, other_student, session, now=now)
    with pytest.raises(PolicyViolation) as refused:
        routed(services.book_seat, student, same_day, now=now)
    assert refused.value.codes == ["daily_limit"]
    with pytest.raises(SlotUnavailable):
        routed(services.schedule_session, teacher, start=session.start_at_utc, duration=30, capacity=2, now=now)
    assert on_booking(get_booking_model(), teacher=teacher).count() == 1
    assert on_booking(get_session_model(), teacher=teacher).count() == 2
    assert stored(same_day).seats_taken == 0


def test_cancelling_a_session_cancels_its_bookings_on_the_booking_database(session, student, teacher, routed, now):
    booking = routed(services.book_seat, student, session, now=now)
    _, sent = routed.signals(services.cancel_session, session, actor=teacher, reason="Ill", now=now)
    assert sent == ["booking_cancelled", "session_cancelled"]
    assert (stored(session).status, stored(booking).status) == ("cancelled", "cancelled")


# --- the waitlist ----------------------------------------------------------------------------------


@pytest.fixture
def full_with_line(make_session, make_user, routed, now):
    """A one-seat session, booked, and three students waiting for it in this order."""
    session = make_session(capacity=1)
    booking = routed(services.book_seat, make_user(), session, now=now)
    line = [routed(services.join_waitlist, make_user(), session, now=now) for _ in range(3)]
    return session, booking, line


def test_the_waitlist_moves_on_the_booking_database(full_with_line, routed, now):
    session, booking, line = full_with_line
    assert [stored(e).position for e in line] == [1, 2, 3]
    _, sent = routed.signals(services.cancel_booking, booking, actor=booking.student, now=now)
    assert sent == ["booking_cancelled", "waitlist_seat_offered"]
    _, sent = routed.signals(services.decline_offer, stored(line[0]), actor=line[0].student, now=now)
    assert sent == ["waitlist_seat_offered"]
    _, sent = routed.signals(services.leave_waitlist, stored(line[1]), actor=line[1].student, now=now)
    assert sent == ["waitlist_seat_offered"]
    seat, sent = routed.signals(services.accept_offer, stored(line[2]), actor=line[2].student, now=now)
    assert sent == ["waitlist_offer_accepted", "booking_confirmed"]
    assert [stored(e).status for e in line] == ["declined", "left", "accepted"]
    assert (stored(seat).source, stored(session).seats_taken) == ("waitlist", 1)


def test_offers_are_made_and_expire_on_the_booking_database(full_with_line, routed, now):
    session, _, line = full_with_line
    # Staff add a seat: free while three students wait, so it goes to the first in line.
    on_booking(get_session_model(), pk=session.pk).update(capacity=2)
    offered, sent = routed.signals(services.offer_seat, stored(line[0]), now=now)
    assert (offered.status, sent) == (WaitlistStatus.OFFERED, ["waitlist_seat_offered"])
    later = now + dt.timedelta(minutes=61)
    _, sent = routed.signals(services.expire_offer, stored(line[0]), now=later)
    assert sent == ["waitlist_offer_expired", "waitlist_seat_offered"]
    assert [stored(e).status for e in line] == ["expired", "offered", "waiting"]


def test_the_sweep_runs_on_the_booking_database(full_with_line, routed, now):
    _, booking, line = full_with_line
    routed(services.cancel_booking, booking, actor=booking.student, now=now)
    counts, sent = routed.signals(services.process_due, now=now + dt.timedelta(minutes=61))
    assert counts == {"expired_requests": 0, "expired_offers": 1, "offers_made": 1,
                      "expired_reschedules": 0, "completed": 0,
                      "notifications_sent": 0, "idempotency_keys_deleted": 0}
    assert sent == ["waitlist_offer_expired", "waitlist_seat_offered"]
    assert [stored(e).status for e in line] == ["expired", "offered", "waiting"]


# --- 1:1 lessons and a teacher's settings ---------------------------------------------------------------


def test_lessons_are_requested_decided_and_swept_on_the_booking_database(open_tuesdays, student, other_student,
                                                                          routed, now):
    teacher = open_tuesdays
    policy = routed(services.set_policy, teacher, approval_mode="manual", request_ttl_hours=2, buffer_minutes=10)
    assert stored(policy).approval_mode == "manual"
    slots = routed(services.available_slots, teacher, start=TUESDAY, end=TUESDAY + dt.timedelta(days=1),
                   duration=60, now=now)
    assert slots[0] == (TUESDAY.replace(hour=10), TUESDAY.replace(hour=11))
    ten, noon, two = (TUESDAY.replace(hour=h) for h in (10, 12, 14))
    decision = routed(services.check_booking, student, teacher=teacher, start=ten, duration=60, now=now)
    assert (decision.allowed, decision.requires_approval) == (True, True)
    lesson, sent = routed.signals(services.request_lesson, student, teacher, start=ten, duration=60, now=now,
                                  message="Exam prep")
    assert sent == ["booking_requested"]
    declined = routed(services.request_lesson, other_student, teacher, start=noon, duration=60, now=now)
    expiring = routed(services.request_lesson, student, teacher, start=two, duration=60, now=now)
    routed(services.confirm_booking, lesson, actor=teacher, now=now)
    _, sent = routed.signals(services.decline_booking, declined, actor=teacher, now=now)
    assert sent == ["booking_declined", "session_cancelled"]
    counts, sent = routed.signals(services.process_due, now=now + dt.timedelta(hours=3))
    assert (counts["expired_requests"], sent) == (1, ["booking_expired", "session_cancelled"])
    assert [stored(b).status for b in (lesson, declined, expiring)] == ["confirmed", "declined", "expired"]
    assert stored(lesson).message == "Exam prep"


def test_availability_and_time_off_are_kept_on_the_booking_database(teacher, routed):
    window = routed(services.add_availability, teacher, weekday=2, start_time=dt.time(9), end_time=dt.time(12))
    away = routed(services.add_time_off, teacher, start=TUESDAY, end=TUESDAY + dt.timedelta(days=2), reason="Trip")
    assert stored(window).weekday == 2
    assert stored(away).reason == "Trip"
    routed(services.remove_availability, window, actor=teacher)
    routed(services.remove_time_off, away, actor=teacher)
    assert not on_booking(TeacherAvailability, teacher=teacher).exists()
    assert not on_booking(TeacherTimeOff, teacher=teacher).exists()


# --- recurring bookings ---------------------------------------------------------------------------


def test_lesson_series_are_created_and_decided_on_the_booking_database(open_tuesdays, student, other_student,
                                                                        routed, now):
    teacher = open_tuesdays
    routed(services.set_policy, teacher, approval_mode="manual", max_bookings_per_week=2)
    weekly = {"duration": 60, "rrule": "FREQ=WEEKLY;COUNT=3", "timezone": "UTC", "now": now}
    confirmed, sent = routed.signals(services.create_series, student, teacher, first_start=TUESDAY.replace(hour=10),
                                     **weekly)
    assert sent == ["series_created"] + ["booking_requested"] * 3
    declined = routed(services.create_series, other_student, teacher, first_start=TUESDAY.replace(hour=14), **weekly)
    _, sent = routed.signals(services.confirm_series, confirmed, actor=teacher, now=now)
    assert sent == ["booking_confirmed"] * 3
    routed(services.decline_series, declined, actor=teacher, now=now)
    count = routed(services.cancel_series, confirmed, actor=student, from_start=TUESDAY + dt.timedelta(days=7),
                   now=now)
    assert count == 2
    assert [stored(s).status for s in (confirmed, declined)] == ["active", "declined"]
    statuses = Counter(on_booking(get_booking_model(), series_item__series=confirmed).values_list("status", flat=True))
    assert statuses == {"confirmed": 1, "cancelled": 2}


def test_subscribing_to_a_recurring_class_books_and_waits_on_the_booking_database(teacher, student, other_student,
                                                                                  routed, now):
    sessions = routed(services.schedule_recurring_sessions, teacher, first_start=TUESDAY.replace(hour=8), duration=60,
                      capacity=1, rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC", now=now)
    routed(services.book_seat, other_student, sessions[1], now=now)
    series, sent = routed.signals(services.subscribe_to_recurring_sessions, student, sessions[0].recurrence_key,
                                  now=now)
    assert sent == ["booking_confirmed", "waitlist_joined", "booking_confirmed", "series_created"]
    items = on_booking(BookingSeriesItem, series=series).order_by("index")
    assert [i.status for i in items] == ["booked", "waitlisted", "booked"]
    assert on_booking(SessionWaitlist, student=student).count() == 1


# --- calendar feed tokens --------------------------------------------------------------------------


def test_feed_tokens_are_issued_and_revoked_on_the_booking_database(student, routed, now):
    token = routed(services.issue_feed_token, student, now=now)
    rotated = routed(services.issue_feed_token, student, now=now)
    assert token != rotated
    assert on_booking(CalendarFeedToken, user=student, revoked_at__isnull=True).count() == 1
    assert routed(services.revoke_feed_token, student, now=now) == 1
    assert not on_booking(CalendarFeedToken, user=student, revoked_at__isnull=True).exists()


# --- a router that reads the booking models from elsewhere ------------------------------------------


class StaleReadsRouter(BookingRouter):
    """Reads of the booking app from ``default``, as a router with a read replica sends them.

    ``default`` has no booking table, so any such read fails: a decision to write must read on
    the booking database, inside its transaction, where a replica's lag cannot reach it.
    """

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return DEFAULT if model._meta.app_label == "liveclass_booking" else super().db_for_read(model, **hints)


@override_settings(DATABASE_ROUTERS=[StaleReadsRouter()])
def test_decisions_to_write_never_read_from_the_read_database(make_session, teacher, student, other_student,
                                                              routed, now):
    routed(services.set_policy, teacher, approval_mode="manual_for_new_students", max_bookings_per_day=3,
           max_bookings_per_week=3, max_pending_requests=3, cancellation_cutoff_hours=1)
    session = make_session(capacity=1)
    booking = routed(services.book_seat, student, session, now=now)
    entry = routed(services.join_waitlist, other_student, session, now=now)
    routed(services.cancel_booking, booking, actor=student, now=now)
    assert stored(entry).status == WaitlistStatus.OFFERED


@override_settings(DATABASE_ROUTERS=[StaleReadsRouter()])
def test_the_lesson_length_migration_reads_the_database_it_migrates(teacher):
    migration = import_module("django_liveclass_booking.migrations.0006_text_without_nul_and_lesson_length_bounds")
    policy = TeacherBookingPolicy.objects.using(BOOKING).create(teacher=teacher, lesson_durations=[30, 30, 5000])
    migration.bound_stored_lesson_durations(django_apps, SimpleNamespace(connection=connections[BOOKING]))
    assert stored(policy).lesson_durations == [30, 24 * 60]


# --- the legacy import and the admin ----------------------------------------------------------------


def test_the_legacy_import_writes_to_the_booking_database_by_default(teacher, routed, now):
    from django_liveclass_booking.legacy import import_rows

    rows = {"sessions": [{"id": 1, "teacher": teacher.get_username(), "title": "Imported", "timezone": "UTC",
                          "scheduled_start": "2026-05-07T10:00:00", "duration_minutes": 60, "total_seats": 4,
                          "status": "scheduled"}]}
    report = routed(import_rows, rows, apply=True, now=now)
    assert report.sessions_created == 1
    assert on_booking(get_session_model(), title="Imported").exists()


def test_the_import_command_writes_to_the_booking_database_by_default(teacher, tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"sessions": [{
        "id": 1, "teacher": teacher.get_username(), "title": "Imported", "timezone": "UTC",
        "scheduled_start": "2026-05-07T10:00:00", "duration_minutes": 60, "total_seats": 4, "status": "scheduled",
    }]}))
    call_command("liveclass_booking", "import_legacy", str(export), "--apply", "--now", "2026-05-04T09:00:00+00:00",
                 stdout=io.StringIO())
    assert on_booking(get_session_model(), title="Imported").exists()


def test_the_admin_schedules_a_session_in_a_transaction_of_the_booking_database(rf, teacher):
    from django.contrib import admin

    from django_liveclass_booking.admin import LiveClassSessionAdmin

    superuser = get_user_model().objects.create_superuser("root", password="pw")
    request = rf.get("/")
    request.user = superuser
    form_class = LiveClassSessionAdmin(get_session_model(), admin.site).get_form(request)
    # The admin books against the real clock.
    start = timezone.now() + dt.timedelta(days=2)
    data = {"teacher": teacher.pk, "start_0": start.date().isoformat(), "start_1": "10:00", "timezone": "UTC",
            "duration_minutes": 60, "capacity": 5, "title": "From the admin"}
    with CaptureQueriesContext(connections[DEFAULT]) as on_default:
        form = form_class(data=data)
        assert form.is_valid(), form.errors
    assert [q["sql"] for q in on_default.captured_queries] == []
    assert on_booking(get_session_model(), title="From the admin").exists()


def test_the_admin_removes_windows_in_a_transaction_of_the_booking_database(rf, teacher):
    from django.contrib import admin

    from django_liveclass_booking.admin.teachers import TeacherAvailabilityAdmin

    windows = [services.add_availability(teacher, weekday=day, start_time=dt.time(9), end_time=dt.time(12))
               for day in (0, 1)]
    request = rf.post("/")
    request.user = teacher
    model_admin = TeacherAvailabilityAdmin(TeacherAvailability, admin.site)
    with CaptureQueriesContext(connections[DEFAULT]) as on_default:
        model_admin.delete_queryset(request, TeacherAvailability.objects.filter(pk__in=[w.pk for w in windows]))
    assert [q["sql"] for q in on_default.captured_queries] == []
    assert not on_booking(TeacherAvailability, teacher=teacher).exists()


# --- commits and races on real connections ----------------------------------------------------------


@pytest.mark.django_db(databases=[DEFAULT, BOOKING], transaction=True)
def test_signals_are_sent_after_the_booking_database_commits(make_session, student, teacher, now):
    session = make_session(capacity=2)
    seen: list[tuple[str, bool, bool]] = []

    def receiver(sender: Any, booking: Any, signal: Any, **kwargs: Any) -> None:
        # Another connection (a thread's own) sees the change only once the booking database committed it.
        [visible] = run_at_once(lambda _: on_booking(get_booking_model(), pk=booking.pk, status=booking.status)
                                .exists(), [None])
        seen.append((booking.status, connections[BOOKING].in_atomic_block, visible))

    for signal in (signals.booking_confirmed, signals.booking_cancelled):
        signal.connect(receiver, weak=False)
    try:
        booking = services.book_seat(student, session, now=now)
        services.cancel_booking(booking, actor=teacher, now=now)
    finally:
        for signal in (signals.booking_confirmed, signals.booking_cancelled):
            signal.disconnect(receiver)
    assert seen == [("confirmed", False, True), ("cancelled", False, True)]


@pytest.mark.concurrency
@pytest.mark.django_db(databases=[DEFAULT, BOOKING], transaction=True)
def test_threads_racing_for_the_last_seat_through_the_router_book_it_once(make_session, make_user, now):
    for _ in range(3):
        session = make_session(capacity=2)
        services.book_seat(make_user(), session, now=now)
        students = [make_user() for _ in range(6)]

        results = run_at_once(lambda student, s=session: services.book_seat(student, s, now=now), students)

        assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, SessionFull)], results
        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert on_booking(get_booking_model(), session_id=session.pk, status="confirmed").count() == 2
        assert stored(session).seats_taken == 2


@pytest.mark.django_db(databases=[DEFAULT, BOOKING], transaction=True)
def test_notifications_are_written_and_sent_on_the_booking_database(session, student, teacher, now, settings):
    from django.core import mail

    from django_liveclass_booking.models import Notification

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LIVECLASS_BOOKING = {"NOTIFICATIONS": {"ENABLED": True}}
    student.email = "student@example.com"
    student.save(using=BOOKING)
    with CaptureQueriesContext(connections[DEFAULT]) as on_default:
        booking = services.book_seat(student, session, now=now)
        counts = services.process_due(now=now)
    assert [q["sql"] for q in on_default.captured_queries] == []
    rows = on_booking(Notification, session_id=session.pk)
    # The class starts in 24 hours: the 1-hour reminders only, to the student and to the teacher.
    assert sorted(rows.values_list("kind", "recipient_id")) == sorted(
        [("booking_confirmed", student.pk), ("reminder", student.pk), ("reminder", teacher.pk)])
    assert rows.get(kind="booking_confirmed", booking=booking).sent_at is not None, "sent after the commit"
    assert counts["notifications_sent"] == 0
    assert [m.to for m in mail.outbox] == [["student@example.com"]]
