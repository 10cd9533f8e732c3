"""The `manage_webhooks` permission joins the built-in owner and integrator roles of every tenant.

Roles are under row-level security, so each tenant is selected in turn (the migration runs as the
owner, which RLS binds too)."""

from django.db import migrations

SQL = """
UPDATE accounts_role SET permissions = array_append(permissions, 'manage_webhooks')
 WHERE builtin IN ('owner', 'integrator') AND NOT ('manage_webhooks' = ANY(permissions))
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenants_tenant")
        for (tenant_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('kassa.tenant_id', %s, true)", [str(tenant_id)])
            cursor.execute(SQL)
        cursor.execute("SELECT set_config('kassa.tenant_id', '', true)")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_backoffice_permissions"), ("tenants", "0002_store")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
