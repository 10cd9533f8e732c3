import json
import logging
from datetime import timedelta
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from auditlog import writer
from auditlog.deletion import rows_delete
from auditlog.models import (
    AccessEvent,
    ApiCall,
    AuditSettings,
    ChangeEvent,
    PlatformEvent,
    SignInEvent,
)
from auditlog.redact import clean
from core.net import client_ip
from tenants.context import current_tenant_id, tenant_context
from tenants.maintenance import as_maintenance, maintenance_transaction

logger = logging.getLogger("auditlog")


def signin_event_record(
    *,
    request: HttpRequest | None,
    username: str,
    outcome: str,
    reason: str = "",
    channel: str = "api",
    user=None,
    kind: str = SignInEvent.Kind.SIGN_IN,
    actor=None,
) -> SignInEvent | None:
    """Record a sign-in event of the current tenant (no tenant: nothing to attach it to)."""
    if current_tenant_id() is None:
        return None
    meta = request.META if request is not None else {}
    return SignInEvent.objects.create(
        kind=kind,
        username=clean(username, 150),
        user_id=user.pk if user is not None else None,
        actor_id=actor.pk if actor is not None else None,
        outcome=outcome,
        reason=reason,
        channel=channel,
        ip=client_ip(request) or None if request is not None else None,
        host=clean(request.get_host(), 253) if request is not None else "",
        user_agent=clean(meta.get("HTTP_USER_AGENT", ""), 300),
        request_id=getattr(request, "audit_request_id", None),
    )


def platform_event_record(
    *,
    kind: str,
    tenant=None,
    actor: str = "system",
    request_id: UUID | None = None,
    detail: dict | None = None,
) -> None:
    """Append to the platform log, on the audit connection: it stays even if the caller rolls back.

    `detail` must hold no customer data (ids, counts, key ids only).
    """
    writer.execute(
        writer.PLATFORM_SQL,
        (
            timezone.now(),
            kind,
            str(tenant.pk) if tenant is not None else None,
            tenant.slug if tenant is not None else "",
            clean(actor or "system", 200),
            str(request_id) if request_id is not None else None,
            json.dumps(detail or {}),
        ),
    )


def audit_settings_get(*, tenant) -> AuditSettings:
    with tenant_context(tenant):
        return AuditSettings.objects.filter().first() or AuditSettings(tenant_id=tenant.pk)


def retention_days_set(*, tenant, days: int) -> AuditSettings:
    """Set how long the tenant's entries are kept; never below 365 days (PCI 10.5.1)."""
    from django.core.exceptions import ValidationError

    if days < AuditSettings.MINIMUM_RETENTION_DAYS:
        raise ValidationError(
            {"retention_days": f"at least {AuditSettings.MINIMUM_RETENTION_DAYS} days"}, code="too_short"
        )
    with tenant_context(tenant), transaction.atomic():
        settings_row, _ = AuditSettings.objects.update_or_create(defaults={"retention_days": days})
    return settings_row


PURGED_TABLES = (
    AccessEvent._meta.db_table,
    ApiCall._meta.db_table,
    SignInEvent._meta.db_table,
    ChangeEvent._meta.db_table,
)


@as_maintenance()
def audit_purge(*, tenant, now=None) -> dict:
    """Delete the tenant's entries older than its retention, as the maintenance role; log the purge.

    The append-only trigger refuses every DELETE but the owner's, and the one way in at run time
    is `kassa_audit_delete()`, which only the maintenance role may execute (auditlog.deletion).
    Seals and sealed digests stay (they hold no data), so verification still covers what is left.
    """
    days = max(audit_settings_get(tenant=tenant).retention_days, AuditSettings.MINIMUM_RETENTION_DAYS)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    counts = {}
    with maintenance_transaction(tenant) as cursor:
        for table in PURGED_TABLES:  # our own table names, not input
            counts[table] = rows_delete(
                cursor, table, where="tenant_id = %s AND created_at < %s", params=[tenant.pk, cutoff]
            )
    platform_event_record(
        kind=PlatformEvent.Kind.AUDIT_PURGED,
        tenant=tenant,
        detail={"cutoff": cutoff.isoformat(), "retention_days": days, "deleted": counts},
    )
    logger.info("audit purge of %s before %s: %s", tenant.slug, cutoff.isoformat(), counts)
    return {"cutoff": cutoff, "deleted": counts}


ERASED = "[erased]"
REDACTED_TABLES = ("auditlog_apicall", "auditlog_access", "auditlog_signinevent", "auditlog_change")
TEXT_TYPES = ("text", "character varying", "json", "jsonb")


def audit_redact(*, cursor, tenant_id, pattern: str) -> dict[str, list]:
    """Replace `pattern` with "[erased]" in the tenant's audit entries that hold it (a customer's
    erasure, exports.customers). Runs on the cursor of the caller's maintenance transaction: an
    entry is deleted through `kassa_audit_delete()` (auditlog.deletion) and written back. Returns
    the ids of the entries rewritten, per table."""
    return {table: _redact_table(cursor, table, tenant_id, pattern) for table in REDACTED_TABLES}


def _redact_table(cursor, table: str, tenant_id, pattern: str) -> list:
    """Replace the pattern in the text columns of the tenant's matching audit entries; return their ids."""
    cursor.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        [table],
    )
    columns = [(name, kind) for name, kind in cursor.fetchall() if kind.split("(")[0] in TEXT_TYPES]
    if not columns:
        return []
    match = " OR ".join(f'"{name}"::text ~* %(p)s' for name, _ in columns)
    stage = f"kassa_redact_{table}"
    cursor.execute(
        f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT * FROM {table} WHERE tenant_id = %(t)s AND ({match})",  # noqa: S608
        {"t": tenant_id, "p": pattern},
    )
    cursor.execute(f"SELECT id FROM {stage} ORDER BY id")  # noqa: S608
    ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        cursor.execute(f"DROP TABLE {stage}")
        return []
    sets = ", ".join(
        f'"{name}" = regexp_replace("{name}"::text, %(p)s, %(e)s, \'gi\')::{kind}' for name, kind in columns
    )
    cursor.execute(f"UPDATE {stage} SET {sets}", {"p": pattern, "e": ERASED})  # noqa: S608
    # Append-only: deleted only through kassa_audit_delete(); the entries return redacted.
    rows_delete(cursor, table, where=f"id IN (SELECT id FROM {stage})", params=[])  # noqa: S608
    cursor.execute(f"INSERT INTO {table} SELECT * FROM {stage}")  # noqa: S608
    cursor.execute(f"DROP TABLE {stage}")
    return ids
