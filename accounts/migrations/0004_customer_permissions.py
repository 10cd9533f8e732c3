"""Issue 16: customers are created with `create_customers`; the cashier no longer manages them.

Every existing tenant's roles change the way new tenants' built-in roles are made: a role that
holds `manage_customers` also gets `create_customers` (so nobody loses what they could do),
and the built-in cashier holds `view_customers` and `create_customers` but no longer
`manage_customers` (change, export, erase). Row-level security applies to the owner too, so
the roles are updated tenant by tenant with the tenant selected.
"""

from django.db import migrations

ADD_CREATE_SQL = """
UPDATE accounts_role
   SET permissions = ARRAY(SELECT DISTINCT p FROM unnest(permissions || '{create_customers}'::varchar[]) p ORDER BY p)
 WHERE 'manage_customers' = ANY(permissions) AND NOT 'create_customers' = ANY(permissions)
"""
CASHIER_SQL = """
UPDATE accounts_role
   SET permissions = ARRAY(
       SELECT DISTINCT p
         FROM unnest(array_remove(permissions, 'manage_customers') || '{view_customers,create_customers}'::varchar[]) p
        ORDER BY p)
 WHERE builtin = 'cashier'
"""


def customer_permissions_update(apps, schema_editor) -> int:
    """Update every tenant's roles; return the number of tenants touched."""
    from tenants.context import tenant_context

    Tenant = apps.get_model("tenants", "Tenant")
    tenants = list(Tenant.objects.using(schema_editor.connection.alias).all())
    for tenant in tenants:
        with tenant_context(tenant), schema_editor.connection.cursor() as cursor:
            cursor.execute(ADD_CREATE_SQL)
            cursor.execute(CASHIER_SQL)
    return len(tenants)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_language"),
        ("tenants", "0002_store"),
    ]

    operations = [
        migrations.RunPython(customer_permissions_update, migrations.RunPython.noop, elidable=False),
    ]
