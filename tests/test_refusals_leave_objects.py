"""A refused call leaves the objects passed in exactly as they were, and as they are stored.

Callers keep using their instances after a refusal (a view re-renders the booking it just failed
to cancel), so a status moved on the instance and then rolled back in the database only would show
a state that never happened. Some services move the row first and refuse afterwards (cancel_booking
checks the cutoff after the state machine), so these cases are the ones that need the guard.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db.models import Model

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError, InvalidTransition
from django_liveclass_booking.models import SessionWaitlist, get_booking_model

pytestmark = pytest.mark.django_db


def fields(obj: Model) -> dict[str, Any]:
    """The concrete field values the instance holds."""
    return {f.attname: obj.__dict__[f.attname] for f in obj._meta.concrete_fields if f.attname in obj.__dict__}


def stored(obj: Model) -> dict[str, Any]:
    return fields(type(obj)._default_manager.get(pk=obj.pk))


def related(obj: Model) -> dict[str, dict[str, Any]]:
    """The field values of the instances cached on ``obj`` (``booking.session``): the caller holds those too."""
    return {name: fields(value) for name, value in obj._state.fields_cache.items() if isinstance(value, Model)}


def assert_untouched(obj: Model, before: dict[str, Any], cached_before: dict[str, dict[str, Any]]) -> None:
    assert fields(obj) == before
    assert fields(obj) == stored(obj)
    assert related(obj) == cached_before


def test_a_cancellation_refused_by_the_cutoff_leaves_the_booking_confirmed(session, student, set_policy, now):
    set_policy(cancellation_cutoff_hours=24, allow_late_cancellation=False)
    services.book_seat(student, session, now=now)
    # As a caller holds it: loaded with its session.
    booking = get_booking_model().objects.select_related("session").get(session=session, student=student)
    before, cached_before = fields(booking), related(booking)
    assert booking.status == "confirmed" and "session" in cached_before

    with pytest.raises(BookingError) as refused:
        services.cancel_booking(booking, actor=student, now=session.start_at_utc - dt.timedelta(hours=2))

    assert refused.value.code == "cancellation_window"
    assert booking.status == "confirmed"
    assert booking.cancelled_at is None and booking.cancelled_by_id is None
    assert_untouched(booking, before, cached_before)


def test_declining_a_declined_booking_leaves_the_instance_as_it_was(session, student, teacher, set_policy, now):
    set_policy(approval_mode="manual")
    pending = services.book_seat(student, session, now=now)
    services.decline_booking(pending, actor=teacher, reason="Full of regulars", now=now)
    declined = get_booking_model().objects.select_related("session").get(pk=pending.pk)
    assert declined.status == "declined"
    before, cached_before = fields(declined), related(declined)

    with pytest.raises(InvalidTransition):
        services.decline_booking(declined, actor=teacher, reason="Again", now=now + dt.timedelta(minutes=5))

    assert declined.status == "declined" and declined.reason == "Full of regulars"
    assert_untouched(declined, before, cached_before)


def test_accepting_an_expired_offer_leaves_the_entry_as_it_was(make_session, make_user, teacher, set_policy, now):
    set_policy(waitlist_offer_ttl_minutes=30)
    session = make_session(capacity=1)
    holder, waiting = make_user(), make_user()
    booking = services.book_seat(holder, session, now=now)
    services.join_waitlist(waiting, session, now=now)
    services.cancel_booking(booking, actor=holder, now=now)
    entry = SessionWaitlist.objects.select_related("session").get(session=session, student=waiting)
    assert entry.status == "offered" and entry.offer_expires_at == now + dt.timedelta(minutes=30)
    before, cached_before = fields(entry), related(entry)

    with pytest.raises(BookingError) as refused:
        services.accept_offer(entry, actor=waiting, now=now + dt.timedelta(minutes=45))

    assert refused.value.code == "offer_expired"
    assert entry.status == "offered"
    assert_untouched(entry, before, cached_before)
