from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("booking/", include("django_liveclass_booking.urls")),
    path("api/", include("django_liveclass_booking.api.urls")),
]
