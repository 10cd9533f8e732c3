"""Row-level security, append-only protection and the change-capture function of the audit tables."""

from django.db import migrations

import tenants.rls

# Tables whose rows may have no tenant (the platform's): a row is visible only when its tenant
# equals the current one, NULL matching only "no tenant selected". A tenant never sees the
# platform's rows nor another tenant's.
NULLABLE_TENANT_TABLES = ("auditlog_access", "auditlog_apicall", "auditlog_seal", "auditlog_sealedentry")
APPEND_ONLY_TABLES = (
    "auditlog_access",
    "auditlog_apicall",
    "auditlog_signinevent",
    "auditlog_change",
    "auditlog_seal",
    "auditlog_sealedentry",
    "auditlog_platformevent",
)

MATCH = "tenant_id IS NOT DISTINCT FROM kassa_current_tenant()"

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION auditlog_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The retention purge (auditlog.services.audit_purge) runs as the owner role and sets
  -- kassa.audit_purge in its transaction; the application role has no DELETE privilege at all.
  IF TG_OP = 'DELETE' AND current_setting('kassa.audit_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

CAPTURE_FUNCTION = """
CREATE OR REPLACE FUNCTION auditlog_change_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_row jsonb;
  new_row jsonb;
  row_data jsonb;
  changed_before jsonb;
  changed_after jsonb;
  ctx jsonb;
  col text;
  store_column text := TG_ARGV[2];
BEGIN
  IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
  IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
  row_data := coalesce(new_row, old_row);
  IF row_data->>'tenant_id' IS NULL THEN
    RETURN NULL;  -- a platform row (staff user): no tenant log to write it to
  END IF;
  IF TG_OP = 'UPDATE' THEN
    SELECT jsonb_object_agg(n.key, o.value), jsonb_object_agg(n.key, n.value)
      INTO changed_before, changed_after
      FROM jsonb_each(new_row) AS n JOIN jsonb_each(old_row) AS o ON o.key = n.key
     WHERE n.value IS DISTINCT FROM o.value;
    IF changed_after IS NULL THEN
      RETURN NULL;  -- nothing changed
    END IF;
    old_row := changed_before;
    new_row := changed_after;
  END IF;
  FOR i IN 3 .. TG_NARGS - 1 LOOP
    col := TG_ARGV[i];
    IF old_row ? col AND jsonb_typeof(old_row->col) <> 'null' THEN
      old_row := jsonb_set(old_row, ARRAY[col], '"[masked]"');
    END IF;
    IF new_row ? col AND jsonb_typeof(new_row->col) <> 'null' THEN
      new_row := jsonb_set(new_row, ARRAY[col], '"[masked]"');
    END IF;
  END LOOP;
  ctx := nullif(current_setting('pghistory.context_metadata', true), '')::jsonb;
  INSERT INTO auditlog_change (tenant_id, created_at, model, object_id, operation, before, after,
    user_id, token_id, support_grant_id, request_id, store_id, database_user)
  VALUES ((row_data->>'tenant_id')::uuid, clock_timestamp(), TG_ARGV[0], row_data->>TG_ARGV[1],
    lower(TG_OP), old_row, new_row, (ctx->'actor'->>'user')::uuid, (ctx->'actor'->>'token')::uuid,
    (ctx->'actor'->>'grant')::uuid, (ctx->>'request_id')::uuid,
    CASE WHEN store_column <> '' THEN (row_data->>store_column)::uuid END, current_user);
  RETURN NULL;
END
$$
"""


def forwards(apps, schema_editor):
    def execute(sql):
        schema_editor.execute(sql, params=None)

    for table in NULLABLE_TENANT_TABLES:
        for statement in tenants.rls.rls_statements(table):
            execute(statement)
        execute(f"ALTER POLICY {tenants.rls.POLICY} ON {table} USING ({MATCH}) WITH CHECK ({MATCH})")
    execute(REFUSE_FUNCTION)
    execute(CAPTURE_FUNCTION)
    for table in APPEND_ONLY_TABLES:
        execute(
            f"CREATE TRIGGER auditlog_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION auditlog_refuse_change()"
        )
    from tenants.roles import migration_role

    quoted = migration_role(schema_editor, "app")
    for table in APPEND_ONLY_TABLES:
        execute(f"REVOKE ALL ON {table} FROM {quoted}")
        execute(f"GRANT SELECT, INSERT ON {table} TO {quoted}")


def backwards(apps, schema_editor):
    for table in APPEND_ONLY_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS auditlog_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS auditlog_refuse_change()")
    schema_editor.execute("DROP FUNCTION IF EXISTS auditlog_change_capture() CASCADE")


class Migration(migrations.Migration):
    dependencies = [("auditlog", "0002_audit_tables")]

    operations = [
        tenants.rls.EnableRowLevelSecurity("changeevent"),
        tenants.rls.EnableRowLevelSecurity("auditsettings"),
        migrations.RunPython(forwards, backwards),
    ]
