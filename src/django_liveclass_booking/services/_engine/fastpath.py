"""PostgreSQL: claim a seat and insert the booking in one statement.

Under a rush on one class every booking waits for the session row's lock, held from the claim to
COMMIT, so what runs between them sets the throughput. A data-modifying CTE makes the claim and
the insert one round trip: the lock is held for that statement and the COMMIT only. The portable
path (claim UPDATE, then INSERT) is used elsewhere; both pass the same invariant tests.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.db import connections
from django.db.models import NOT_PROVIDED, Model, signals
from django.db.models.fields import AutoFieldMixin
from django.db.models.sql import InsertQuery
from model_utils.models import TimeStampedModel

from ...models import (
    BookingEvent,
    get_session_model,
)
from . import copies, db, preparing, statements
from .values import from_values, prepared


def available(model: type[Model]) -> bool:
    """The one-statement path writes like ``save()`` only for a plain model: else use the portable one.

    A host model that overrides ``save()``, listens to ``pre_save``/``post_save``, or has fields with
    a database default gets the portable path, which runs all of that.
    """
    return db.connection().vendor == "postgresql" and plain(model)


def plain(model: type[Model]) -> bool:
    """Whether a row of ``model`` may be written by a statement of ours instead of ``save()``: the model
    neither overrides ``save()`` nor has ``pre_save``/``post_save`` receivers or database defaults, and
    its primary key is an auto field."""
    return (_plain_class(model) and not signals.pre_save.has_listeners(model)
            and not signals.post_save.has_listeners(model))


@functools.cache
def _plain_class(model: type[Model]) -> bool:
    # The key must come from the database (an auto field): the statements leave it out of the INSERT.
    fields = model._meta.concrete_fields
    return (model.save is TimeStampedModel.save and isinstance(model._meta.pk, AutoFieldMixin)
            and all(f.db_default is NOT_PROVIDED for f in fields))


def _cast_type(field: Any, connection: Any) -> str:
    # To text, not varchar(n): an explicit cast to varchar(n) truncates silently, while the INSERT's
    # own assignment to the column refuses a value too long, as the portable path does.
    db_type = field.db_type(connection)
    return "text" if db_type.startswith("varchar") else db_type


def _typed(fields: list[Any], connection: Any) -> str:
    # Typed placeholders: with server-side binding PostgreSQL cannot infer a bare $n in a SELECT list.
    return ", ".join(f"CAST(%s AS {_cast_type(f, connection)})" for f in fields)


# The statements' text depends only on the models and the database, never on the values: it is
# built once per (model, alias) and process, so a booking pays for its values' conversion only.
_EVENT_FIELDS = ("kind", "actor", "at", "data")


@functools.cache
def _events_sql(source: str, alias: str) -> str:
    """An INSERT of one history row per ``id`` of the CTE ``source``."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    e = BookingEvent._meta
    fields: list[Any] = [e.get_field(name) for name in ("booking", *_EVENT_FIELDS)]
    return (f"INSERT INTO {qn(e.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
            f"SELECT {source}.id, {_typed(fields[1:], connection)} FROM {source}")


def _event_values(event: dict[str, Any], connection: Any) -> list[Any]:
    return from_values(event, [BookingEvent._meta.get_field(name) for name in _EVENT_FIELDS], connection)


@functools.cache
def _inserts_sql(model: Any, source: str, alias: str) -> tuple[str, tuple[Any, ...]]:
    """``ins`` (a booking, its columns selected ``FROM source``) and ``ev`` (its first history row), and the
    booking's fields in the order of their placeholders."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    b: Any = model._meta
    fields = tuple(f for f in b.concrete_fields if not f.primary_key and not f.generated)
    sql = (
        f"ins AS (INSERT INTO {qn(b.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"SELECT {_typed(list(fields), connection)}{f' FROM {source}' if source else ''} "
        f"RETURNING {qn(b.pk.column)} AS id), "
        f"ev AS ({_events_sql('ins', alias)})"
    )
    return sql, fields


def _inserts(booking: Any, first_event: dict[str, Any], source: str) -> tuple[str, list[Any]]:
    connection = db.connection()
    sql, fields = _inserts_sql(booking.__class__, source, connection.alias)
    return sql, [*prepared(booking, fields, connection), *_event_values(first_event, connection)]



def _saved(booking: Any, pk: Any) -> None:
    booking.pk = pk
    booking._state.adding, booking._state.db = False, db.alias()


def insert_with_event(booking: Any, first_event: dict[str, Any]) -> None:
    """Insert a new booking and its first history row in one statement."""
    sql, params = _inserts(booking, first_event, "")
    with db.connection().cursor() as cursor:
        cursor.execute(f"WITH {sql} SELECT ins.id FROM ins", params)
        _saved(booking, cursor.fetchone()[0])


@functools.cache
def _claim_and_insert_sql(claim_sql: str, model: Any, session_model: Any, alias: str) -> str:
    seats = connections[alias].ops.quote_name(session_model._meta.get_field("seats_taken").column)
    inserts, _fields = _inserts_sql(model, "claim", alias)
    return (f"WITH claim AS ({claim_sql} RETURNING {seats} AS taken), {inserts} "
            "SELECT ins.id, (SELECT taken FROM claim) FROM ins")


def claim_and_insert(booking: Any, now: dt.datetime, first_event: dict[str, Any],
                     policy: copies.Copy | None = None) -> int | None:
    """Insert ``booking`` (and its first history row) only if its session's seat claim succeeds.

    The claim is ``statements.claim`` for a newcomer, ``policy`` the copy of the rules it requires.
    Returns the session's new ``seats_taken``; None when there was no seat (nothing written).
    """
    connection = db.connection()
    claim_sql, claim_params = statements.claim(booking.session_id, now, newcomer=True,
                                               student_id=booking.student_id, policy=policy)
    _sql, insert_params = _inserts(booking, first_event, "claim")
    sql = _claim_and_insert_sql(claim_sql, booking.__class__, get_session_model(), connection.alias)
    row = preparing.fetch_one(connection, sql, [*claim_params, *insert_params])
    if row is None:
        return None
    _saved(booking, row[0])
    return int(row[1])


def update_with_event(model: Any, update: tuple[str, list[Any]], event: dict[str, Any]) -> int:
    """Run the UPDATE ``update`` (its text and values) of bookings of ``model`` and insert one history row
    per booking it updated, in one statement. The number of rows updated."""
    update_sql, update_params = update
    connection = db.connection()
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH moved AS ({update_sql} RETURNING {pk} AS id) {_events_sql('moved', connection.alias)}",
                       [*update_params, *_event_values(event, connection)])
        return int(cursor.rowcount)


def updates_with_event(updates: list[tuple[Any, dict[str, Any]]], event: BookingEvent) -> None:
    """Several UPDATEs (each hitting its row under the caller's locks) and one history row, in one statement."""
    connection = db.connection()
    parts, params = [], []
    for number, (queryset, values) in enumerate(updates):
        text, args = statements.update_sql(queryset, values)
        parts.append(f"u{number} AS ({text})")
        params.extend(args)
    insert = InsertQuery(BookingEvent)
    insert.insert_values([f for f in BookingEvent._meta.concrete_fields if not f.primary_key], [event])
    [(text, args)] = insert.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} {text}", [*params, *args])
