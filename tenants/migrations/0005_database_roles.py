"""The maintenance role's grants, and the application role narrowed on the platform tables.

Grants come from migrations (run by the owner) to the roles named in settings.KASSA_DB_ROLES
(docs/architecture.md "Three database roles"; kassa.E002 checks the outcome):

- maintenance: SELECT, INSERT, UPDATE, DELETE on every table, now and later (default
  privileges), under row-level security like the application role; audit tables are narrowed
  again by auditlog (INSERT only, deletes through kassa_audit_delete()). No TRUNCATE, no DDL.
- application role: the tenants and their hosts are read before a tenant is known, never
  written (onboarding, restore and purge are the maintenance role's).
- Django's tables that no Kassa process uses (users have no groups or Django permissions,
  sessions live in Redis) are closed to both; content types and the migration record are read
  only; the admin's history, which Kassa does not keep, is read only (the admin index lists it).
"""

from django.db import migrations

from tenants.roles import migration_role

UNUSED = ("auth_group", "auth_group_permissions", "auth_permission", "django_session", "pghistory_context")


def forwards(apps, schema_editor):
    app = migration_role(schema_editor, "app")
    maintenance = migration_role(schema_editor, "maintenance")
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {maintenance}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {maintenance}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {maintenance}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {maintenance}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {maintenance}",
        f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {maintenance}",
        f"REVOKE INSERT, UPDATE, DELETE ON django_content_type FROM {app}, {maintenance}",
        f"REVOKE INSERT, UPDATE, DELETE ON tenants_tenant, tenants_domain FROM {app}",
        # The admin's own history is not kept (accounts.admin_base); its index still reads it.
        f"REVOKE INSERT, UPDATE, DELETE ON django_admin_log FROM {app}",
        *(f"REVOKE ALL ON {table} FROM {app}, {maintenance}" for table in UNUSED),
    ):
        schema_editor.execute(statement)


def backwards(apps, schema_editor):
    app = migration_role(schema_editor, "app")
    maintenance = migration_role(schema_editor, "maintenance")
    schema_editor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON tenants_tenant, tenants_domain TO {app}")
    schema_editor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {maintenance}")
    schema_editor.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {maintenance}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_time_zones"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("pghistory", "0007_auto_20250421_0444"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
