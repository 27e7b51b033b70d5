"""A refused call leaves every object passed in exactly as it was.

The engine updates the caller's instances as it writes (so a successful call returns them as
stored); when the call then fails, the transaction rolls the rows back and this guard rolls the
instances back. One wrapper on every public service keeps the rule structural instead of a habit
at each raise site. The same wrapper keeps every service's reads on the primary database when a
host reads from replicas (``routers.use_primary``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from django.db.models import Model

from ...routers import use_primary
from . import db, outbox

P = ParamSpec("P")
R = TypeVar("R")


def _instances(values: Iterable[Any]) -> list[Model]:
    found: dict[int, Model] = {}
    for value in values:
        if isinstance(value, Model):
            found.setdefault(id(value), value)
            # One level of cached relations: booking.session is changed along with the booking.
            for related in value._state.fields_cache.values():
                if isinstance(related, Model):
                    found.setdefault(id(related), related)
    return list(found.values())


def _save(obj: Model) -> tuple[dict[str, Any], dict[str, Any]]:
    state = obj._state.__dict__.copy()
    state["fields_cache"] = dict(obj._state.fields_cache)
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}, state


def _restore(obj: Model, saved: tuple[dict[str, Any], dict[str, Any]]) -> None:
    fields, state = saved
    current_state = obj._state
    obj.__dict__.clear()
    obj.__dict__.update(fields)
    current_state.__dict__.clear()
    current_state.__dict__.update(state)
    obj._state = current_state


def keeps_arguments_on_refusal(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a public service: on any exception, its model arguments get their old field values back."""

    parameters = list(inspect.signature(func).parameters)
    actor_at = parameters.index("actor") if "actor" in parameters else None
    now_at = parameters.index("now") if "now" in parameters else None

    def argument(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, at: int | None) -> Any:
        if name in kwargs:
            return kwargs[name]
        return args[at] if at is not None and at < len(args) else None

    @functools.wraps(func)
    def service(*args: P.args, **kwargs: P.kwargs) -> R:
        saved = [(obj, _save(obj)) for obj in _instances([*args, *kwargs.values()])]
        try:
            # Who acts and when, for the messages the call's changes send (see outbox); every read
            # on the primary, never on a replica that may lag behind it (see routers).
            with outbox.calling(argument(args, kwargs, "actor", actor_at), argument(args, kwargs, "now", now_at)), \
                    use_primary(), db.pinned():
                return func(*args, **kwargs)
        except BaseException:
            for obj, state in saved:
                _restore(obj, state)
            raise

    service.keeps_arguments_on_refusal = True  # type: ignore[attr-defined]
    return service
