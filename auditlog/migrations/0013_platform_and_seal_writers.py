"""Seals and platform events: written by a dedicated role, not by the application role (issue 14).

- Seals and sealed entries: INSERT for the maintenance role only (the sealing job runs in the
  privileged worker, auditlog.audit_seal_task on the privileged queue); the application role
  reads them.
- Platform events: no role INSERTs them directly. `kassa_platform_event(...)` (SECURITY DEFINER,
  owned by the owner) appends an ordinary event: the application and maintenance roles may call
  it, and it refuses the exemption kinds (`audit_redacted`, `audit_purged`) that verify_audit
  takes as excuses for changed or missing entries. `kassa_platform_exemption(...)` appends only
  those, and only the maintenance role may call it.
"""

from django.db import migrations

from tenants.roles import migration_role

EXEMPTIONS = "('audit_redacted', 'audit_purged')"
ARGS = "created_at timestamptz, kind text, subject_tenant uuid, subject_slug text, actor text, request_id uuid, detail jsonb"
SIGNATURE = "timestamptz, text, uuid, text, text, uuid, jsonb"


FUNCTION = """
CREATE OR REPLACE FUNCTION NAME(ARGS) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF CONDITION THEN
    RAISE EXCEPTION 'NAME: %', format(REFUSAL, kind) USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO auditlog_platformevent (created_at, kind, subject_tenant, subject_slug, actor, request_id, detail)
  VALUES (created_at, kind, subject_tenant, subject_slug, actor, request_id, detail);
END
$$
"""


def _function(name: str, condition: str, refusal: str) -> str:
    """The function's SQL: every part is a constant of this file."""
    sql = FUNCTION.replace("NAME", name).replace("ARGS", ARGS)
    return sql.replace("CONDITION", condition).replace("REFUSAL", refusal)


EVENT_FUNCTION = _function(
    "kassa_platform_event",
    f"kind IN {EXEMPTIONS}",
    "'%s is an exemption: only kassa_platform_exemption() writes it'",
)
EXEMPTION_FUNCTION = _function(
    "kassa_platform_exemption", f"kind NOT IN {EXEMPTIONS}", "'%s is not an exemption'"
)


def forwards(apps, schema_editor):
    app = migration_role(schema_editor, "app")
    maintenance = migration_role(schema_editor, "maintenance")
    for statement in (
        EVENT_FUNCTION,
        EXEMPTION_FUNCTION,
        f"REVOKE ALL ON FUNCTION kassa_platform_event({SIGNATURE}) FROM PUBLIC",
        f"REVOKE ALL ON FUNCTION kassa_platform_exemption({SIGNATURE}) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION kassa_platform_event({SIGNATURE}) TO {app}, {maintenance}",
        f"GRANT EXECUTE ON FUNCTION kassa_platform_exemption({SIGNATURE}) TO {maintenance}",
        f"REVOKE INSERT ON auditlog_platformevent FROM {app}, {maintenance}",
        f"REVOKE INSERT ON auditlog_seal, auditlog_sealedentry FROM {app}",
    ):
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    app = migration_role(schema_editor, "app")
    maintenance = migration_role(schema_editor, "maintenance")
    schema_editor.execute(f"GRANT INSERT ON auditlog_platformevent TO {app}, {maintenance}")
    schema_editor.execute(f"GRANT INSERT ON auditlog_seal, auditlog_sealedentry TO {app}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS kassa_platform_event({SIGNATURE})")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS kassa_platform_exemption({SIGNATURE})")


class Migration(migrations.Migration):
    dependencies = [("auditlog", "0012_audit_delete_function")]

    operations = [migrations.RunPython(forwards, backwards)]
