from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView
from school import views as school

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    # set_language: the header's language switcher posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    path("credits/", school.my_credits, name="my_credits"),
    path("credits/buy/", school.buy_credits, name="buy_credits"),
    path("outbox/", school.outbox, name="outbox"),
    path("outbox/<int:pk>/", school.outbox_message, name="outbox_message"),
    # The HTTP API and its OpenAPI schema (api/schema/); the browsable API signs in at /accounts/login/.
    path("api/", include("django_liveclass_booking.api.urls")),
    path("api-docs/", SpectacularSwaggerView.as_view(url_name="liveclass_booking_api:schema"), name="api_docs"),
    # The booking pages are the whole site of this example school.
    path("", include("django_liveclass_booking.urls")),
]

# Refusals look like the school's other pages.
handler403 = "django_liveclass_booking.views.site.permission_denied"
handler404 = "django_liveclass_booking.views.site.page_not_found"
