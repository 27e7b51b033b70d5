"""The services' reads by statements built once per process, for every database.

Checking a 1:1 request, a move or a new class reads the teacher's windows, time off, the sessions
in the way and the requests due to expire; most calls also lock a session or policy row, check
that their users are still stored, or read the first in a waiting line. Built through the ORM
(filters, the compiler) each read cost more CPU than the database spent answering it. As
``statements`` does for the seat claim, the text is built here once per models and database; a
call converts only its values, and the rows come back through the converters the ORM itself
applies to those columns. They mean what the querysets they replace meant: ``test_calendar_reads``
compares them on every database, and the calendar's tests run through them.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from ...models import (
    BookingStatus,
    SessionKind,
    SessionStatus,
    TeacherAvailability,
    TeacherTimeOff,
    get_booking_model,
    get_session_model,
)
from . import db

Converters = tuple[tuple[int, tuple[Any, ...], Any], ...]


@functools.cache
def converters(model: Any, names: tuple[str, ...], alias: str) -> Converters:
    """For the columns of ``names`` (in that order) of ``model``: the position, the converters and the
    column of each that has any, as the ORM's compiler applies them to a row read."""
    connection = connections[alias]
    meta = model._meta
    found = []
    for number, name in enumerate(names):
        column = meta.get_field(name).get_col(meta.db_table)
        functions = (*connection.ops.get_db_converters(column), *column.get_db_converters(connection))
        if functions:
            found.append((number, functions, column))
    return tuple(found)


def converted(rows: Sequence[Sequence[Any]], found: Converters, connection: BaseDatabaseWrapper) -> list[list[Any]]:
    """``rows`` as the ORM would hand them out: each value through its column's converters."""
    out = []
    for row in rows:
        values = list(row)
        for number, functions, column in found:
            for function in functions:
                values[number] = function(values[number], column, connection)
        out.append(values)
    return out


def param(model: Any, name: str, value: Any, connection: BaseDatabaseWrapper) -> Any:
    """``value`` for a comparison with the field ``name`` of ``model``, converted as a lookup converts its
    right-hand side (a foreign key's value by its target field)."""
    return model._meta.get_field(name).get_db_prep_value(value, connection, prepared=False)


def _fetch(sql: str, params: list[Any], model: Any, names: tuple[str, ...]) -> list[list[Any]]:
    connection = db.connection()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return converted(rows, converters(model, names, connection.alias), connection)


def _qn(alias: str) -> Any:
    return connections[alias].ops.quote_name


def _col(meta: Any, name: str, qn: Any) -> str:
    return f"{qn(meta.db_table)}.{qn(meta.get_field(name).column)}"


_OPERATORS = frozenset(("=", "<", "<=", ">", ">="))


def _for_update(connection: BaseDatabaseWrapper) -> str:
    # As select_for_update(): nothing where the database has no row locks (SQLite locks the whole file).
    return f" {connection.ops.for_update_sql()}" if connection.features.has_select_for_update else ""


@functools.cache
def _select_sql(model: Any, alias: str, columns: tuple[str, ...], where: tuple[tuple[str, str], ...],
                order: tuple[str, ...], first: bool, lock: bool) -> str:
    qn, meta = _qn(alias), model._meta
    if any(operator not in _OPERATORS for _, operator in where):
        raise ValueError(f"Only {sorted(_OPERATORS)} compare here")
    sql = (f"SELECT {', '.join(_col(meta, name, qn) for name in columns)} FROM {qn(meta.db_table)} "
           f"WHERE {' AND '.join(f'{_col(meta, name, qn)} {operator} %s' for name, operator in where)}")
    if order:
        sql += f" ORDER BY {', '.join(_col(meta, name, qn) for name in order)}"
    return sql + (" LIMIT 1" if first else "") + (_for_update(connections[alias]) if lock else "")


def select(model: Any, columns: tuple[str, ...], where: Sequence[tuple[str, str, Any]], *,
           order: tuple[str, ...] = (), first: bool = False, lock: bool = False) -> list[list[Any]]:
    """``filter(...).order_by(*order).values_list(*columns)`` of ``model`` without compiling it, for
    conditions (field, operator, value), the operator one of ``= < <= > >=`` (``first``: the first row;
    ``lock``: the rows locked as ``select_for_update()`` locks them)."""
    connection = db.connection()
    sql = _select_sql(model, connection.alias, columns, tuple((name, op) for name, op, _ in where), order, first,
                      lock)
    return _fetch(sql, [param(model, name, value, connection) for name, _, value in where], model, columns)


def windows(teacher_id: Any) -> list[list[Any]]:
    """(weekday, start_time, end_time, timezone) of each of the teacher's weekly windows."""
    return select(TeacherAvailability, ("weekday", "start_time", "end_time", "timezone"),
                  [("teacher", "=", teacher_id)], order=("weekday", "start_time"))


_SPAN = ("start_at_utc", "end_at_utc")


