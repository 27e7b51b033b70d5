from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiveClassBookingConfig(AppConfig):
    name = "django_liveclass_booking"
    label = "liveclass_booking"
    verbose_name = _("Live class booking")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
