"""Runs only with tests.settings_swapped, where a host app replaces both models with subclasses."""

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.models import (
    LiveClassBooking,
    LiveClassSession,
    SessionWaitlist,
    get_booking_model,
    get_session_model,
)

from .invariants import assert_all

pytestmark = [pytest.mark.swapped, pytest.mark.django_db]


def test_the_swapped_models_are_active():
    assert get_session_model()._meta.label == "testapp.CourseSession"
    assert get_booking_model()._meta.label == "testapp.CourseBooking"
    assert LiveClassSession._meta.swapped == "testapp.CourseSession"
    assert LiveClassBooking._meta.swapped == "testapp.CourseBooking"


def test_relations_point_at_the_swapped_models():
    assert SessionWaitlist._meta.get_field("session").related_model is get_session_model()
    assert get_booking_model()._meta.get_field("session").related_model is get_session_model()


def test_book_and_cancel_with_swapped_models(session, student, teacher, now):
    type(session).objects.filter(pk=session.pk).update(subject="Maths")
    booking = services.book_seat(student, session, now=now)
    assert isinstance(booking, get_booking_model())
    get_booking_model().objects.filter(pk=booking.pk).update(paid=True)
    services.cancel_booking(booking, actor=teacher, now=now)
    booking.refresh_from_db()
    assert (booking.status, booking.paid, booking.session.subject) == ("cancelled", True, "Maths")
    assert_all()
