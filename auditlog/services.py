import json
import logging
from datetime import timedelta
from uuid import UUID

from django.db import connections, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext

from auditlog import writer
from auditlog.deletion import rows_delete
from auditlog.models import (
    AccessEvent,
    ApiCall,
    AuditSettings,
    AuditVerification,
    ChangeEvent,
    PlatformEvent,
    SignInEvent,
)
from auditlog.redact import clean
from core.alerts import alert_send
from core.net import client_ip
from tenants.context import current_tenant_id, tenant_context
from tenants.maintenance import (
    MAINTENANCE,
    MaintenanceUnavailable,
    as_maintenance,
    maintenance_available,
    maintenance_transaction,
)

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
        _platform_params(kind=kind, tenant=tenant, actor=actor, request_id=request_id, detail=detail),
    )


def _platform_params(
    *, kind: str, tenant, actor: str, request_id: UUID | None = None, detail: dict | None
) -> tuple:
    return (
        timezone.now(),
        kind,
        str(tenant.pk) if tenant is not None else None,
        tenant.slug if tenant is not None else "",
        clean(actor or "system", 200),
        str(request_id) if request_id is not None else None,
        json.dumps(detail or {}),
    )


def exemption_record(*, kind: str, tenant, actor: str = "system", detail: dict) -> None:
    """Record a platform event that excuses changes to a tenant's sealed entries (a retention
    purge, an erasure) and seal it at once: verification trusts only sealed exemptions."""
    from auditlog import sealing

    # On the maintenance role's own connection: only it may write an exemption (migration 0013),
    # committed at once like every platform event.
    if not maintenance_available():
        raise MaintenanceUnavailable()
    with transaction.atomic(using=MAINTENANCE), connections[MAINTENANCE].cursor() as cursor:
        cursor.execute(
            writer.EXEMPTION_SQL, _platform_params(kind=kind, tenant=tenant, actor=actor, detail=detail)
        )
    sealing.seal_create(tenant=None, delay=timedelta(0))


def audit_settings_get(*, tenant) -> AuditSettings:
    with tenant_context(tenant):
        return AuditSettings.objects.filter().first() or AuditSettings(tenant_id=tenant.pk)


def retention_days_set(*, tenant, days: int) -> AuditSettings:
    """Set how long the tenant's entries are kept; never below 365 days (PCI 10.5.1)."""
    from django.core.exceptions import ValidationError

    if days < AuditSettings.MINIMUM_RETENTION_DAYS:
        raise ValidationError(
            {
                "retention_days": gettext("at least %(days)d days")
                % {"days": AuditSettings.MINIMUM_RETENTION_DAYS}
            },
            code="too_short",
        )
    with tenant_context(tenant), transaction.atomic():
        settings_row, _ = AuditSettings.objects.update_or_create(defaults={"retention_days": days})
    return settings_row


def audit_verify(*, tenant) -> dict:
    """Verify one chain (a tenant's, or the platform's with None); record the result where its
    owners see it and alert the operators when it is broken. Safe to run twice."""
    from auditlog import sealing

    problems, stats = sealing.verify(tenant=tenant)
    first = str(problems[0])[:500] if problems else ""
    if tenant is not None:
        with tenant_context(tenant):
            AuditVerification.objects.create(
                intact=not problems,
                problems=len(problems),
                first_problem=first,
                seals=stats["seals"],
                entries=stats["entries"],
            )
    platform_event_record(
        kind=PlatformEvent.Kind.AUDIT_VERIFIED,
        tenant=tenant,
        detail={"intact": not problems, "problems": len(problems), "seals": stats["seals"]},
    )
    if problems:
        alert_send(
            "audit_verification_failed",
            tenant=tenant.slug if tenant is not None else "(platform)",
            detail=f"{len(problems)} problems; first: {first}",
        )
    return {"intact": not problems, "problems": len(problems), "first_problem": first, **stats}


def audit_verification_latest(*, tenant) -> AuditVerification | None:
    with tenant_context(tenant):
        return AuditVerification.objects.order_by("-created_at", "-id").first()


