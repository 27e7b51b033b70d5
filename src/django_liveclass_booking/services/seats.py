"""The seat counter. Only these functions change ``seats_taken``, always in the database.

A claim is one conditional UPDATE: it succeeds only while the session is open and has a free seat,
so concurrent claims can never oversell, and it locks the session row until commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import F

from ..models import SessionStatus, get_session_model


def claim_seat(session_pk: Any, now: dt.datetime) -> bool:
    Session = get_session_model()
    if connection.vendor == "mysql":
        # InnoDB may run this UPDATE through the status index, locking that index entry before the
        # row, while cancel_session holds the row and then updates the entry: a deadlock. Taking
        # the row by primary key first keeps one lock order. PostgreSQL locks no index entries.
        lock_session(session_pk)
    return bool(
        Session.objects.filter(
            pk=session_pk, status=SessionStatus.SCHEDULED, start_at_utc__gt=now, seats_taken__lt=F("capacity")
        ).update(seats_taken=F("seats_taken") + 1)
    )


def release_seat(session_pk: Any) -> bool:
    Session = get_session_model()
    return bool(Session.objects.filter(pk=session_pk, seats_taken__gt=0).update(seats_taken=F("seats_taken") - 1))


def lock_session(session_pk: Any) -> Any:
    """Lock a session row (``SELECT ... FOR UPDATE``) before changing its bookings' seats."""
    Session = get_session_model()
    return Session.objects.select_for_update().filter(pk=session_pk).first()
