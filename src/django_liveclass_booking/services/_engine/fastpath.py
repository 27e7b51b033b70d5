"""PostgreSQL: claim a seat and insert the booking in one statement.

Under a rush on one class every booking waits for the session row's lock, held from the claim to
COMMIT, so what runs between them sets the throughput. A data-modifying CTE makes the claim and
the insert one round trip: the lock is held for that statement and the COMMIT only. The portable
path (claim UPDATE, then INSERT) is used elsewhere; both pass the same invariant tests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db.models import NOT_PROVIDED, Model, signals
from django.db.models.sql import InsertQuery, UpdateQuery
from model_utils.models import TimeStampedModel

from ...models import BookingEvent, SessionStatus, SessionWaitlist, WaitlistStatus, get_session_model
from . import db


def available(model: type[Model]) -> bool:
    """The one-statement path writes like ``save()`` only for a plain model: else use the portable one.

    A host model that overrides ``save()``, listens to ``pre_save``/``post_save``, or has fields with
    a database default gets the portable path, which runs all of that.
    """
    return (
        db.connection().vendor == "postgresql"
        and model.save is TimeStampedModel.save
        and not signals.pre_save.has_listeners(model)
        and not signals.post_save.has_listeners(model)
        and all(f.db_default is NOT_PROVIDED for f in model._meta.concrete_fields)
    )


def _cast_type(field: Any, connection: Any) -> str:
    # To text, not varchar(n): an explicit cast to varchar(n) truncates silently, while the INSERT's
    # own assignment to the column refuses a value too long, as the portable path does.
    db_type = field.db_type(connection)
    return "text" if db_type.startswith("varchar") else db_type


def _typed(fields: list[Any], connection: Any) -> str:
    # Typed placeholders: with server-side binding PostgreSQL cannot infer a bare $n in a SELECT list.
    return ", ".join(f"CAST(%s AS {_cast_type(f, connection)})" for f in fields)


def _events_from(source: str, event: dict[str, Any]) -> tuple[str, list[Any]]:
    """An INSERT of one history row per ``id`` of the CTE ``source``, with the values of ``event``."""
    connection = db.connection()
    qn = connection.ops.quote_name
    e = BookingEvent._meta
    fields: list[Any] = [e.get_field(name) for name in ("booking", "kind", "actor", "at", "data")]
    row = BookingEvent(booking_id=0, **event)
    values = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields[1:]]
    sql = (f"INSERT INTO {qn(e.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
           f"SELECT {source}.id, {_typed(fields[1:], connection)} FROM {source}")
    return sql, values


def _update_sql(queryset: Any, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """The SQL of ``queryset.update(**values)``, unsent."""
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values(values)
    query.annotations = {}
    sql, params = query.get_compiler(connection=db.connection()).as_sql()
    return sql, list(params)


def _inserts(booking: Any, first_event: dict[str, Any], source: str) -> tuple[str, list[Any]]:
    """``ins`` (the booking, its columns selected ``FROM source``) and ``ev`` (its first history row)."""
    connection = db.connection()
    qn = connection.ops.quote_name
    b = type(booking)._meta
    fields = [f for f in b.concrete_fields if not f.primary_key and not f.generated]
    values = [f.get_db_prep_save(f.pre_save(booking, True), connection) for f in fields]
    event_sql, event_values = _events_from("ins", first_event)
    sql = (
        f"ins AS (INSERT INTO {qn(b.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"SELECT {_typed(fields, connection)}{f' FROM {source}' if source else ''} "
        f"RETURNING {qn(b.pk.column)} AS id), "
        f"ev AS ({event_sql})"
    )
    return sql, [*values, *event_values]


def _saved(booking: Any, pk: Any) -> None:
    booking.pk = pk
    booking._state.adding, booking._state.db = False, db.alias()


def insert_with_event(booking: Any, first_event: dict[str, Any]) -> None:
    """Insert a new booking and its first history row in one statement."""
    sql, params = _inserts(booking, first_event, "")
    with db.connection().cursor() as cursor:
        cursor.execute(f"WITH {sql} SELECT ins.id FROM ins", params)
        _saved(booking, cursor.fetchone()[0])


def claim_and_insert(booking: Any, now: dt.datetime, first_event: dict[str, Any]) -> int | None:
    """Insert ``booking`` (and its first history row) only if its session's seat claim succeeds.

    Returns the session's new ``seats_taken``; None when there was no seat (nothing written).
    """
    Session = get_session_model()
    connection = db.connection()
    qn = connection.ops.quote_name
    s, w, u = Session._meta, SessionWaitlist._meta, get_user_model()._meta
    col = lambda meta, name: qn(meta.get_field(name).column)  # noqa: E731
    seats = col(s, "seats_taken")
    inserts, insert_params = _inserts(booking, first_event, "claim")
    sql = (
        f"WITH claim AS (UPDATE {qn(s.db_table)} SET {seats} = {seats} + 1 "
        f"WHERE {col(s, s.pk.name)} = %s AND {col(s, 'status')} = %s AND {col(s, 'start_at_utc')} > %s "
        f"AND {seats} < {col(s, 'capacity')} "
        f"AND NOT EXISTS (SELECT 1 FROM {qn(w.db_table)} WHERE {col(w, 'session')} = %s "
        f"AND {col(w, 'status')} = %s) "
        # A student holding an offered seat here accepts it; a direct booking would hold two.
        f"AND NOT EXISTS (SELECT 1 FROM {qn(w.db_table)} WHERE {col(w, 'session')} = %s "
        f"AND {col(w, 'student')} = %s AND {col(w, 'status')} = %s) "
        # A student deleted after being loaded gets no seat (and no row pointing at nobody).
        f"AND EXISTS (SELECT 1 FROM {qn(u.db_table)} WHERE {col(u, u.pk.name)} = %s) RETURNING {seats} AS taken), "
        f"{inserts} SELECT ins.id, (SELECT taken FROM claim) FROM ins"
    )
    session_pk = booking.session_id
    params = [session_pk, SessionStatus.SCHEDULED, now, session_pk, WaitlistStatus.WAITING,
              session_pk, booking.student_id, WaitlistStatus.OFFERED, booking.student_id, *insert_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    _saved(booking, row[0])
    return int(row[1])


def update_with_event(queryset: Any, values: dict[str, Any], event: dict[str, Any]) -> int:
    """Run the UPDATE of ``queryset`` with ``values`` and insert one history row per updated booking, in one
    statement. The number of rows updated."""
    update_sql, update_params = _update_sql(queryset, values)
    event_sql, event_values = _events_from("moved", event)
    pk = db.connection().ops.quote_name(queryset.model._meta.pk.column)
    with db.connection().cursor() as cursor:
        cursor.execute(f"WITH moved AS ({update_sql} RETURNING {pk} AS id) {event_sql}",
                       [*update_params, *event_values])
        return int(cursor.rowcount)


def updates_with_event(updates: list[tuple[Any, dict[str, Any]]], event: BookingEvent) -> None:
    """Several UPDATEs (each hitting its row under the caller's locks) and one history row, in one statement."""
    connection = db.connection()
    parts, params = [], []
    for number, (queryset, values) in enumerate(updates):
        text, args = _update_sql(queryset, values)
        parts.append(f"u{number} AS ({text})")
        params.extend(args)
    insert = InsertQuery(BookingEvent)
    insert.insert_values([f for f in BookingEvent._meta.concrete_fields if not f.primary_key], [event])
    [(text, args)] = insert.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} {text}", [*params, *args])
