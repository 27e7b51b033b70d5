"""``path("api/", include("django_liveclass_booking.api.urls"))``: the HTTP API and its OpenAPI schema.

Any other address under the prefix answers a JSON 404 (``not_found``) like the API's own.
"""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from . import bookings, lessons, sessions, teaching
from .errors import not_found
from .schema_view import SchemaView

app_name = "liveclass_booking_api"

router = SimpleRouter()
router.register("sessions", sessions.SessionViewSet, basename="session")
router.register("bookings", bookings.BookingViewSet, basename="booking")
router.register("waitlist", bookings.WaitlistViewSet, basename="waitlist")
router.register("reschedule-requests", bookings.RescheduleRequestViewSet, basename="reschedule")
router.register("teachers", lessons.TeacherViewSet, basename="teacher")
router.register("series", lessons.SeriesViewSet, basename="series")
router.register("teach/availability", teaching.AvailabilityViewSet, basename="availability")
router.register("teach/time-off", teaching.TimeOffViewSet, basename="time-off")

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("teach/policy/", teaching.PolicyViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
         name="policy"),
    *router.urls,
    # [\s\S], not ".": a path with a newline in it is no operation either.
    re_path(r"^[\s\S]*$", not_found),
]
