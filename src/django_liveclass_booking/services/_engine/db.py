"""The database the booking models live on.

A host's router may put them on any alias; every transaction, lock and raw statement of the engine
goes to the alias the router gives the booking model for writes, so nothing lands on ``default`` by
accident.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from ...models import get_booking_model

#: The alias for the running service call, asked of the router once per call (see ``pinned``).
_pinned: contextvars.ContextVar[str | None] = contextvars.ContextVar("liveclass_booking_alias", default=None)


def alias() -> str:
    """The alias of the booking models' database (the router's choice for writes)."""
    return _pinned.get() or router.db_for_write(get_booking_model()) or DEFAULT_DB_ALIAS


@contextlib.contextmanager
def pinned() -> Iterator[None]:
    """Ask the router once for the whole block: a service call touches the database a dozen times."""
    token = _pinned.set(None)
    _pinned.set(alias())
    try:
        yield
    finally:
        _pinned.reset(token)


def connection() -> BaseDatabaseWrapper:
    return connections[alias()]


@contextlib.contextmanager
def atomic() -> Iterator[None]:
    """``transaction.atomic`` on the booking database, writing the block's notifications before it ends."""
    from . import outbox

    with transaction.atomic(using=alias()), outbox.collecting():
        yield


def on_commit(func: Callable[[], None]) -> None:
    """Run ``func`` after the booking database's transaction commits; never after a rollback."""
    transaction.on_commit(func, using=alias(), robust=True)


def in_transaction() -> bool:
    return connection().in_atomic_block