def time_off(teacher_id: Any, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The teacher's time off meeting [start, end), as (start, end) pairs."""
    found = select(TeacherTimeOff, _SPAN, [("teacher", "=", teacher_id), ("start_at_utc", "<", end),
                                           ("end_at_utc", ">", start)], order=("start_at_utc",))
    return [(a, b) for a, b in found]


@functools.cache
def _busy_sql(session_model: Any, booking_model: Any, alias: str, *, due_free: bool, excluding: bool,
              first: bool) -> str:
    qn, s, b = _qn(alias), session_model._meta, booking_model._meta
    pk = f"{qn(s.db_table)}.{qn(s.pk.column)}"
    sql = (f"SELECT {pk}, {_col(s, 'start_at_utc', qn)}, {_col(s, 'end_at_utc', qn)} FROM {qn(s.db_table)} "
           f"WHERE {_col(s, 'teacher', qn)} = %s AND {_col(s, 'status', qn)} = %s "
           f"AND {_col(s, 'start_at_utc', qn)} < %s AND {_col(s, 'end_at_utc', qn)} > %s")
    if excluding:
        sql += f" AND {pk} <> %s"
    if due_free:
        # A 1:1 lesson whose request is pending past its expiry no longer holds the time.
        sql += (f" AND NOT ({_col(s, 'kind', qn)} = %s AND EXISTS (SELECT 1 FROM {qn(b.db_table)} "
                f"WHERE {_col(b, 'session', qn)} = {pk} AND {_col(b, 'status', qn)} = %s "
                f"AND {_col(b, 'expires_at', qn)} <= %s))")
    sql += f" ORDER BY {_col(s, 'start_at_utc', qn)}, {pk}"
    return sql + (" LIMIT 1" if first else "")


def busy(teacher_id: Any, start: dt.datetime, end: dt.datetime, *, now: dt.datetime | None,
         excluding: Any = None, first: bool = False) -> list[tuple[Any, dt.datetime, dt.datetime]]:
    """The teacher's scheduled sessions meeting [start, end) as (pk, start, end), by start.

    ``now``: leave out 1:1 lessons whose pending request is past its expiry at ``now`` (None: count
    every scheduled session). ``excluding``: the pk of a session left out (one being moved).
    ``first``: only the earliest.
    """
    connection = db.connection()
    Session, Booking = get_session_model(), get_booking_model()
    params = [param(Session, "teacher", teacher_id, connection), SessionStatus.SCHEDULED.value,
              param(Session, "start_at_utc", end, connection), param(Session, "end_at_utc", start, connection)]
    if excluding is not None:
        params.append(param(Session, Session._meta.pk.name, excluding, connection))
    if now is not None:
        params += [SessionKind.ONE_ON_ONE.value, BookingStatus.PENDING.value,
                   param(Booking, "expires_at", now, connection)]
    sql = _busy_sql(Session, Booking, connection.alias, due_free=now is not None, excluding=excluding is not None,
                    first=first)
    names = (Session._meta.pk.name, *_SPAN)
    return [(pk, a, b) for pk, a, b in _fetch(sql, params, Session, names)]


def due_lesson_sessions(teacher_id: Any, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> list[Any]:
    """The sessions of the teacher's 1:1 requests meeting [start, end) and pending past their expiry."""
    found = select(get_booking_model(), ("session",), [
        ("teacher", "=", teacher_id), ("kind", "=", SessionKind.ONE_ON_ONE.value),
        ("status", "=", BookingStatus.PENDING.value), ("expires_at", "<=", now), ("start_at_utc", "<", end),
        ("end_at_utc", ">", start)])
    return [row[0] for row in found]


@functools.cache
def _users_sql(user_model: Any, alias: str, count: int) -> str:
    qn, u = _qn(alias), user_model._meta
    return (f"SELECT {qn(u.pk.column)} FROM {qn(u.db_table)} "
            f"WHERE {qn(u.pk.column)} IN ({', '.join(['%s'] * count)})")


def stored_user_pks(pks: set[Any]) -> set[Any]:
    """Which of the user primary keys ``pks`` the booking database holds (as ``_base_manager`` would
    read them: every row, whatever the default manager hides)."""
    connection, User = db.connection(), get_user_model()
    name = User._meta.pk.name
    params = [param(User, name, pk, connection) for pk in pks]
    return {row[0] for row in _fetch(_users_sql(User, connection.alias, len(params)), params, User, (name,))}


@functools.cache
def _session_of_booking_sql(session_model: Any, booking_model: Any, alias: str) -> tuple[str, tuple[str, ...]]:
    connection = connections[alias]
    qn, s, b = connection.ops.quote_name, session_model._meta, booking_model._meta
    fields = s.concrete_fields
    sql = (f"SELECT {', '.join(_col(s, f.name, qn) for f in fields)} FROM {qn(s.db_table)} "
           f"WHERE {qn(s.db_table)}.{qn(s.pk.column)} = (SELECT {qn(b.get_field('session').column)} "
           f"FROM {qn(b.db_table)} WHERE {qn(b.pk.column)} = %s){_for_update(connection)}")
    return sql, tuple(f.attname for f in fields)


def locked_session_of_booking(booking_pk: Any) -> Any:
    """The session the booking ``booking_pk`` is stored in, its row locked as ``select_for_update()``
    locks it, as a model instance, in one statement; None if there is none."""
    connection, Session, Booking = db.connection(), get_session_model(), get_booking_model()
    sql, names = _session_of_booking_sql(Session, Booking, connection.alias)
    found = _fetch(sql, [param(Booking, Booking._meta.pk.name, booking_pk, connection)], Session, names)
    return Session.from_db(connection.alias, names, found[0]) if found else None


def rows(model: Any, where: dict[str, Any], *, order: tuple[str, ...] = (), first: bool = False,
         lock: bool = False) -> list[Any]:
    """The rows of ``model`` whose fields equal ``where``'s values, by ``order``, as model instances
    (``first``: the first only; ``lock``: locked as ``select_for_update()`` locks them):
    ``filter(**where).order_by(*order)`` without compiling it."""
    alias = db.alias()
    names = tuple(f.attname for f in model._meta.concrete_fields)
    found = select(model, names, [(name, "=", value) for name, value in where.items()], order=order, first=first,
                   lock=lock)
    return [model.from_db(alias, names, values) for values in found]
