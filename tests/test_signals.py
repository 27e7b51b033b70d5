"""Signals fire after a real COMMIT, once per transition, never for a rolled-back change."""

import pytest
from django.db import transaction

from django_liveclass_booking import services, signals
from django_liveclass_booking.models import get_booking_model

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def test_signal_is_sent_once_after_commit(session, student, now, signal_log):
    booking = services.book_seat(student, session, now=now)
    assert signal_log.names == ["booking_confirmed"]
    assert signal_log.sent[0][1]["booking"].pk == booking.pk


def test_signal_waits_for_the_outer_transaction(session, student, now, signal_log):
    with transaction.atomic():
        services.book_seat(student, session, now=now)
        assert signal_log.names == []
    assert signal_log.names == ["booking_confirmed"]


def test_no_signal_and_no_row_when_the_outer_transaction_rolls_back(session, student, now, signal_log):
    with pytest.raises(Boom), transaction.atomic():
        services.book_seat(student, session, now=now)
        raise Boom
    assert signal_log.names == []
    assert not get_booking_model().objects.exists()
    session.refresh_from_db()
    assert session.seats_taken == 0


def test_a_failing_receiver_does_not_undo_the_booking_or_stop_others(session, student, now, signal_log):
    def broken(**kwargs):
        raise RuntimeError("mail server down")

    signals.booking_confirmed.connect(broken, weak=False)
    try:
        services.book_seat(student, session, now=now)
    finally:
        signals.booking_confirmed.disconnect(broken)
    assert get_booking_model().objects.count() == 1
    assert signal_log.names == ["booking_confirmed"]
