from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class KassaConfig(AppConfig):
    """The project frame: settings, urls, the Celery app, `runstack`, the demo, the admin site."""

    name = "kassa"
    default = True

    def ready(self):
        # After the admin's autodiscovery (its app comes first in INSTALLED_APPS).
        from kassa import checks  # noqa: F401 - registers kassa.E002
        from kassa.admin import foreign_models_unregister

        foreign_models_unregister()


class KassaAdminConfig(admin_apps.AdminConfig):
    """Django's admin with Kassa's tenant-scoped site as the default site."""

    default = False
    default_site = "kassa.admin.TenantAdminSite"
