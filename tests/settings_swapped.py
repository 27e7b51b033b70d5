"""Test settings with both swappable models replaced by subclasses in tests.testapp."""

from .settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]  # noqa: F405
LIVECLASS_BOOKING_SESSION_MODEL = "testapp.CourseSession"
LIVECLASS_BOOKING_BOOKING_MODEL = "testapp.CourseBooking"
