"""``Idempotency-Key`` on the creating POSTs: a retry gets the first response and creates nothing.

The key's row is inserted first, in the transaction of the service call it guards, under a unique
(user, key) constraint. A second request with the same key waits on that row until the first
commits, then fails to insert, reads the stored response and answers with it; if the first is
refused, its rollback takes the row with it and the second runs as if it came first. A key reused
for another request (another address or body) is refused with ``idempotency_key_reused``.
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
    if row.fingerprint != fingerprint:
        raise KeyRefused(code="idempotency_key_reused")
    response = Response(row.response, row.status_code)
    response[REPLAYED_HEADER] = "true"
    return response


def _stored(user_pk: Any, key: str, *, latest: bool = False) -> IdempotencyKey | None:
    """The stored key. ``latest``: as last committed, even inside a transaction reading an older
    snapshot (MySQL and MariaDB's repeatable read, under ``ATOMIC_REQUESTS``), which only a locking
    read sees past. The lock is a shared one: the requests that lost the race to insert the key
    already hold it shared, and asking for it exclusively would deadlock them with each other."""
    alias = db.alias()
    if latest and connections[alias].vendor == "mysql":
        quote = connections[alias].ops.quote_name
        table = IdempotencyKey._meta.db_table
        found = IdempotencyKey.objects.using(alias).raw(
            f"SELECT * FROM {quote(table)} WHERE {quote('user_id')} = %s AND {quote('key')} = %s "
            "LOCK IN SHARE MODE", [user_pk, key])
        return next(iter(found), None)
    return IdempotencyKey.objects.using(alias).filter(user_id=user_pk, key=key).first()


def idempotent(request: Request, create: Callable[[], Response]) -> Response:
    """Run ``create`` once per (user, ``Idempotency-Key``); without the header, just run it.

    ``create`` makes one service call and returns the success response; a ``BookingError`` it
    raises rolls the key back with everything else. The caller validates the input first (reading
    ``request.data``): a request the input alone refuses takes no key, and so holds no lock.
    """
    key = _key(request)
    if key is None:
        return create()
    fingerprint = _fingerprint(request)
    user_pk: Any = request.user.pk
    found = _stored(user_pk, key)
    if found is not None:
        return _replay(found, fingerprint)
    alias = db.alias()
    try:
        with transaction.atomic(using=alias):
            with transaction.atomic(using=alias):
                row = IdempotencyKey.objects.using(alias).create(
                    user_id=user_pk, key=key, fingerprint=fingerprint, status_code=0, response={},
                    created_at=get_adapter().now().astimezone(dt.UTC))
            response = create()
            # Stored as the client reads it: the JSON the renderer writes, parsed back.
            row.response = json.loads(JSONRenderer().render(response.data) or b"null")
            row.status_code = response.status_code
            row.save(using=alias, update_fields=["response", "status_code"])
    except IntegrityError:
        found = _stored(user_pk, key, latest=True)
        if found is None:
            raise
        return _replay(found, fingerprint)
    return response
