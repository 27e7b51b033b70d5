from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Sets the swappable-model settings defaults as soon as the app is listed, before any host model
# module (which may come earlier in INSTALLED_APPS) names them in a ForeignKey.
from . import conf  # noqa: F401


class LiveClassBookingConfig(AppConfig):
    name = "django_liveclass_booking"
    label = "liveclass_booking"
    verbose_name = _("Live class booking")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
