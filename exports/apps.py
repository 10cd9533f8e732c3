from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Exports and customer data"
    default_auto_field = "django.db.models.BigAutoField"
