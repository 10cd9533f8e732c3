"""The lifecycle's records are the maintenance role's to write; the application role reads some.

Backups and restore drills are listed to a chain's users (`GET /api/v1/backups/`, the admin),
so the application role may SELECT them (the selectors filter by the tenant); it writes none:
a request asks for a backup through the privileged queue (`backup_request`). Purge
certificates are not read by any request: closed to it. The maintenance role has all four
privileges on them from tenants 0003.
"""

from django.db import migrations

from tenants.roles import migration_role


def forwards(apps, schema_editor):
    app = migration_role(schema_editor, "app")
    for statement in (
        f"REVOKE INSERT, UPDATE, DELETE ON lifecycle_backup, lifecycle_restoredrill FROM {app}",
        f"REVOKE ALL ON lifecycle_purgecertificate FROM {app}",
    ):
        schema_editor.execute(statement)


def backwards(apps, schema_editor):
    app = migration_role(schema_editor, "app")
    schema_editor.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON lifecycle_backup, lifecycle_restoredrill, "
        f"lifecycle_purgecertificate TO {app}"
    )


class Migration(migrations.Migration):
    dependencies = [("lifecycle", "0001_initial"), ("tenants", "0005_database_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
