"""The booking path's statements as text built once per process, for every database.

Building a statement through the ORM (filters, expressions, the compiler) costs more CPU than
sending it. The statements a booking sends every time (the seat claim, the session lock, the
booking's and its first event's inserts, the count read back) are built here once per models and
database, and only their values are converted per call. They mean exactly what the ORM's would;
the tests of the seat claim run through them on every database. PostgreSQL's one-statement claim
and insert (in ``fastpath``) wraps this same claim.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models.sql import UpdateQuery

from ...models import (
    BookingEvent,
    BookingStatus,
    SessionStatus,
    SessionWaitlist,
    TeacherBookingPolicy,
    WaitlistStatus,
    get_session_model,
)
from . import copies, db
from .values import from_values, prepared


@functools.cache
def _claim_sql(session_model: Any, user_model: Any, alias: str, newcomer: bool, student: bool,
               policy: str) -> str:
    qn = connections[alias].ops.quote_name
    s, w, u, p = session_model._meta, SessionWaitlist._meta, user_model._meta, TeacherBookingPolicy._meta
    col = lambda meta, name: qn(meta.get_field(name).column)  # noqa: E731
    seats = col(s, "seats_taken")
    sql = (f"UPDATE {qn(s.db_table)} SET {seats} = {seats} + 1 WHERE {col(s, s.pk.name)} = %s "
           f"AND {col(s, 'status')} = %s AND {col(s, 'start_at_utc')} > %s AND {seats} < {col(s, 'capacity')}")
    if newcomer:
        sql += (f" AND NOT EXISTS (SELECT 1 FROM {qn(w.db_table)} WHERE {col(w, 'session')} = %s "
                f"AND {col(w, 'status')} = %s)")
    if student:
        # A student holding an offered seat here accepts it (a direct booking would hold two), and a
        # student deleted after being loaded gets no seat (and no row pointing at nobody).
        sql += (f" AND NOT EXISTS (SELECT 1 FROM {qn(w.db_table)} WHERE {col(w, 'session')} = %s "
                f"AND {col(w, 'student')} = %s AND {col(w, 'status')} = %s)"
                f" AND EXISTS (SELECT 1 FROM {qn(u.db_table)} WHERE {col(u, u.pk.name)} = %s)")
    # The rules the booking was judged by are still the teacher's: the same revision, or still no row.
    if policy == "none":
        sql += f" AND NOT EXISTS (SELECT 1 FROM {qn(p.db_table)} WHERE {col(p, 'teacher')} = %s)"
    elif policy == "revision":
        sql += (f" AND EXISTS (SELECT 1 FROM {qn(p.db_table)} WHERE {col(p, 'teacher')} = %s "
                f"AND {col(p, 'revision')} = %s)")
    return sql


def claim(session_pk: Any, now: Any, *, newcomer: bool, student_id: Any,
          policy: copies.Copy | None) -> tuple[str, list[Any]]:
    """The seat claim: a conditional UPDATE of the session's count, and its values.

    ``newcomer``: not while anyone waits; ``student_id``: not for a student holding an offer there or
    no longer stored; ``policy``: only while the teacher's stored policy is still that copy.
    """
    connection = db.connection()
    Session = get_session_model()
    params: list[Any] = [session_pk, SessionStatus.SCHEDULED.value,
                         Session._meta.get_field("start_at_utc").get_db_prep_value(now, connection)]
    if newcomer:
        params += [session_pk, WaitlistStatus.WAITING.value]
    if student_id is not None:
        params += [session_pk, student_id, WaitlistStatus.OFFERED.value, student_id]
    kind = "" if policy is None else "none" if policy.revision is None else "revision"
    if policy is not None:
        params.append(policy.teacher_id)
        if policy.revision is not None:
            revision: Any = TeacherBookingPolicy._meta.get_field("revision")
            params.append(revision.get_db_prep_value(policy.revision, connection))
    return _claim_sql(Session, get_user_model(), connection.alias, newcomer, student_id is not None, kind), params


def claim_seat(session_pk: Any, now: Any, *, newcomer: bool, student_id: Any, policy: copies.Copy | None) -> bool:
    """Send the seat claim (see :func:`claim`): whether it took the seat."""
    sql, params = claim(session_pk, now, newcomer=newcomer, student_id=student_id, policy=policy)
    with db.connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


@functools.cache
def _row_sql(session_model: Any, alias: str, lock: bool) -> str:
    qn = connections[alias].ops.quote_name
    s = session_model._meta
    return (f"SELECT {qn(s.get_field('seats_taken').column)} FROM {qn(s.db_table)} "
            f"WHERE {qn(s.pk.column)} = %s{' FOR UPDATE' if lock else ''}")


def seats_taken(session_pk: Any, *, lock: bool = False) -> int | None:
    """The session's stored count (None: no such session), its row locked with ``lock``."""
    connection = db.connection()
    with connection.cursor() as cursor:
        cursor.execute(_row_sql(get_session_model(), connection.alias, lock), [session_pk])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


