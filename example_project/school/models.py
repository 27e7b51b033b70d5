from django.db import models

from django_liveclass_booking.models import AbstractLiveClassSession


class Lesson(AbstractLiveClassSession):
    """The school's session model: a live class with a subject (``LIVECLASS_BOOKING_SESSION_MODEL``)."""

    subject = models.CharField("subject", max_length=100, blank=True)

    class Meta(AbstractLiveClassSession.Meta):
        verbose_name = "lesson"
        verbose_name_plural = "lessons"
