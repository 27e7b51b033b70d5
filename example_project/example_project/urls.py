from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    # The booking pages are the whole site of this example school.
    path("", include("django_liveclass_booking.urls")),
]
