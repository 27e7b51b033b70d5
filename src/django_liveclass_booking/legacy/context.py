"""The database facts a plan depends on, read in a constant number of queries (and locked, for an import).

The planner itself never touches the database: users by username, the rows imported before,
the seats already held in those sessions, the teachers' scheduled sessions and their policies
all come from :func:`load_context`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import connections

from ..models import (
    SEAT_HOLDING_STATUSES,
    SessionKind,
    SessionStatus,
    TeacherBookingPolicy,
    get_booking_model,
    get_session_model,
)
from .parse import Parsed

#: Lookups with ``__in`` are split in chunks of this size (backends cap query parameters).
CHUNK = 500


@dataclass(frozen=True)
class Existing:
    """A session already in the database under one of the export's refs."""

    pk: Any
    teacher_id: Any
    kind: str
    status: str
    start: dt.datetime
    end: dt.datetime
    seats_taken: int
    capacity: int


@dataclass
class Context:
    """What the planner needs from the database, loaded in a constant number of queries."""

    now: dt.datetime
    users: dict[str, Any]  # username -> pk
    sessions: dict[str, Existing]  # external_ref -> session imported before
    booking_refs: set[str]  # bookings imported before
    seat_holders: dict[tuple[Any, Any], str]  # (session pk, student pk) -> seat-holding booking in ``sessions``
    busy: dict[Any, list[tuple[dt.datetime, dt.datetime, str]]]  # teacher pk -> scheduled sessions
    policies: dict[Any, tuple[int | None, int]]  # teacher pk -> (request_ttl_hours, buffer_minutes)


def chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    """The distinct values in a stable order, in lists short enough for one ``__in`` lookup."""
    items = sorted(set(values), key=str)
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def load_context(parsed: Parsed, now: dt.datetime, *, using: str, lock: bool) -> Context:
    """Read the facts the plan depends on. With ``lock``, in this order: teachers, then sessions.

    The teacher rows (policy rows, created with the defaults as the services do) serialise the
    import with every service that checks those teachers' calendars, so the planner's overlap check
    cannot be raced; the locked sessions keep their seat counters still until commit.
    """
    User = get_user_model()
    users: dict[str, Any] = {}
    for chunk in chunks(parsed.usernames()):
        users.update(User._default_manager.using(using).filter(**{f"{User.USERNAME_FIELD}__in": chunk})
                     .values_list(User.USERNAME_FIELD, "pk"))
    teachers = {r.teacher for r in parsed.sessions} | {r.teacher for r in parsed.lessons}
    teacher_ids = {users[name] for name in teachers if name in users}
    policies = _policies(teacher_ids, using=using, lock=lock)
    sessions = _existing_sessions(parsed.session_refs(), using=using, lock=lock)
    Booking = get_booking_model()
    booking_refs: set[str] = set()
    for chunk in chunks(parsed.booking_refs()):
        # external_ref is nullable, but a row matched by external_ref__in has one.
        booking_refs.update(cast(Iterable[str], Booking.objects.using(using).filter(external_ref__in=chunk)
                                 .values_list("external_ref", flat=True)))
    seat_holders: dict[tuple[Any, Any], str] = {}
    for chunk in chunks(s.pk for s in sessions.values() if s.kind == SessionKind.GROUP):
        for session_id, student_id, pk, ref in (
                Booking.objects.using(using).filter(session_id__in=chunk, status__in=SEAT_HOLDING_STATUSES)
                .values_list("session_id", "student_id", "pk", "external_ref")):
            seat_holders[(session_id, student_id)] = ref or f"booking #{pk}"
    max_buffer = max((buffer for _, buffer in policies.values()), default=0)
    busy = _busy(teacher_ids, parsed.time_range(), dt.timedelta(minutes=max_buffer), using=using)
    return Context(now=now, users=users, sessions=sessions, booking_refs=booking_refs, seat_holders=seat_holders,
                   busy=busy, policies=policies)


def _policies(teacher_ids: set[Any], *, using: str, lock: bool) -> dict[Any, tuple[int | None, int]]:
    qs = TeacherBookingPolicy.objects.using(using)
    if lock and teacher_ids:
        # One upsert for all teachers, then one locking read (what lock_teacher does for one).
        features = connections[using].features
        qs.bulk_create(
            [TeacherBookingPolicy(teacher_id=pk, **TeacherBookingPolicy.defaults()) for pk in sorted(teacher_ids)],
            update_conflicts=True,
            unique_fields=["teacher"] if features.supports_update_conflicts_with_target else None,
            update_fields=["teacher"],
        )
        qs = qs.select_for_update().order_by("teacher_id")
    found: dict[Any, tuple[int | None, int]] = {}
    for chunk in chunks(teacher_ids):
        found.update((t, (ttl, buffer)) for t, ttl, buffer in
                     qs.filter(teacher_id__in=chunk).values_list("teacher_id", "request_ttl_hours", "buffer_minutes"))
    defaults = TeacherBookingPolicy.defaults()
    fallback = (defaults.get("request_ttl_hours"), defaults.get("buffer_minutes") or 0)
    return {pk: found.get(pk, fallback) for pk in teacher_ids}


def _existing_sessions(refs: list[str], *, using: str, lock: bool) -> dict[str, Existing]:
    qs = get_session_model().objects.using(using)
    if lock:
        qs = qs.select_for_update().order_by("pk")
    found: dict[str, Existing] = {}
    for chunk in chunks(refs):
        for row in qs.filter(external_ref__in=chunk).values(
                "external_ref", "pk", "teacher_id", "kind", "status", "start_at_utc", "end_at_utc", "seats_taken",
                "capacity"):
            # external_ref is nullable, but a row matched by external_ref__in has one.
            found[cast(str, row["external_ref"])] = Existing(
                pk=row["pk"], teacher_id=row["teacher_id"], kind=row["kind"], status=row["status"],
                start=row["start_at_utc"], end=row["end_at_utc"], seats_taken=row["seats_taken"],
                capacity=row["capacity"])
    return found


def _busy(teacher_ids: set[Any], span: tuple[dt.datetime, dt.datetime] | None, margin: dt.timedelta, *,
          using: str) -> dict[Any, list[tuple[dt.datetime, dt.datetime, str]]]:
    """The teachers' scheduled sessions in the export's time range (widened by the largest buffer)."""
    busy: dict[Any, list[tuple[dt.datetime, dt.datetime, str]]] = defaultdict(list)
    if span is None:
        return busy
    qs = get_session_model().objects.using(using).filter(
        status=SessionStatus.SCHEDULED, start_at_utc__lt=span[1] + margin, end_at_utc__gt=span[0] - margin)
    for chunk in chunks(teacher_ids):
        for teacher_id, start, end, pk, ref in qs.filter(teacher_id__in=chunk).values_list(
                "teacher_id", "start_at_utc", "end_at_utc", "pk", "external_ref"):
            busy[teacher_id].append((start, end, ref or f"session #{pk}"))
    return busy
