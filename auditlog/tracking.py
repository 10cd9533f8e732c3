"""The change log: one trigger on every tenant-owned table, installed after each migrate.

Every concrete model whose table has a `tenant_id` column is tracked (TenantOwnedModel
subclasses and the users table alike), except the audit tables themselves and the platform
tables of tenants.rls. A model added later is covered at the next `migrate` with no extra
code; `tests/auditlog/test_change_log.py` fails if a tenant table lacks the trigger.

The trigger function (migration 0002) writes one `auditlog_change` row per changed row: the
whole row for a create or delete, the changed columns for an update, secret columns masked.
Its arguments: model label, primary-key column, store column ('' if none), masked columns.
"""

from django.apps import apps
from django.db import connections

from tenants.fields import EncryptedTextField
from tenants.rls import PLATFORM_TABLES

TRIGGER = "auditlog_change"
# Hashes, wrapped keys and OTP material: logged as "[masked]", so a change is visible but not the value.
SECRET_COLUMNS = frozenset(
    {"password", "token_hash", "key_hash", "code_hash", "wrapped_key", "secret", "key", "otp_secret"}
)
UNTRACKED_TABLES = frozenset(
    {
        "auditlog_access",
        "auditlog_apicall",
        "auditlog_signinevent",
        "auditlog_change",
        "auditlog_seal",
        "auditlog_sealedentry",
        # The webhook outbox and its delivery log: machinery, written with every change it reports.
        "integrations_event",
        "integrations_delivery",
        "integrations_deliveryattempt",
        # django-axes's lockout counters (tenant rows since accounts 0011): every attempt is in
        # the sign-in log already, and the counters change with each failure.
        "axes_accessattempt",
        "axes_accessattemptexpiration",
    }
)


def masked_columns(model) -> list[str]:
    return sorted(
        field.column
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField) or field.column in SECRET_COLUMNS
    )


def tracked_models() -> list:
    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed or meta.db_table in UNTRACKED_TABLES | PLATFORM_TABLES:
            continue
        if any(field.column == "tenant_id" for field in meta.concrete_fields):
            found.append(model)
    return found


def _store_column(model) -> str:
    if model._meta.label_lower == "tenants.store":
        return model._meta.pk.column
    columns = {field.column for field in model._meta.concrete_fields}
    return "store_id" if "store_id" in columns else ""


def trigger_sql(model, quote) -> str:
    meta = model._meta
    args = [meta.label_lower, meta.pk.column, _store_column(model), *masked_columns(model)]
    literals = ", ".join("'" + arg.replace("'", "''") + "'" for arg in args)
    return (
        f"CREATE OR REPLACE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {quote(meta.db_table)} "
        f"FOR EACH ROW EXECUTE FUNCTION auditlog_change_capture({literals})"
    )


def change_triggers_install(using: str = "owner") -> int:
    """Create or refresh the change trigger on every tracked table that exists; return how many."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_proc WHERE proname = 'auditlog_change_capture'")
        if cursor.fetchone() is None:
            return 0  # the audit migrations have not run yet
        existing = set(connection.introspection.table_names(cursor))
        installed = 0
        for model in tracked_models():
            if model._meta.db_table in existing:
                cursor.execute(trigger_sql(model, connection.ops.quote_name))
                installed += 1
    return installed


TABLES_WITHOUT_TRIGGER_SQL = """
SELECT c.relname
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = %s)
ORDER BY c.relname
"""


def tables_without_change_trigger(using: str = "default") -> list[str]:
    """Every table with a tenant_id column that has no change trigger (catalogue scan)."""
    with connections[using].cursor() as cursor:
        cursor.execute(TABLES_WITHOUT_TRIGGER_SQL, [TRIGGER])
        return [name for (name,) in cursor.fetchall() if name not in UNTRACKED_TABLES | PLATFORM_TABLES]
