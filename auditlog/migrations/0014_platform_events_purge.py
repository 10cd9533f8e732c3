"""A purge deletes the platform events that name its tenant, through one narrow function.

`kassa_platform_events_delete(ids)` (SECURITY DEFINER, owned by the owner, EXECUTE for the
maintenance role only) deletes the listed platform events, and only those whose subject tenant
is terminated or purged: the platform's history of a live tenant cannot be deleted this way.
It marks its statement like `kassa_audit_delete()`, which the append-only trigger honours for the
table's owner alone. Platform events get the kinds `tenant_terminated` (an owner ended the subscription) and
`tenant_restored` (a restore into the same tenant).
"""

from django.db import migrations, models

from tenants.roles import migration_role

FUNCTION = """
CREATE OR REPLACE FUNCTION kassa_platform_events_delete(ids bigint[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  deleted bigint;
BEGIN
  PERFORM set_config('kassa.audit_delete', 'on', true);
  DELETE FROM auditlog_platformevent e
  WHERE e.id = ANY(ids)
    AND e.subject_tenant IN (SELECT t.id FROM tenants_tenant t WHERE t.status IN ('terminated', 'purged'));
  GET DIAGNOSTICS deleted = ROW_COUNT;
  PERFORM set_config('kassa.audit_delete', 'off', true);
  RETURN deleted;
END
$$
"""


def forwards(apps, schema_editor):
    app = migration_role(schema_editor, "app")
    maintenance = migration_role(schema_editor, "maintenance")
    for statement in (
        FUNCTION,
        "REVOKE ALL ON FUNCTION kassa_platform_events_delete(bigint[]) FROM PUBLIC",
        f"REVOKE ALL ON FUNCTION kassa_platform_events_delete(bigint[]) FROM {app}",
        f"GRANT EXECUTE ON FUNCTION kassa_platform_events_delete(bigint[]) TO {maintenance}",
    ):
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    schema_editor.execute("DROP FUNCTION IF EXISTS kassa_platform_events_delete(bigint[])")


class Migration(migrations.Migration):
    dependencies = [
        ("auditlog", "0013_platform_and_seal_writers"),
        ("tenants", "0005_database_roles"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.AlterField(
            model_name="platformevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("tenant_created", "Tenant Created"),
                    ("support_access", "Support Access"),
                    ("audit_purged", "Audit Purged"),
                    ("master_key_rotated", "Master Key Rotated"),
                    ("audit_redacted", "Audit Redacted"),
                    ("mfa_reset", "Mfa Reset"),
                    ("staff_sign_in", "Staff Sign In"),
                    ("audit_verified", "Audit Verified"),
                    ("tenant_terminated", "Tenant Terminated"),
                    ("tenant_restored", "Tenant Restored"),
                    ("audit_anchored", "Audit Anchored"),
                ],
                max_length=32,
            ),
        ),
    ]
