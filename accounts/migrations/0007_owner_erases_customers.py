"""The owner's built-in role holds the new `erase_customers` (split from `manage_customers`)."""

from django.db import migrations


def owners_erase_customers(apps, schema_editor):
    from tenants.context import tenant_context
    from tenants.models import Tenant

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenants_tenant")
        tenant_ids = [row[0] for row in cursor.fetchall()]
    for tenant_id in tenant_ids:  # row-level security: each tenant's roles with that tenant selected
        with tenant_context(Tenant(pk=tenant_id)), schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "UPDATE accounts_role SET permissions = array_append(permissions, 'erase_customers') "
                "WHERE tenant_id = %s AND builtin = 'owner' AND NOT ('erase_customers' = ANY(permissions))",
                [tenant_id],
            )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_platform_totp_device"), ("tenants", "0002_store")]

    operations = [migrations.RunPython(owners_erase_customers, migrations.RunPython.noop)]
