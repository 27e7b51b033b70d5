"""The pooled run really goes through PgBouncer in transaction pooling, and what that pooling forbids is refused.

The tests marked ``pgbouncer`` run only with ``LIVECLASS_PG_POOLED=1`` (tests/settings.py), against
the PgBouncer .ci/pgbouncer.sh starts; CI runs them beside the concurrency, race, sweep and state
machine tests it sends through PgBouncer. The statement rules run everywhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from tests import pgbouncer


def database_name() -> str:
    return str(connection.settings_dict["NAME"])


def servers_of(dbname: str) -> set[int]:
    """The backend pids of PgBouncer's server connections to ``dbname``."""
    return {row["remote_pid"] for row in pgbouncer.admin("SHOW SERVERS") if row["database"] == dbname}


@pytest.mark.pgbouncer
def test_the_tests_connection_is_one_of_pgbouncers_server_connections(db: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    assert pid in servers_of(database_name())


@pytest.mark.pgbouncer
def test_control_a_direct_connection_is_not(db: Any) -> None:
    # The check above can fail: a connection straight to PostgreSQL (where PgBouncer sends the test
    # database) is none of PgBouncer's.
    name = database_name()
    [target] = [row for row in pgbouncer.admin("SHOW DATABASES") if row["name"] == name]
    with pgbouncer.connect(name, host=target["host"], port=target["port"]) as direct:
        row = direct.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    assert row[0] not in servers_of(name)


@pytest.mark.pgbouncer
def test_control_a_session_setting_made_outside_a_transaction_reaches_another_client(transactional_db: Any) -> None:
    # Why the package never leaves session state (conftest refuses it in this run): PgBouncer hands
    # the server connection the setting lives on to the next client that asks (the most recently
    # used idle one first). With session pooling, or without PgBouncer, the other client sees nothing.
    name = database_name()
    with pgbouncer.connect(name) as first, pgbouncer.connect(name) as second:
        first.execute("SET liveclass.probe = 'first'")
        row = second.execute("SELECT current_setting('liveclass.probe', true)").fetchone()
        second.execute("RESET liveclass.probe")
    assert row == ("first",)


@pytest.mark.pgbouncer
def test_a_session_setting_through_django_is_refused_in_the_pooled_run(db: Any) -> None:
    with pytest.raises(pgbouncer.SessionStateError), connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")


@pytest.mark.parametrize("sql", [
    "SET statement_timeout = 0", "set session search_path to x", "RESET ALL", "DISCARD ALL", "LISTEN booking",
    "PREPARE p AS SELECT 1", "DECLARE c CURSOR WITH HOLD FOR SELECT 1", "CREATE TEMP TABLE t (id int)",
    "SELECT pg_advisory_lock(1)", "SELECT pg_try_advisory_lock_shared(1, 2)", "SELECT pg_advisory_unlock_all()",
    "SELECT set_config('search_path', 'x', false)",
])
def test_statements_that_outlive_their_transaction_are_recognised(sql: str) -> None:
    assert pgbouncer.SESSION_STATE.search(sql)


@pytest.mark.parametrize("sql", [
    "SET LOCAL statement_timeout = 0", "SET CONSTRAINTS ALL IMMEDIATE", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "SELECT pg_advisory_xact_lock(1)", "SELECT set_config('search_path', 'x', true)",
    'UPDATE "s" SET "seats_taken" = "seats_taken" + 1 WHERE "id" = 1',
    "DECLARE c CURSOR FOR SELECT 1", 'SELECT "reset" FROM "t"',
])
def test_statements_that_end_with_their_transaction_pass(sql: str) -> None:
    assert not pgbouncer.SESSION_STATE.search(sql)
