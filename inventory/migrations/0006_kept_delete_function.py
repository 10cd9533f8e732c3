"""Closed shifts and Z reports: their escape hatch becomes a function only the maintenance role
may execute, like the audit tables' (auditlog 0012).

Before, `inventory_refuse_change` let a DELETE of a shift or a Z report through when the
transaction had set `kassa.audit_purge`, which any session may set. Now a DELETE passes only
inside `kassa_kept_delete(table, ids)` (SECURITY DEFINER, owned by the owner, EXECUTE for the
maintenance role alone): it marks its own statement (`kassa.kept_delete`), and the mark counts
only when the current user owns the table. Purge and restore delete through it
(auditlog.deletion.rows_delete). The application role may read and add Z reports, never change
or delete them.
"""

from django.db import migrations

from tenants.roles import migration_role

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION inventory_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('kassa.kept_delete', true) = 'on'
     AND current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = TG_RELID) THEN
    RETURN OLD;
  END IF;
  IF TG_TABLE_NAME = 'inventory_shift' AND TG_OP = 'UPDATE' AND OLD.status = 'open' THEN
    RETURN NEW;  -- an open shift may still close; a closed one never changes
  END IF;
  IF TG_TABLE_NAME = 'inventory_shift' AND TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'shifts are kept: DELETE on % refused', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RAISE EXCEPTION 'closed shifts and Z reports are immutable: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

OLD_REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION inventory_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('kassa.audit_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  IF TG_TABLE_NAME = 'inventory_shift' AND TG_OP = 'UPDATE' AND OLD.status = 'open' THEN
    RETURN NEW;
  END IF;
  IF TG_TABLE_NAME = 'inventory_shift' AND TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'shifts are kept: DELETE on % refused', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RAISE EXCEPTION 'closed shifts and Z reports are immutable: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

DELETE_FUNCTION = """
CREATE OR REPLACE FUNCTION kassa_kept_delete(entries regclass, ids uuid[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  deleted bigint;
BEGIN
  IF entries NOT IN ('inventory_shift'::regclass, 'inventory_shiftreport'::regclass) THEN
    RAISE EXCEPTION 'kassa_kept_delete: % is not a kept table', entries
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF kassa_current_tenant() IS NULL THEN
    RAISE EXCEPTION 'kassa_kept_delete: no tenant selected' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM set_config('kassa.kept_delete', 'on', true);
  EXECUTE format('DELETE FROM %s WHERE tenant_id = kassa_current_tenant() AND id = ANY($1)', entries)
    USING ids;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  PERFORM set_config('kassa.kept_delete', 'off', true);
  RETURN deleted;
END
$$
"""


def forwards(apps, schema_editor):
    app = migration_role(schema_editor, "app")
    maintenance = migration_role(schema_editor, "maintenance")
    for statement in (
        REFUSE_FUNCTION,
        DELETE_FUNCTION,
        "REVOKE ALL ON FUNCTION kassa_kept_delete(regclass, uuid[]) FROM PUBLIC",
        f"REVOKE ALL ON FUNCTION kassa_kept_delete(regclass, uuid[]) FROM {app}",
        f"GRANT EXECUTE ON FUNCTION kassa_kept_delete(regclass, uuid[]) TO {maintenance}",
        f"REVOKE ALL ON inventory_shiftreport FROM {app}",
        f"GRANT SELECT, INSERT ON inventory_shiftreport TO {app}",
    ):
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    schema_editor.execute(OLD_REFUSE_FUNCTION, params=None)
    schema_editor.execute("DROP FUNCTION IF EXISTS kassa_kept_delete(regclass, uuid[])")


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0005_register_and_day"),
        ("tenants", "0005_database_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
