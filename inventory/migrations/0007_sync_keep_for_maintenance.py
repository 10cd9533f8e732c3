"""Restores and imports run as the maintenance role (tenants 0005): it may keep the stamps it
loads (`kassa.sync_keep`), as the tables' owner could; any other role's setting is still ignored."""

from django.conf import settings
from django.db import migrations

from inventory.sync import FUNCTIONS_SQL, STAMP_FUNCTION_SQL


def _literal(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def forwards(apps, schema_editor):
    maintenance = settings.KASSA_DB_ROLES["maintenance"]
    schema_editor.execute(STAMP_FUNCTION_SQL.replace("MAINTENANCE", _literal(maintenance)), params=None)


def backwards(apps, schema_editor):
    schema_editor.execute(FUNCTIONS_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0006_kept_delete_function"),
        ("tenants", "0005_database_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
