"""A host app that swaps both models for subclasses adding a field, as a platform would."""

from django.db import models

from django_liveclass_booking.models import AbstractLiveClassBooking, AbstractLiveClassSession


class CourseSession(AbstractLiveClassSession):
    subject = models.CharField(max_length=100, blank=True)

    class Meta(AbstractLiveClassSession.Meta):
        pass


class CourseBooking(AbstractLiveClassBooking):
    paid = models.BooleanField(default=False)

    class Meta(AbstractLiveClassBooking.Meta):
        pass
