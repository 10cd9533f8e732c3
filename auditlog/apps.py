from django.apps import AppConfig
from django.core.checks import Error, Tags, register
from django.db import DatabaseError
from django.db.models.signals import post_migrate


def _install_change_triggers(sender, using="owner", **kwargs):
    from auditlog.tracking import change_triggers_install

    if using == "owner":  # only the owner may create triggers; the app role owns no table
        change_triggers_install(using)


def change_triggers_present(app_configs, databases=None, **kwargs):
    """Fail when a table holding tenant data is not covered by the change log."""
    if not databases or "default" not in databases:
        return []
    from auditlog.tracking import tables_without_change_trigger

    try:
        missing = tables_without_change_trigger("default")
    except DatabaseError:
        return []
    return [
        Error(
            f"table {table} has a tenant_id column but no change-log trigger",
            hint="Run manage.py migrate: it installs the trigger on every tenant table.",
            id="auditlog.E001",
        )
        for table in missing
    ]


class AuditlogConfig(AppConfig):
    name = "auditlog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # After every migrate (and every test flush), for every app: a table added later is covered.
        post_migrate.connect(_install_change_triggers, dispatch_uid="auditlog_change_triggers")
        register(Tags.database)(change_triggers_present)