PURGED_TABLES = (
    AccessEvent._meta.db_table,
    ApiCall._meta.db_table,
    SignInEvent._meta.db_table,
    ChangeEvent._meta.db_table,
)


@as_maintenance()
def audit_purge(*, tenant, now=None) -> dict:
    """Delete the tenant's entries older than its retention, as the maintenance role; log the purge.

    The append-only trigger refuses every DELETE; the one way in is `kassa_audit_delete()`, which
    only the maintenance role may execute (auditlog.deletion).
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
    exemption_record(
        kind=PlatformEvent.Kind.AUDIT_PURGED,
        tenant=tenant,
        detail={"cutoff": cutoff.isoformat(), "retention_days": days, "deleted": counts},
    )
    logger.info("audit purge of %s before %s: %s", tenant.slug, cutoff.isoformat(), counts)
    return {"cutoff": cutoff, "deleted": counts}


ERASED = "[erased]"
# The customer's own fields, as they appear in a customer row, its change entries and its API bodies.
CUSTOMER_FIELDS = frozenset({"name", "email", "phone", "notes", "email_hash", "phone_hash"})
DIGEST_SQL = "encode(sha256(convert_to(to_jsonb(e)::text, 'UTF8')), 'hex')"


def audit_redact(*, cursor, tenant_id, customer_id, identifiers: dict[str, set[str]]) -> dict:
    """Rewrite, in the tenant's audit entries provably about one customer, only that customer's
        own identifiers (a customer's erasure, exports.customers; in the caller's maintenance
        transaction, the tenant selected; entries are deleted through `kassa_audit_delete()` and
        written back).

        Provably about the customer: the change entries of their row; the requests that made those
        changes or named the customer's id in their path; the requests that looked them up by their
        exact e-mail or phone. In those, only the customer's fields (`CUSTOMER_FIELDS`, JSON-path
        aware: at the top of a body or in an object carrying the customer's id) and query parameters
        equal to one of their identifiers become "[erased]". Free text, other entries and sign-ins
        are never touched. `identifiers` maps "email" to its lower-case spellings and "phone" to its
    digits.

        Returns, per table, each rewritten entry's id and its new digest, for the sealed erasure
        event that lets verification accept exactly these rewrites and nothing later.
    """
    customer = str(customer_id)
    rewritten: dict[str, dict[int, str]] = {}
    cursor.execute(
        "SELECT id, request_id FROM auditlog_change WHERE tenant_id = %s AND model = 'inventory.customer' "
        "AND object_id = %s",
        [tenant_id, customer],
    )
    changes = cursor.fetchall()
    request_ids = sorted({str(request_id) for _, request_id in changes if request_id})
    for entry_id, _ in changes:
        _rewrite(cursor, "auditlog_change", entry_id, rewritten, lambda row: _erase_change(row))
    path = f"%/customers/{customer}/%"
    for table in ("auditlog_apicall", "auditlog_access"):
        cursor.execute(
            f"SELECT id FROM {table} WHERE tenant_id = %s AND (path LIKE %s OR request_id::text = ANY(%s))",  # noqa: S608
            [tenant_id, path, request_ids],
        )
        for (entry_id,) in cursor.fetchall():
            _rewrite(
                cursor, table, entry_id, rewritten, lambda row: _erase_request(row, customer, identifiers)
            )
        # A lookup by the customer's exact e-mail or phone is about them too, wherever it was made.
        spellings = sorted(set().union(*identifiers.values())) if identifiers else []
        if spellings:
            cursor.execute(
                f"SELECT id, query FROM {table} WHERE tenant_id = %s AND query <> '' AND id <> ALL(%s)",  # noqa: S608
                [tenant_id, list(rewritten.get(table, {}))],
            )
            for entry_id, query in cursor.fetchall():
                if _query_names(query, identifiers):
                    _rewrite(
                        cursor,
                        table,
                        entry_id,
                        rewritten,
                        lambda row: _erase_request(row, customer, identifiers),
                    )
    return {
        "entries": {table: sorted(ids) for table, ids in rewritten.items()},
        "digests": {table: {str(i): d for i, d in ids.items()} for table, ids in rewritten.items()},
    }


def _rewrite(cursor, table: str, entry_id: int, rewritten: dict, change) -> None:
    """Delete the entry and write it back as `change(row)` makes it (same id and time); record its
    new digest. Nothing happens when `change` leaves the row as it was."""
    cursor.execute(f"SELECT to_jsonb(e) FROM {table} e WHERE e.id = %s", [entry_id])  # noqa: S608
    found = cursor.fetchone()
    if found is None:
        return
    row = json.loads(found[0]) if isinstance(found[0], str) else found[0]
    new = change(json.loads(json.dumps(row)))
    if new == row:
        return
    # Append-only: deleted only through kassa_audit_delete() (auditlog.deletion), then written back.
    rows_delete(cursor, table, where="id = %s", params=[entry_id])
    cursor.execute(
        f"INSERT INTO {table} SELECT * FROM jsonb_populate_record(NULL::{table}, %s::jsonb)",  # noqa: S608
        [json.dumps(new)],
    )
    cursor.execute("SET LOCAL TimeZone = 'UTC'")  # the digest as sealing computes it
    cursor.execute(f"SELECT {DIGEST_SQL} FROM {table} e WHERE e.id = %s", [entry_id])  # noqa: S608
    rewritten.setdefault(table, {})[entry_id] = cursor.fetchone()[0]


def _erase_fields(value):
    if isinstance(value, dict):
        return {
            k: (ERASED if k in CUSTOMER_FIELDS and v not in (None, "", ERASED) else v)
            for k, v in value.items()
        }
    return value


def _erase_change(row: dict) -> dict:
    row["before"], row["after"] = _erase_fields(row.get("before")), _erase_fields(row.get("after"))
    return row


def _erase_in_json(value, customer: str, top: bool):
    """The customer's fields erased at the top of a body and in any object carrying their id."""
    if isinstance(value, dict):
        about = top or str(value.get("id")) == customer or str(value.get("customer")) == customer
        items = {k: _erase_in_json(v, customer, False) for k, v in value.items()}
        return _erase_fields(items) if about else items
    if isinstance(value, list):
        return [_erase_in_json(item, customer, False) for item in value]
    return value