@functools.cache
def _insert_sql(model: Any, alias: str) -> tuple[str, tuple[Any, ...]]:
    connection = connections[alias]
    qn = connection.ops.quote_name
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key and not f.generated)
    sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    if connection.vendor == "postgresql":  # its driver's lastrowid is no row's key
        sql += f" RETURNING {qn(meta.pk.column)}"
    return sql, fields


def _insert(model: Any, values: list[Any]) -> Any:
    connection = db.connection()
    sql, _fields = _insert_sql(model, connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if connection.vendor == "postgresql":
            return cursor.fetchone()[0]
        return connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)


def insert_row(obj: Any) -> None:
    """INSERT a new row of a plain model (``fastpath.plain``), as ``save(force_insert=True)`` would, and
    give it its pk. (A booking on PostgreSQL goes in with its first event, by ``fastpath``.)"""
    connection = db.connection()
    model = obj.__class__
    _sql, fields = _insert_sql(model, connection.alias)
    obj.pk = _insert(model, prepared(obj, fields, connection))
    obj._state.adding, obj._state.db = False, connection.alias


def insert_event(booking_pk: Any, event: dict[str, Any]) -> None:
    """INSERT a booking's first event (``history.first_event_values``)."""
    connection = db.connection()
    _sql, fields = _insert_sql(BookingEvent, connection.alias)
    _insert(BookingEvent, from_values({**event, "booking_id": booking_pk}, fields, connection))


def update_sql(queryset: Any, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """The SQL of ``queryset.update(**values)``, unsent (compiled by the ORM on each call)."""
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values(values)
    query.annotations = {}
    sql, params = query.get_compiler(connection=db.connection()).as_sql()
    return sql, list(params)


@functools.cache
def _move_sql(model: Any, alias: str, names: tuple[str, ...], sources: int, live: bool) -> tuple[str, tuple[Any, ...]]:
    qn = connections[alias].ops.quote_name
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    status, expires = qn(meta.get_field("status").column), qn(meta.get_field("expires_at").column)
    sql = (f"UPDATE {qn(meta.db_table)} SET {', '.join(f'{qn(f.column)} = %s' for f in fields)} "
           f"WHERE {qn(meta.pk.column)} = %s AND {status} IN ({', '.join(['%s'] * sources)})")
    if live:
        # Active as of now: a pending request past its expiry is expired already (``live_at``).
        sql += f" AND ({status} = %s OR ({status} = %s AND ({expires} IS NULL OR {expires} > %s)))"
    return sql, fields


def move_booking(model: Any, pk: Any, values: dict[str, Any], sources: list[str],
                 live_at: dt.datetime | None) -> tuple[str, list[Any]]:
    """The conditional UPDATE moving the booking ``pk`` (a row whose status is in ``sources`` and, with
    ``live_at``, still active then) to ``values``, and its values; as ``queryset.update()`` sends them."""
    connection = db.connection()
    sql, fields = _move_sql(model, connection.alias, tuple(values), len(sources), live_at is not None)
    params = [f.get_db_prep_save(value, connection) for f, value in zip(fields, values.values(), strict=True)]
    params += [model._meta.pk.get_db_prep_value(pk, connection, prepared=False), *sources]
    if live_at is not None:
        expires: Any = model._meta.get_field("expires_at")
        params += [BookingStatus.CONFIRMED.value, BookingStatus.PENDING.value,
                   expires.get_db_prep_value(live_at, connection, prepared=False)]
    return sql, params


@functools.cache
def _give_back_sql(session_model: Any, alias: str) -> str:
    qn = connections[alias].ops.quote_name
    s = session_model._meta
    seats = qn(s.get_field("seats_taken").column)
    return f"UPDATE {qn(s.db_table)} SET {seats} = {seats} - 1 WHERE {qn(s.pk.column)} = %s"


def give_back_seat(session_pk: Any) -> None:
    """One seat of the session back to its pool (its row locked by the caller)."""
    connection, Session = db.connection(), get_session_model()
    with connection.cursor() as cursor:
        cursor.execute(_give_back_sql(Session, connection.alias),
                       [Session._meta.pk.get_db_prep_value(session_pk, connection, prepared=False)])
