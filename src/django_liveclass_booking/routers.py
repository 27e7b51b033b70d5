"""Read replicas: page and API reads from a replica, writes and every service on the primary.

Three parts, each usable on its own:

* :class:`ReplicaRouter`, a database router for ``DATABASE_ROUTERS``. It sends a read to a replica
  of the database the model is written to, unless the read must see the latest writes: inside a
  service (every public function of ``django_liveclass_booking.services`` runs on the primary),
  inside :func:`use_primary`, or while the primary's connection is in an atomic block.
* :class:`ReadYourWritesMiddleware` pins a request to the primary when it writes (POST, PUT,
  PATCH, DELETE) and, through a signed cookie, the same browser's requests for the next
  ``LIVECLASS_BOOKING_READ_YOUR_WRITES_SECONDS`` seconds: whoever just booked sees the booking.
* :func:`use_primary`, a context manager for the host's own code that must read what it wrote.

Which aliases are replicas of which is the top-level setting ``LIVECLASS_BOOKING_REPLICAS``::

    LIVECLASS_BOOKING_REPLICAS = {"default": ["replica"]}
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import connections, router
from django.db.models import Model
from django.http import HttpRequest, HttpResponseBase

__all__ = [
    "READ_YOUR_WRITES_SETTING",
    "REPLICAS_SETTING",
    "ReadYourWritesMiddleware",
    "ReplicaRouter",
    "on_primary",
    "use_primary",
]

#: ``{"<primary alias>": ["<replica alias>", ...]}``: the replicas each primary's reads may go to.
REPLICAS_SETTING = "LIVECLASS_BOOKING_REPLICAS"
#: Seconds after a writing request during which the same browser still reads from the primary.
READ_YOUR_WRITES_SETTING = "LIVECLASS_BOOKING_READ_YOUR_WRITES_SECONDS"
DEFAULT_READ_YOUR_WRITES_SECONDS = 10

#: Methods that only read; any other method writes, and its request runs on the primary.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_primary: ContextVar[bool] = ContextVar("liveclass_booking_primary", default=False)


class use_primary:  # lower case: it is used like a function, ``with use_primary():``
    """Within the block, every read the router sees goes to the primary.

    For host code that reads what it has just written, or must not act on a replica's older state
    (``select_for_update()`` outside a service, a check before a write). Nests, and is cheap
    enough to wrap every service call, which is what the package does.
    """

    __slots__ = ("_token",)

    def __init__(self) -> None:
        self._token: Token[bool] | None = None

    def __enter__(self) -> None:
        self._token = _primary.set(True)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._token is not None:
            _primary.reset(self._token)
            self._token = None


def on_primary() -> bool:
    """Whether the code running now is pinned to the primary (a service, ``use_primary()``, a write request)."""
    return _primary.get()


@dataclass(frozen=True)
class Replicas:
    """``LIVECLASS_BOOKING_REPLICAS`` checked: each primary's replicas, and each replica's primary."""

    of: dict[str, tuple[str, ...]] = field(default_factory=dict)
    primary_of: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls) -> Replicas:
        value = getattr(settings, REPLICAS_SETTING, {})
        if not isinstance(value, dict):
            raise ImproperlyConfigured(
                f"{REPLICAS_SETTING} must be a dict such as {{'default': ['replica']}}, not {value!r}.")
        of: dict[str, tuple[str, ...]] = {}
        primary_of: dict[str, str] = {}
        for primary, replicas in value.items():
            if (not isinstance(replicas, list | tuple) or not replicas
                    or not all(isinstance(alias, str) for alias in replicas)):
                raise ImproperlyConfigured(
                    f"{REPLICAS_SETTING}[{primary!r}] must be a non-empty list of aliases, not {replicas!r}.")
            for alias in (primary, *replicas):
                if alias not in settings.DATABASES:
                    raise ImproperlyConfigured(f"{REPLICAS_SETTING} names {alias!r}, which is not in DATABASES.")
            for replica in replicas:
                if replica == primary or replica in value or replica in primary_of:
                    raise ImproperlyConfigured(
                        f"{REPLICAS_SETTING}: {replica!r} must be the replica of one primary, and no primary itself.")
                primary_of[replica] = primary
            of[primary] = tuple(replicas)
        return cls(of, primary_of)


_replicas: list[Replicas] = []


def replicas() -> Replicas:
    """The checked ``LIVECLASS_BOOKING_REPLICAS``, read once (again after ``override_settings``)."""
    if not _replicas:
        _replicas.append(Replicas.from_settings())
    return _replicas[0]


def read_your_writes_seconds() -> int:
    """``LIVECLASS_BOOKING_READ_YOUR_WRITES_SECONDS``: the window after a write; 0 turns it off."""
    value = getattr(settings, READ_YOUR_WRITES_SETTING, DEFAULT_READ_YOUR_WRITES_SECONDS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ImproperlyConfigured(f"{READ_YOUR_WRITES_SETTING} must be a whole number of seconds, not {value!r}.")
    return value


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (REPLICAS_SETTING, "DATABASES"):
        _replicas.clear()


setting_changed.connect(_settings_changed, dispatch_uid="liveclass_booking_replicas_reload")


def _instance_db(hints: dict[str, Any]) -> str | None:
    instance = hints.get("instance")
    return instance._state.db if isinstance(instance, Model) else None


class ReplicaRouter:
    """Reads from a replica of the model's primary, except where they must see the latest writes.

    List it **first** in ``DATABASE_ROUTERS``. It answers reads only; for writes, migrations and
    relations it defers to the routers after it (or Django's default), so it combines with a
    router that puts the booking models on another alias: the model's primary is whatever the
    routers choose for its writes, and its replicas are ``LIVECLASS_BOOKING_REPLICAS[primary]``.

    A read goes to the primary when:

    * the code is pinned to it: a public service of the package, :func:`use_primary`, or a
      request :class:`ReadYourWritesMiddleware` pins;
    * the primary's connection is in an atomic block (a read inside a transaction must see the
      transaction's own writes; with ``ATOMIC_REQUESTS`` every request reads the primary);
    * the read follows a relation of an object loaded from the primary.

    Otherwise it goes to one of the primary's replicas (picked at random when there are several),
    or stays on the replica a related object was loaded from.
    """

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        primary = router.db_for_write(model, **hints)
        found = replicas().of.get(primary)
        if not found:
            return None
        if _primary.get() or connections[primary].in_atomic_block:
            return primary
        loaded_from = _instance_db(hints)
        if loaded_from == primary or loaded_from in found:
            return loaded_from
        return found[0] if len(found) == 1 else random.choice(found)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        # Django writes an object back where it was loaded from: for a replica, that is its primary.
        loaded_from = _instance_db(hints)
        return replicas().primary_of.get(loaded_from) if loaded_from else None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        known = replicas().primary_of
        first, second = obj1._state.db, obj2._state.db
        if first and second and (first in known or second in known) and known.get(first, first) == known.get(
                second, second):
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        # A replica gets its tables from its primary by replication, never by migrate.
        return False if db in replicas().primary_of else None


class ReadYourWritesMiddleware:
    """Runs writing requests, and the writer's requests for a short while after, on the primary.

    A POST, PUT, PATCH or DELETE runs pinned to the primary (its reads must see the state it
    changes), and its response sets a signed cookie valid for
    ``LIVECLASS_BOOKING_READ_YOUR_WRITES_SECONDS`` seconds. While the cookie is valid the same
    browser's requests run on the primary too, so the page after a booking shows the booking even
    when the replicas lag. Put it first in ``MIDDLEWARE``, before the session and authentication
    middleware, so that their reads are pinned as well.
    """

    #: The cookie's name and signing salt; a subclass may change them.
    cookie_name = "liveclass_primary"
    salt = "django_liveclass_booking.routers.ReadYourWritesMiddleware"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        window = read_your_writes_seconds()
        writes = request.method not in SAFE_METHODS
        if not (writes or self.wrote_recently(request, window)):
            return self.get_response(request)
        with use_primary():
            response = self.get_response(request)
        if writes and window:
            response.set_signed_cookie(
                self.cookie_name, "1", salt=self.salt, max_age=window, httponly=True, samesite="Lax",
                secure=request.is_secure(),
            )
        return response

    def wrote_recently(self, request: HttpRequest, window: int) -> bool:
        """Whether the request carries a valid cookie from a write less than ``window`` seconds ago."""
        if not window or self.cookie_name not in request.COOKIES:
            return False
        return request.get_signed_cookie(self.cookie_name, default=None, salt=self.salt, max_age=window) == "1"
