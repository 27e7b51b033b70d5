from django.apps import AppConfig


class SchoolConfig(AppConfig):
    """The example host app."""

    name = "school"
    default_auto_field = "django.db.models.BigAutoField"
