"""The runs through PgBouncer (``LIVECLASS_PG_POOLED=1``, see tests/settings.py and .ci/pgbouncer.sh).

PgBouncer in transaction pooling hands a client a server connection for one transaction, then to
whoever asks next. State a statement leaves on the server connection beyond its transaction (a
``SET``, an advisory lock, a ``LISTEN``, a prepared statement, a held cursor, a temporary table) is
then seen by another client, or missing from the next transaction of the client that made it.
``SESSION_STATE`` matches those statements; conftest refuses them on every connection of a pooled
run, so every service the run calls is checked. ``SET LOCAL``, ``SET CONSTRAINTS``, ``SET
TRANSACTION`` and the ``_xact`` advisory locks end with their transaction and pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings

if TYPE_CHECKING:
    import psycopg

SESSION_STATE = re.compile(
    r"^\s*(?:SET\s+(?!LOCAL\b|CONSTRAINTS\b|TRANSACTION\b)|RESET\b|DISCARD\b|LISTEN\b|UNLISTEN\b|PREPARE\b|LOAD\b"
    r"|DECLARE\b.*\bWITH\s+HOLD\b|CREATE\s+(?:GLOBAL\s+|LOCAL\s+)?TEMP(?:ORARY)?\b)"
    r"|\bpg_(?:try_)?advisory_(?:un)?lock(?:_shared|_all)?\s*\("
    r"|\bset_config\s*\([^)]*,\s*false\s*\)",
    re.IGNORECASE | re.DOTALL,
)


class SessionStateError(AssertionError):
    """A statement that leaves state on a pooled server connection beyond its transaction."""


def refuse_session_state(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    """A ``connection.execute_wrapper``: fails a statement ``SESSION_STATE`` matches."""
    if SESSION_STATE.search(sql):
        raise SessionStateError(f"leaves state beyond its transaction under transaction pooling: {sql[:200]}")
    return execute(sql, params, many, context)


def connect(dbname: str, **extra: Any) -> psycopg.Connection[Any]:
    """A plain psycopg connection where the test database lives (PgBouncer in a pooled run), autocommit.

    Client-side binding with no parameters sends simple queries, the only ones PgBouncer's admin
    console (``dbname="pgbouncer"``) answers. psycopg is imported here: the SQLite runs go without it.
    """
    import psycopg

    db = settings.DATABASES["default"]
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"] or None,
              "dbname": dbname, "connect_timeout": 5, **extra}
    return psycopg.connect(autocommit=True, cursor_factory=psycopg.ClientCursor, prepare_threshold=None, **params)


def admin(command: str) -> list[dict[str, Any]]:
    """The rows PgBouncer's admin console answers to ``command`` (``SHOW SERVERS``...)."""
    with connect("pgbouncer") as conn:
        cursor = conn.execute(command)
        names = [column.name for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def require_transaction_pooling() -> None:
    """Stop the run unless PgBouncer in transaction pooling answers where the settings point."""
    db = settings.DATABASES["default"]
    where = f"{db['HOST']}:{db['PORT']}"
    import psycopg

    try:
        config = {row["key"]: row["value"] for row in admin("SHOW CONFIG")}
    except psycopg.Error as exc:
        raise pytest.UsageError(
            f"LIVECLASS_PG_POOLED=1 but no PgBouncer admin console answers at {where} ({exc}); "
            "start one with .ci/pgbouncer.sh start"
        ) from exc
    if config.get("pool_mode") != "transaction":
        raise pytest.UsageError(f"the PgBouncer at {where} pools in {config.get('pool_mode')!r} mode, not transaction")


def close_servers_of(dbname: str) -> None:
    """End the server connections PgBouncer keeps open to ``dbname``, so that it can be dropped.

    A client closing its connection leaves the server connection in PgBouncer's pool; PostgreSQL
    refuses ``DROP DATABASE`` while any connection to it remains (it waits up to five seconds for
    the ended ones to go). PgBouncer sees them closed and drops them from its pool.
    """
    with connect("postgres") as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", [dbname])
