"""Reads from a real streaming replica (tests.settings_replica, ``.ci/replica.sh``).

The replica's replay is paused to make its lag deterministic: while paused, it shows the state of
the moment it stopped, whatever is committed on the primary after. The first test is the control:
a reader nothing pins to the primary does see that older state, so the read-your-writes tests
after it prove something. Transactional tests only, since a replica sees committed data alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.test import Client
from django.urls import reverse

from django_liveclass_booking import services
from django_liveclass_booking.models import SessionWaitlist, get_booking_model, get_session_model
from django_liveclass_booking.routers import ReadYourWritesMiddleware, ReplicaRouter, use_primary

from .api_student_helpers import soon

pytestmark = [pytest.mark.replica, pytest.mark.django_db(transaction=True, databases=["default", "replica"])]

COOKIE = ReadYourWritesMiddleware.cookie_name
#: How long the replica may take to connect or to replay what the primary committed.
PATIENCE = 60


def value(alias: str, sql: str, params: Any = ()) -> Any:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def catch_up() -> None:
    """Wait until the replica has replayed everything the primary has committed so far."""
    target = value("default", "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + PATIENCE
    while not value("replica", "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]):
        if time.monotonic() > deadline:
            pytest.fail(f"the replica did not replay up to {target} within {PATIENCE} s")
        time.sleep(0.02)


@contextlib.contextmanager
def replay_paused() -> Iterator[None]:
    """The replica stops replaying: it keeps the state of now until the block ends."""
    try:
        value("replica", "SELECT pg_wal_replay_pause()::text")
        deadline = time.monotonic() + PATIENCE
        while value("replica", "SELECT pg_get_wal_replay_pause_state()") != "paused":
            if time.monotonic() > deadline:
                pytest.fail("the replica's replay did not pause")
            time.sleep(0.02)
        yield
    finally:
        value("replica", "SELECT pg_wal_replay_resume()::text")


@pytest.fixture(autouse=True)
def replica() -> None:
    """A reachable streaming replica holding the test database, caught up. Fails, never skips, without one."""
    import psycopg

    where = connections["replica"].settings_dict
    try:
        psycopg.connect(host=where["HOST"], port=where["PORT"], user=where["USER"], password=where["PASSWORD"],
                        dbname="postgres", connect_timeout=10).close()
    except psycopg.Error as exc:
        pytest.fail(f"no replica at {where['HOST']}:{where['PORT']} (run .ci/replica.sh): {exc}")
    deadline = time.monotonic() + PATIENCE
    while True:
        # The test database appears on the replica once it has replayed its creation.
        try:
            connections["replica"].ensure_connection()
            break
        except Exception as exc:
            connections["replica"].close()
            if time.monotonic() > deadline:
                pytest.fail(f"no replica at the 'replica' alias (run .ci/replica.sh): {exc}")
            time.sleep(0.2)
    port, recovering, name = (value("replica", sql) for sql in (
        "SELECT inet_server_port()", "SELECT pg_is_in_recovery()", "SELECT current_database()"))
    assert (port, recovering) == (int(connections["replica"].settings_dict["PORT"]), True)
    assert port != int(connections["default"].settings_dict["PORT"])
    assert name == connections["default"].settings_dict["NAME"]
    value("replica", "SELECT pg_wal_replay_resume()::text")  # in case a run stopped while paused


@contextlib.contextmanager
def queries_on(alias: str, *, refuse: bool = False) -> Iterator[list[str]]:
    """The statements run on ``alias`` in this thread; with ``refuse``, each also fails."""
    seen: list[str] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        if refuse:
            raise AssertionError(f"a statement on {alias!r}: {sql}")
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(wrapper):
        yield seen


def url(name: str, *args: Any) -> str:
    return reverse(f"liveclass_booking:{name}", args=args)


@pytest.fixture
def group(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=soon(), duration=60, capacity=3, title="Algebra II",
                                     timezone="UTC")


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_get(client: Client, path: str) -> Any:
    response = client.get(f"/api/{path}")
    assert response.status_code == 200, (response.status_code, response.content)
    return json.loads(response.content)


def my_bookings(client: Client) -> str:
    response = client.get(url("my_bookings"))
    assert response.status_code == 200
    return response.content.decode()


# --- a. the control: a reader nothing pins reads the replica's older state ---------------------------


def test_a_reader_who_did_not_write_reads_the_replicas_older_state(student: Any, group: Any) -> None:
    page, api = signed_in(student), signed_in(student)
    assert "Algebra II" not in my_bookings(page)
    catch_up()
    with replay_paused():
        # A write no request of these browsers made (a worker, another device, the admin).
        booking = services.book_seat(student, group)
        assert "Algebra II" not in my_bookings(page)
        assert api_get(api, "bookings/")["results"] == []
        assert api_get(api, f"sessions/{group.pk}/")["seats_taken"] == 0
        with use_primary():
            assert get_booking_model().objects.filter(pk=booking.pk).exists()
    catch_up()
    assert "Algebra II" in my_bookings(page)
    assert [b["id"] for b in api_get(api, "bookings/")["results"]] == [booking.pk]


# --- b. read your writes ----------------------------------------------------------------------------


def test_whoever_books_on_a_page_sees_the_booking_on_the_next_pages(student: Any, other_student: Any,
                                                                     group: Any) -> None:
    mine, theirs = signed_in(student), signed_in(other_student)
    catch_up()
    with replay_paused():
        with queries_on("replica", refuse=True):
            response = mine.post(url("book_seat", group.pk))
        assert response.status_code == 302 and COOKIE in response.cookies
        assert "Algebra II" in my_bookings(mine)
        assert mine.get(response["Location"]).status_code == 200
        # Someone who did not write still reads the replica: the seat is not taken there yet.
        assert api_get(theirs, f"sessions/{group.pk}/")["seats_taken"] == 0
        assert api_get(mine, f"sessions/{group.pk}/")["seats_taken"] == 1


def test_whoever_books_through_the_api_sees_the_booking_in_the_next_lists(student: Any, other_student: Any,
                                                                          group: Any) -> None:
    mine, theirs = signed_in(student), signed_in(other_student)
    catch_up()
    with replay_paused():
        response = mine.post(f"/api/sessions/{group.pk}/bookings/", {}, content_type="application/json")
        assert response.status_code == 201, response.content
        created = json.loads(response.content)["id"]
        assert [b["id"] for b in api_get(mine, "bookings/")["results"]] == [created]
        listed = {s["id"]: s for s in api_get(mine, "sessions/")["results"]}
        assert listed[group.pk]["seats_taken"] == 1
        assert api_get(theirs, f"sessions/{group.pk}/")["seats_taken"] == 0


def test_without_the_window_only_the_writing_request_reads_the_primary(student: Any, group: Any,
                                                                       settings: Any) -> None:
    settings.LIVECLASS_BOOKING_READ_YOUR_WRITES_SECONDS = 0
    mine = signed_in(student)
    catch_up()
    with replay_paused():
        response = mine.post(url("book_seat", group.pk))
        assert response.status_code == 302 and COOKIE not in response.cookies
        assert "Algebra II" not in my_bookings(mine)


def test_a_forged_or_foreign_cookie_pins_nothing(student: Any, group: Any) -> None:
    mine = signed_in(student)
    mine.cookies[COOKIE] = "1"
    catch_up()
    with replay_paused():
        services.book_seat(student, group)
        assert "Algebra II" not in my_bookings(mine)


def test_use_primary_and_transactions_read_the_primary(student: Any, group: Any) -> None:
    catch_up()
    bookings = get_booking_model().objects.filter(session_id=group.pk)
    with replay_paused():
        services.book_seat(student, group)
        assert not bookings.exists()
        with use_primary():
            assert bookings.exists()
        with transaction.atomic():
            assert bookings.exists()
        assert not bookings.exists()


def test_an_object_read_from_the_replica_is_saved_to_the_primary(group: Any) -> None:
    catch_up()
    copy = get_session_model().objects.get(pk=group.pk)
    assert copy._state.db == "replica"
    copy.title = "Algebra III"
    with queries_on("replica", refuse=True):
        copy.save(update_fields=["title"])
    with use_primary():
        assert get_session_model().objects.get(pk=group.pk).title == "Algebra III"


# --- c. the services never touch the replica ----------------------------------------------------------


def test_no_service_touches_the_replica(teacher: Any, student: Any, other_student: Any, now: dt.datetime) -> None:
    day = now + dt.timedelta(days=2)
    catch_up()
    with queries_on("replica") as control:
        get_session_model().objects.count()
    assert control, "the wrapper sees no replica statement: it would prove nothing"

    with replay_paused(), queries_on("replica", refuse=True) as touched:
        services.set_policy(teacher, approval_mode="auto")
        for weekday in range(7):
            services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(18),
                                      timezone="UTC")
        off = services.add_time_off(teacher, start=day + dt.timedelta(days=3), end=day + dt.timedelta(days=4))
        services.remove_time_off(off, actor=teacher)
        slots = services.available_slots(teacher, start=day, end=day + dt.timedelta(days=1), duration=60, now=now)
        assert services.check_booking(student, teacher=teacher, start=slots[0][0], duration=60, now=now)
        lesson = services.request_lesson(student, teacher, start=slots[0][0], duration=60, now=now)
        change = services.request_reschedule(lesson, start=slots[3][0], actor=teacher, now=now)
        services.withdraw_reschedule(change, actor=teacher, now=now)
        change = services.request_reschedule(lesson, start=slots[4][0], actor=teacher, now=now)
        services.decline_reschedule(change, actor=student, now=now)
        change = services.request_reschedule(lesson, start=slots[5][0], actor=teacher, now=now)
        services.accept_reschedule(change, actor=student, now=now)
        first = services.schedule_session(teacher, start=day + dt.timedelta(hours=10), duration=60, capacity=1,
                                          title="A", timezone="UTC", now=now)
        second = services.schedule_session(teacher, start=day + dt.timedelta(days=1, hours=10), duration=60,
                                           capacity=2, title="B", timezone="UTC", now=now)
        seat = services.book_seat(student, first, now=now)
        entry = services.join_waitlist(other_student, first, now=now)
        services.move_seat(seat, second, actor=student, now=now)
        entry = SessionWaitlist.objects.using("default").get(pk=entry.pk)
        if entry.status == "waiting":
            entry = services.offer_seat(entry, now=now)
        services.accept_offer(entry, actor=other_student, now=now)
        services.update_session(second, actor=teacher, title="B2", now=now)
        services.reschedule_session(second, start=day + dt.timedelta(days=1, hours=12), actor=teacher, now=now)
        token = services.issue_feed_token(student, now=now)
        assert services.calendar.feed_user(token, now=now) == student
        services.revoke_feed_token(student, now=now)
        services.cancel_booking(seat, actor=student, now=now)
        recurring = services.schedule_recurring_sessions(
            teacher, first_start=day + dt.timedelta(days=7, hours=14), duration=60, capacity=3,
            rrule="FREQ=WEEKLY;COUNT=2", timezone="UTC", now=now)
        series = services.subscribe_to_recurring_sessions(student, recurring[0].recurrence_key, now=now)
        services.cancel_series(series, actor=student, now=now)
        services.cancel_session(second, actor=teacher, now=now)
        lesson = get_booking_model().objects.using("default").select_related("session").get(pk=lesson.pk)
        services.record_outcome(lesson, outcome="completed", actor=teacher,
                                now=lesson.session.end_at_utc + dt.timedelta(minutes=30))
        services.process_due(now=now + dt.timedelta(days=30))
    assert touched == []


# --- d. pages and the API read the replica when nothing pins them ------------------------------------


def test_lists_slots_and_feeds_read_the_replica(teacher: Any, student: Any, group: Any) -> None:
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(9), end_time=dt.time(17),
                                  timezone="UTC")
    services.book_seat(student, group)
    token = services.issue_feed_token(student)
    browser = signed_in(student)
    week = soon(3, 0).strftime("%Y-%m-%dT%H:%M:%SZ")
    next_day = soon(4, 0).strftime("%Y-%m-%dT%H:%M:%SZ")
    pages = [
        url("session_list"), url("my_bookings"), url("teacher_list"), url("request_lesson", teacher.pk),
        "/api/sessions/", "/api/bookings/", "/api/teachers/",
        f"/api/teachers/{teacher.pk}/slots/?start={week}&end={next_day}&duration_minutes=60",
    ]
    catch_up()
    for page in pages:
        with queries_on("replica") as seen:
            response = browser.get(page)
        assert response.status_code == 200, (page, response.status_code, response.content[:300])
        assert seen, f"{page} read nothing from the replica"
    with queries_on("replica") as seen:
        response = Client().get(url("calendar_feed_ics", token))
    assert response.status_code == 200 and b"Algebra II" in response.content
    assert seen, "the calendar feed read nothing from the replica"


# --- the settings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [
    ["replica"], {"default": "replica"}, {"default": []}, {"default": ["nowhere"]}, {"default": ["default"]},
    {"default": ["replica"], "replica": ["default"]},
])
def test_a_bad_replicas_setting_is_refused(settings: Any, replicas: Any) -> None:
    settings.LIVECLASS_BOOKING_REPLICAS = replicas
    with pytest.raises(ImproperlyConfigured, match="LIVECLASS_BOOKING_REPLICAS"):
        ReplicaRouter().db_for_read(get_session_model())
