"""``Idempotency-Key`` on the creating POSTs: a retry gets the first response and creates nothing.

The request runs in a transaction on the booking database: the service call first (so a request
its input alone refuses is refused before any lock), then the key's row, under a unique
(user, key) constraint, with the response to send. Of two requests racing with one key, the
second either waits for the first's row and fails to insert its own, or is refused by the service
because the first already made the change (``already_booked``); either way its transaction rolls
back and it answers with the first's stored response. A refused request stores nothing, so its
retry runs again. A key reused for another request (another address or body) is refused with
``idempotency_key_reused``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, connections, transaction
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from ..adapter import get_adapter
from ..exceptions import BookingError
from ..models import IdempotencyKey
from ..services._engine import db

HEADER = "Idempotency-Key"
#: The longest key accepted (the column's width).
MAX_KEY_LENGTH = 255
#: The response header that marks a stored response sent again.
REPLAYED_HEADER = "Idempotent-Replayed"


class KeyRefused(BookingError):
    """The header is malformed or names another request's key."""


def _key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not (0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()):
        raise KeyRefused(code="invalid_idempotency_key", params={"max": MAX_KEY_LENGTH})
    return key


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _plain(data: Any) -> Any:
    """Parsed request data as plain JSON values (a form's QueryDict as lists)."""
    lists = getattr(data, "lists", None)
    return {key: values for key, values in lists()} if callable(lists) else data


def _fingerprint(request: Request) -> str:
    """The request a key stands for: its method, address, query and body, the body as parsed (so the
    same JSON with its keys in another order or other spacing is the same request)."""
    what = [request.method, request.path, _plain(request.query_params), _plain(request.data)]
    canonical = json.dumps(what, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(row: IdempotencyKey, fingerprint: str) -> Response:
    """The stored answer; parsed from the stored text in its order, it renders to the same bytes."""
    if row.fingerprint != fingerprint:
        raise KeyRefused(code="idempotency_key_reused")
    response = Response(json.loads(row.response), row.status_code)
    response[REPLAYED_HEADER] = "true"
    return response


def _stored(user_pk: Any, digest: str, *, latest: bool = False) -> IdempotencyKey | None:
    """The stored key. ``latest``: as last committed, even inside a transaction reading an older
    snapshot (MySQL and MariaDB's repeatable read, under ``ATOMIC_REQUESTS``), which only a locking
    read sees past. The lock is a shared one: the requests that lost the race to insert the key
    already hold it shared, and asking for it exclusively would deadlock them with each other."""
    alias = db.alias()
    if latest and connections[alias].vendor == "mysql":
        quote = connections[alias].ops.quote_name
        table = IdempotencyKey._meta.db_table
        found = IdempotencyKey.objects.using(alias).raw(
            f"SELECT * FROM {quote(table)} WHERE {quote('user_id')} = %s AND {quote('digest')} = %s "
            "LOCK IN SHARE MODE", [user_pk, digest])
        return next(iter(found), None)
    return IdempotencyKey.objects.using(alias).filter(user_id=user_pk, digest=digest).first()


def idempotent(request: Request, create: Callable[[], Response]) -> Response:
    """Run ``create`` once per (user, ``Idempotency-Key``); without the header, just run it.

    ``create`` makes one service call and returns the success response; a ``BookingError`` it
    raises rolls everything back. The caller validates the input first (reading ``request.data``).
    """
    key = _key(request)
    if key is None:
        return create()
    fingerprint, digest = _fingerprint(request), _digest(key)
    user_pk: Any = request.user.pk
    found = _stored(user_pk, digest)
    if found is not None:
        return _replay(found, fingerprint)
    alias = db.alias()
    try:
        with transaction.atomic(using=alias):
            response = create()
            body = JSONRenderer().render(response.data).decode()
            with transaction.atomic(using=alias):
                IdempotencyKey.objects.using(alias).create(
                    user_id=user_pk, key=key, digest=digest, fingerprint=fingerprint,
                    status_code=response.status_code, response=body,
                    created_at=get_adapter().now().astimezone(dt.UTC))
    except (IntegrityError, BookingError):
        # Lost a race with the same key: the winner's answer is the answer.
        found = _stored(user_pk, digest, latest=True)
        if found is None:
            raise
        return _replay(found, fingerprint)
    return response
