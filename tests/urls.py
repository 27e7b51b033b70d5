from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("booking/", include("django_liveclass_booking.urls")),
    path("api/", include("django_liveclass_booking.api.urls")),
]

# Refusals inside the booking pages' layout, as docs/views.rst tells hosts to set them.
handler403 = "django_liveclass_booking.views.site.permission_denied"
handler404 = "django_liveclass_booking.views.site.page_not_found"
