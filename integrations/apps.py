from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations: webhooks"
    default_auto_field = "django.db.models.BigAutoField"
