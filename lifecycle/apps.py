from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Backups, restores and offboarding"
    default_auto_field = "django.db.models.BigAutoField"
