"""Writing a plan: bulk inserts and one counter update, a constant number of statements, in the caller's transaction.

Every new booking gets its first history row, an ``imported`` event naming the legacy row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import BookingEvent, BookingEventKind, get_booking_model, get_session_model
from ..services._engine import seats, transitions
from .context import chunks
from .plan import Plan


def apply_plan(plan: Plan, *, using: str) -> None:
    """Write the plan: bulk inserts and one counter update, a constant number of statements.

    ``bulk_create`` sends no ``pre_save``/``post_save`` signals and the services' signals are not
    sent either: an import records history, nobody is to be notified of it. The caller holds the
    transaction and the locks taken by :func:`~.context.load_context`.
    """
    Session, Booking = get_session_model(), get_booking_model()
    sessions = [_begin(Session, fields, plan) for fields in plan.sessions]
    write_seats_taken(sessions, plan.seat_counts, plan.seat_increments, using=using)
    session_pks = _insert(Session, sessions, using=using)
    bookings = []
    for fields in plan.bookings:
        values = dict(fields)
        ref = values.pop("session_ref", None)
        if ref is not None:
            values["session_id"] = session_pks[ref]
        bookings.append(_begin(Booking, values, plan))
    booking_pks = _insert(Booking, bookings, using=using)
    write_events(bookings, booking_pks, plan, using=using)


def write_events(bookings: list[Any], pks: Mapping[str, Any], plan: Plan, *, using: str) -> None:
    """The history of the new bookings: one ``imported`` event each, in one bulk insert.

    Built here rather than by ``history.created``, which writes on the booking models' usual
    database: the import writes on ``using``, and each event names its own legacy row.
    """
    BookingEvent.objects.using(using).bulk_create([
        BookingEvent(booking_id=pks[b.external_ref], kind=BookingEventKind.IMPORTED, actor_id=None, at=plan.now,
                     data={"status": b.status, "source": b.source, "legacy_ref": b.external_ref,
                           "legacy_status": plan.legacy_statuses[b.external_ref]})
        for b in bookings
    ])


def _insert(model: Any, objs: list[Any], *, using: str) -> dict[str, Any]:
    """Bulk insert ``objs``; their primary keys by ``external_ref``."""
    created = model.objects.using(using).bulk_create(objs)
    pks = {obj.external_ref: obj.pk for obj in created}
    if any(pk is None for pk in pks.values()):
        # Backends that cannot return the new keys from a bulk insert: look them up by ref.
        pks = {}
        for chunk in chunks(obj.external_ref for obj in objs):
            pks.update(model.objects.using(using).filter(external_ref__in=chunk).values_list("external_ref", "pk"))
    return pks


def write_seats_taken(new: list[Any], counts: Mapping[str, int], increments: Mapping[Any, int], *,
                      using: str) -> None:
    """Set the counter of the sessions about to be inserted, and add to that of sessions imported before.

    The only code of the import that writes ``seats_taken``.
    """
    for session in new:
        seats.set_taken(session, counts[session.external_ref])
    # One relative UPDATE for all, never a Python read-modify-write of the counter. Their rows are
    # locked since load_context, and the planner counted from their locked seats_taken, so the
    # CHECK constraint holds.
    seats.add_seats(increments, using=using)


def _begin(model: Any, fields: Mapping[str, Any], plan: Plan) -> Any:
    """A new row in the status the export gave it, changed as of the import."""
    values = dict(fields)
    status = values.pop("status")
    return transitions.begin(model(**values), status, plan.now, imported=True)
