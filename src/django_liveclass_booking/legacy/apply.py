"""Writing a plan: bulk inserts and one counter update, a constant number of statements, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import get_booking_model, get_session_model
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
    created = Session.objects.using(using).bulk_create(sessions)
    session_pks = {obj.external_ref: obj.pk for obj in created}
    if any(pk is None for pk in session_pks.values()):
        # Backends that cannot return the new keys from a bulk insert: look them up by ref.
        session_pks = {}
        for chunk in chunks(s["external_ref"] for s in plan.sessions):
            session_pks.update(Session.objects.using(using).filter(external_ref__in=chunk)
                               .values_list("external_ref", "pk"))
    bookings = []
    for fields in plan.bookings:
        values = dict(fields)
        ref = values.pop("session_ref", None)
        if ref is not None:
            values["session_id"] = session_pks[ref]
        bookings.append(_begin(Booking, values, plan))
    Booking.objects.using(using).bulk_create(bookings)


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
