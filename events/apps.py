from django.apps import AppConfig


class EventsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "events"
    verbose_name = "Conflict events"

    def ready(self):
        # Registers the OpenAPI extension for NestedRelatedField.
        from .api import fields  # noqa: F401
