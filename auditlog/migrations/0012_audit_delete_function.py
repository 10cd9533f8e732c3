"""The append-only escape hatch becomes a function only the maintenance role may execute.

Before, the trigger `auditlog_append_only` let a DELETE through when the transaction had set
`kassa.audit_purge`, which any session may set. Now:

- the trigger lets a DELETE through only inside `kassa_audit_delete()` (SECURITY DEFINER, owned
  by the owner): the function marks its statement (`kassa.audit_delete`) and the mark counts
  only when the current user owns the table. `set_config` cannot change `current_user`, and
  neither the application nor the maintenance role may SET ROLE to the owner; the owner's own
  DELETE is refused as before (TRUNCATE, the test suite's flush, fires no row trigger);
- `kassa_audit_delete(table, ids)` deletes the given entries of one audit table, of the tenant
  selected (row-level security applies to the owner too: FORCE), and refuses without a tenant or
  for another table. EXECUTE: the maintenance role only (not PUBLIC, not the application role);
- the maintenance role gets SELECT and INSERT on the audit tables (restore and erasure write
  entries back), never UPDATE, DELETE or TRUNCATE. UPDATE stays refused for everyone.
"""

from django.db import migrations

from tenants.roles import migration_role

# The tenant-scoped append-only tables, as the function lists them (auditlog_platformevent has no
# tenant and is not deletable); auditlog.deletion.DELETABLE_TABLES names the same.
DELETABLE = (
    "auditlog_access",
    "auditlog_apicall",
    "auditlog_signinevent",
    "auditlog_change",
    "auditlog_seal",
    "auditlog_sealedentry",
)
APPEND_ONLY = (*DELETABLE, "auditlog_platformevent")

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION auditlog_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A DELETE passes only inside kassa_audit_delete(): it runs as the table's owner (SECURITY
  -- DEFINER, executable by the maintenance role alone) and marks its own statement. The mark is
  -- honoured only for the owner, so no other role can fake it with set_config; the owner's own
  -- session is refused too unless it goes through the function.
  IF TG_OP = 'DELETE' AND current_setting('kassa.audit_delete', true) = 'on'
     AND current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = TG_RELID) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

OLD_REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION auditlog_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('kassa.audit_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

DELETE_FUNCTION = """
CREATE OR REPLACE FUNCTION kassa_audit_delete(entries regclass, ids bigint[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  deleted bigint;
BEGIN
  IF entries NOT IN ('auditlog_access'::regclass, 'auditlog_apicall'::regclass,
                     'auditlog_signinevent'::regclass, 'auditlog_change'::regclass,
                     'auditlog_seal'::regclass, 'auditlog_sealedentry'::regclass) THEN
    RAISE EXCEPTION 'kassa_audit_delete: % is not a tenant audit table', entries
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF kassa_current_tenant() IS NULL THEN
    RAISE EXCEPTION 'kassa_audit_delete: no tenant selected' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM set_config('kassa.audit_delete', 'on', true);
  EXECUTE format('DELETE FROM %s WHERE tenant_id = kassa_current_tenant() AND id = ANY($1)', entries)
    USING ids;
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
        REFUSE_FUNCTION,
        DELETE_FUNCTION,
        "REVOKE ALL ON FUNCTION kassa_audit_delete(regclass, bigint[]) FROM PUBLIC",
        f"REVOKE ALL ON FUNCTION kassa_audit_delete(regclass, bigint[]) FROM {app}",
        f"GRANT EXECUTE ON FUNCTION kassa_audit_delete(regclass, bigint[]) TO {maintenance}",
        *(f"REVOKE ALL ON {table} FROM {maintenance}" for table in APPEND_ONLY),
        *(f"GRANT SELECT, INSERT ON {table} TO {maintenance}" for table in APPEND_ONLY),
    ):
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    schema_editor.execute(OLD_REFUSE_FUNCTION, params=None)
    schema_editor.execute("DROP FUNCTION IF EXISTS kassa_audit_delete(regclass, bigint[])")


class Migration(migrations.Migration):
    dependencies = [
        ("auditlog", "0011_signinevent_approval"),
        ("tenants", "0005_database_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
