"""The booking's one statement, prepared once per connection on PostgreSQL, sent whole elsewhere.

Outside a transaction PostgreSQL books a seat with one statement (see test_policy_copies); with
Django's client-side binding it is PREPAREd on the connection's first booking and EXECUTEd after.
When the server no longer has the statement, as behind a pooler that hands the client another
server connection, the booking still succeeds and the process stops preparing on that database.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from django_liveclass_booking import services
from django_liveclass_booking.models import BookingStatus, get_booking_model
from django_liveclass_booking.services._engine import preparing

pytestmark = pytest.mark.django_db(transaction=True)

OPTIONS = connection.settings_dict["OPTIONS"]
PREPARES = (connection.vendor == "postgresql" and OPTIONS.get("server_side_binding") is not True
            and not ("prepare_threshold" in OPTIONS and OPTIONS["prepare_threshold"] is None))


def _kinds(queries: list[dict[str, Any]]) -> list[str]:
    return [q["sql"].split(None, 1)[0].upper() for q in queries]


def _book(make_user: Any, session: Any, now: Any) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        booking = services.book_seat(make_user(), session, now=now)
    return booking, _kinds(captured.captured_queries)


def _stored(booking: Any) -> Any:
    return get_booking_model().objects.get(pk=booking.pk)


def test_the_statement_is_prepared_once_per_connection(make_user, make_session, now):
    session = make_session(capacity=5)
    connection.close()  # a new connection has prepared nothing
    first, sent_first = _book(make_user, session, now)
    second, sent_second = _book(make_user, session, now)

    assert _stored(first).status == _stored(second).status == BookingStatus.CONFIRMED
    session.refresh_from_db()
    assert session.seats_taken == 2
    if PREPARES:
        assert sent_first.count("PREPARE") == 1 and sent_first.count("EXECUTE") == 1
        assert "PREPARE" not in sent_second and sent_second.count("EXECUTE") == 1
    else:
        assert preparing.usable(connection) is False
        assert "PREPARE" not in sent_first + sent_second and "EXECUTE" not in sent_first + sent_second


def test_inside_a_transaction_nothing_is_prepared(make_user, make_session, now):
    from django.db import transaction

    session = make_session(capacity=5)
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        services.book_seat(make_user(), session, now=now)
        assert preparing.usable(connection) is False
    assert not {"PREPARE", "EXECUTE"} & set(_kinds(captured.captured_queries))


def test_the_setting_turns_it_off(make_user, make_session, now):
    session = make_session(capacity=5)
    with override_settings(LIVECLASS_BOOKING={"PREPARE_STATEMENTS": False}):
        booking, sent = _book(make_user, session, now)
    assert _stored(booking).status == BookingStatus.CONFIRMED
    assert not {"PREPARE", "EXECUTE"} & set(sent)


def _lose_prepared_statements() -> None:
    """What a pooler does to a client: the server connection it now talks to has none of its statements."""
    if connection.vendor != "postgresql":
        return  # nothing was prepared
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")


def _prepare_behind_its_back(sql_name: str, sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"PREPARE {sql_name} AS {sql}")


@pytest.mark.parametrize("lost", ["does_not_exist", "exists_already"])
def test_a_statement_the_server_lost_is_sent_whole_and_preparing_stops(make_user, make_session, now, lost):
    session = make_session(capacity=5)
    connection.close()
    _book(make_user, session, now)  # prepared on this connection (PostgreSQL)
    _lose_prepared_statements()
    if lost == "exists_already":
        # The server connection has the name already (another client of a pooler prepared it): the
        # next PREPARE of it is refused.
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if PREPARES:
            (name,) = preparing.prepared_names(connection)
            preparing.forget_connection(connection)
            _prepare_behind_its_back(name, "SELECT 1")

    booking, sent = _book(make_user, session, now)
    again, sent_again = _book(make_user, session, now)

    assert _stored(booking).status == _stored(again).status == BookingStatus.CONFIRMED
    session.refresh_from_db()
    assert session.seats_taken == 3
    if PREPARES:
        # The refused statement changed nothing; the booking went out whole, and so does the next.
        assert sent.count("EXECUTE" if lost == "does_not_exist" else "PREPARE") == 1
        assert sent[-1] == "WITH"
        assert not {"PREPARE", "EXECUTE"} & set(sent_again)
        assert preparing.usable(connection) is False
    assert get_booking_model().objects.filter(session=session).count() == 3


def test_forgetting_refusals_prepares_again(make_user, make_session, now):
    session = make_session(capacity=5)
    connection.close()
    _book(make_user, session, now)
    _lose_prepared_statements()
    _book(make_user, session, now)
    preparing.forget_refusals()
    connection.close()
    _booking, sent = _book(make_user, session, now)
    assert ("PREPARE" in sent) is PREPARES


def test_a_database_told_never_to_prepare_gets_nothing_prepared(make_user, make_session, now):
    session = make_session(capacity=5)
    options = connection.settings_dict["OPTIONS"]
    had, before = "prepare_threshold" in options, options.get("prepare_threshold")
    options["prepare_threshold"] = None  # as a host behind PgBouncer in transaction pooling writes it
    try:
        assert preparing.usable(connection) is False
        booking, sent = _book(make_user, session, now)
    finally:
        if had:
            options["prepare_threshold"] = before
        else:
            del options["prepare_threshold"]
    assert _stored(booking).status == BookingStatus.CONFIRMED
    assert not {"PREPARE", "EXECUTE"} & set(sent)