def _erase_body(text: str, customer: str) -> str:
    if not text or text[:1] not in "{[":
        return text  # not JSON: masked when logged, and free text is never searched
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    erased = _erase_in_json(parsed, customer, True)
    return text if erased == parsed else json.dumps(erased, ensure_ascii=False, separators=(",", ":"))


def _identifier(name: str, value: str, identifiers: dict[str, set[str]]) -> bool:
    """Whether a query parameter is the customer's e-mail or phone (a phone by its digits: a
    client's unencoded "+" arrives as a space)."""
    name = name.lower()
    if name == "email":
        return value.strip().lower() in identifiers.get("email", set())
    if name == "phone":
        digits = "".join(c for c in value if c.isdigit())
        return bool(digits) and digits in identifiers.get("phone", set())
    return False


def _query_names(query: str, identifiers: dict[str, set[str]]) -> bool:
    from urllib.parse import parse_qsl

    return any(
        _identifier(name, value, identifiers) for name, value in parse_qsl(query, keep_blank_values=True)
    )


def _erase_query(query: str, identifiers: dict[str, set[str]]) -> str:
    from urllib.parse import parse_qsl, urlencode

    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    new = [(k, ERASED if _identifier(k, v, identifiers) else v) for k, v in pairs]
    return urlencode(new) if new != pairs else query


def _erase_request(row: dict, customer: str, identifiers: dict[str, set[str]]) -> dict:
    row["query"] = _erase_query(row.get("query") or "", identifiers)
    for column in ("request_body", "response_body"):
        if column in row:
            row[column] = _erase_body(row[column] or "", customer)
    return row
