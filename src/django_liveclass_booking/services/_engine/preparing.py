"""PostgreSQL: the booking's one statement, parsed and planned once per connection.

Django writes a statement's parameters into its text (psycopg's client-side binding, Django's
default), so PostgreSQL parses and plans the claim-and-insert statement anew for every seat booked:
a large part of the server's work for a booking. Instead the statement is ``PREPARE``d once per
database connection, under a name made from its text, and each booking sends ``EXECUTE name(...)``.

Only where that is safe:

- in autocommit, outside any transaction: an ``EXECUTE`` the server refuses has changed nothing and
  is sent again whole, while a refusal inside a transaction would abort it;
- with client-side binding: a host that sets ``OPTIONS["server_side_binding"]`` prepares through
  psycopg's ``prepare_threshold`` instead;
- unless the database's ``OPTIONS`` say ``"prepare_threshold": None``: a host that tells psycopg
  never to prepare (as behind PgBouncer in transaction pooling) gets nothing prepared here either;
- while the server keeps what the connection prepared. A pooler that hands a client's statements to
  different server connections (PgBouncer in transaction pooling) answers with "prepared statement
  does not exist" or "already exists"; the statement then goes out whole, and this process prepares
  nothing more on that database. The name is the text's digest: a server connection that another
  client prepared the name on runs the same statement, never another.

``LIVECLASS_BOOKING["PREPARE_STATEMENTS"] = False`` sends every statement whole.
"""

from __future__ import annotations

import functools
import hashlib
import re
import weakref
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

from ...conf import booking_settings

#: SQLSTATEs of a prepared statement the server connection does not have (26000) or already has
#: (42P05): the sign of a pooler between this process and the server.
_POOLED = frozenset({"26000", "42P05"})

#: Aliases on which a pooler refused a prepared statement: this process sends statements whole there.
_refused: set[str] = set()

#: The names prepared on each open driver connection; forgotten with the connection.
_names: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def fetch_one(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run ``sql`` (``%s`` placeholders) with ``params`` on ``connection``; its first row, or None."""
    if usable(connection):
        try:
            return _executed(connection, sql, params)
        except DatabaseError as error:
            cause = error.__cause__
            if (getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)) not in _POOLED:
                raise
            _refused.add(connection.alias)
            _names.pop(connection.connection, None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return tuple(row) if row is not None else None


def usable(connection: BaseDatabaseWrapper) -> bool:
    """Whether a statement on ``connection`` is prepared: PostgreSQL, client-side binding, autocommit,
    and the host did not write ``"prepare_threshold": None`` (never prepare) in the database's OPTIONS."""
    options = connection.settings_dict["OPTIONS"]
    return (connection.vendor == "postgresql" and booking_settings.PREPARE_STATEMENTS
            and connection.alias not in _refused
            and options.get("server_side_binding") is not True
            and not ("prepare_threshold" in options and options["prepare_threshold"] is None)
            and not connection.in_atomic_block and connection.get_autocommit())


def forget_refusals() -> None:
    """Try preparing again on every database (after the pooler in front of one is gone)."""
    _refused.clear()


def prepared_names(connection: BaseDatabaseWrapper) -> set[str]:
    """The names of the statements this process prepared on ``connection``'s open database connection."""
    return set(_names.get(connection.connection, ()))


def forget_connection(connection: BaseDatabaseWrapper) -> None:
    """Prepare again on ``connection`` before the next EXECUTE, as on a new database connection."""
    _names.pop(connection.connection, None)


def _executed(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    name, prepare, call = _texts(sql, len(params))
    with connection.cursor() as cursor:
        try:
            names = _names.setdefault(connection.connection, set())
        except TypeError:  # a driver connection without weak references (psycopg2)
            names = set()
        if name not in names:
            cursor.execute(prepare)
            names.add(name)
        cursor.execute(call, params)
        row = cursor.fetchone()
    return tuple(row) if row is not None else None


_PLACEHOLDER = re.compile(r"%s|%%")


@functools.lru_cache(maxsize=64)
def _texts(sql: str, count: int) -> tuple[str, str, str]:
    """The statement's name, its ``PREPARE`` (``$n`` placeholders) and its ``EXECUTE`` (``%s`` ones)."""
    name = "liveclass_" + hashlib.blake2b(sql.encode(), digest_size=10).hexdigest()
    numbers = iter(range(1, count + 1))
    body = _PLACEHOLDER.sub(lambda m: f"${next(numbers)}" if m.group() == "%s" else "%", sql)
    # The PREPARE goes without parameters, so the driver leaves its text, % signs included, as it is.
    return name, f"PREPARE {name} AS {body}", f"EXECUTE {name}({', '.join(['%s'] * count)})"
