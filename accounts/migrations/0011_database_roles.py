"""The application role adds no platform staff; django-axes's lockout rows belong to a tenant.

- `accounts_user`: restrictive policies for the application role: a user it inserts or deletes
  has a tenant. Platform staff (no tenant) are made by the maintenance role only
  (`manage.py createsuperuser`, where the default connection is the maintenance role).
- `axes_accessattempt`, `axes_accessattemptexpiration`: a `tenant_id` column whose default is the
  tenant selected (so django-axes's own inserts fill it) and the tenant policy, with NULL for
  sign-ins on the platform host as in the audit tables: the application role keeps working on
  them, for the tenant signing in only, and a purge finds them by tenant like any tenant table.
  (The lockout key must still be unique across tenants: django-axes's unique constraint on
  username, address and browser does not include the tenant.)
- `axes_accesslog`, `axes_accessfailurelog`: not used (AXES_DISABLE_ACCESS_LOG, no failure log):
  closed to both run-time roles.
"""

from django.db import migrations

from tenants.roles import migration_role

MATCH = "tenant_id IS NOT DISTINCT FROM kassa_current_tenant()"
AXES_TENANT_TABLES = ("axes_accessattempt", "axes_accessattemptexpiration")
AXES_UNUSED = ("axes_accesslog", "axes_accessfailurelog")


def forwards(apps, schema_editor):
    app = migration_role(schema_editor, "app")
    maintenance = migration_role(schema_editor, "maintenance")
    statements = [
        "DROP POLICY IF EXISTS app_tenant_users_insert ON accounts_user",
        "DROP POLICY IF EXISTS app_tenant_users_delete ON accounts_user",
        f"CREATE POLICY app_tenant_users_insert ON accounts_user AS RESTRICTIVE FOR INSERT TO {app} "
        "WITH CHECK (tenant_id IS NOT NULL)",
        f"CREATE POLICY app_tenant_users_delete ON accounts_user AS RESTRICTIVE FOR DELETE TO {app} "
        "USING (tenant_id IS NOT NULL)",
    ]
    for table in AXES_TENANT_TABLES:
        statements += [
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS tenant_id uuid DEFAULT kassa_current_tenant() "
            "REFERENCES tenants_tenant (id) DEFERRABLE INITIALLY DEFERRED",
            f"CREATE INDEX IF NOT EXISTS {table}_tenant ON {table} (tenant_id)",
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS tenant_isolation ON {table}",
            f"CREATE POLICY tenant_isolation ON {table} USING ({MATCH}) WITH CHECK ({MATCH})",
        ]
    statements += [f"REVOKE ALL ON {table} FROM {app}, {maintenance}" for table in AXES_UNUSED]
    for statement in statements:
        schema_editor.execute(statement)


def backwards(apps, schema_editor):
    schema_editor.execute("DROP POLICY IF EXISTS app_tenant_users_insert ON accounts_user")
    schema_editor.execute("DROP POLICY IF EXISTS app_tenant_users_delete ON accounts_user")
    for table in AXES_TENANT_TABLES:
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS tenant_id")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_role_register_fields"),
        ("axes", "0010_accessattemptexpiration"),
        ("tenants", "0005_database_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
