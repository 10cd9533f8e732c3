"""Termination, the purge after the grace period, and deleting all of a tenant's rows.

Everything here is the maintenance role's (`tenants.maintenance.as_maintenance`): rows are
deleted with the tenant selected, audit entries through `kassa_audit_delete()` (auditlog.deletion).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from accounts.sessions import non_owner_credentials_revoke, tenant_cache_purge
from auditlog.deletion import rows_delete
from core.storage import all_storages, tenant_prefix
from exports.services import tenant_work_delete
from lifecycle.errors import LifecycleError
from lifecycle.models import PurgeCertificate
from lifecycle.services.claims import certificate_claim_issue, certificate_claim_issued_at
from tenants import crypto
from tenants.catalogue import TRIGGER_FED_TABLES, purge_coverage, tenant_tables
from tenants.context import tenant_context
from tenants.maintenance import MAINTENANCE, as_maintenance, maintenance_transaction
from tenants.models import Domain, Tenant

logger = logging.getLogger(__name__)

DELETE_BATCH = 5000


def purge_due_at(tenant: Tenant):
    if tenant.subscription_ends_at is None:
        return None
    return tenant.subscription_ends_at + timedelta(days=settings.KASSA_TERMINATION_GRACE_DAYS)


@as_maintenance()
def tenant_terminate(*, tenant: Tenant, ends_at=None) -> Tenant:
    """End the subscription: only owners may sign in (to export) until the purge."""
    if tenant.status == Tenant.Status.PURGED:
        raise LifecycleError(f"tenant {tenant.slug} is already purged", code="tenant_purged")
    now = timezone.now()
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(
            status=Tenant.Status.TERMINATED,
            subscription_ends_at=ends_at or tenant.subscription_ends_at or now,
        )
        with tenant_context(tenant):
            non_owner_credentials_revoke()
    tenant.refresh_from_db()
    logger.info("tenant %s terminated; purge due %s", tenant.slug, purge_due_at(tenant))
    return tenant


def tenants_purge_due(*, now=None) -> list[Tenant]:
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.KASSA_TERMINATION_GRACE_DAYS)
    return list(Tenant.objects.filter(status=Tenant.Status.TERMINATED, subscription_ends_at__lte=cutoff))


STEPS = ("keys", "rows", "objects", "redis", "temp")


@as_maintenance()
def tenant_purge(
    *,
    tenant: Tenant,
    requested_by: str,
    batch_size: int = DELETE_BATCH,
    on_batch=None,
    on_step: Callable[[str], None] | None = None,
) -> PurgeCertificate:
    """Destroy a terminated tenant: data keys first, then rows, objects, Redis, temporary files.

    The keys go first (crypto-shredding): whatever fails later, nothing of the tenant can be
    decrypted, its old backups included. Every step can run again, and the certificate's counts
    grow in the same transactions as the deletes, so a purge killed at any point finishes and
    counts right when rerun (the nightly task reruns it). `on_step(name)` runs after each step.
    """
    if tenant.status not in (Tenant.Status.TERMINATED, Tenant.Status.PURGED):
        raise LifecycleError(f"tenant {tenant.slug} must be terminated first", code="tenant_not_terminated")
    certificate, _ = PurgeCertificate.objects.get_or_create(
        subject_tenant=tenant.pk,
        defaults={"subject_slug": tenant.slug, "region": tenant.region, "requested_by": requested_by},
    )
    if certificate.status == PurgeCertificate.Status.COMPLETE:
        return certificate
    PurgeCertificate.objects.filter(pk=certificate.pk).update(runs=F("runs") + 1)

    def done(step: str) -> None:
        with connections["default"].cursor() as cursor, tenant_context(None):
            cursor.execute(
                "UPDATE lifecycle_purgecertificate SET steps_done = steps_done || to_jsonb(%s::text) "
                "WHERE id = %s AND NOT steps_done ? %s",
                [step, certificate.pk, step],
            )
        if on_step:
            on_step(step)

    def count(table: str, deleted: int, cursor) -> None:
        cursor.execute(
            "UPDATE lifecycle_purgecertificate SET rows_deleted = rows_deleted || "
            "jsonb_build_object(%s::text, COALESCE((rows_deleted->>%s)::bigint, 0) + %s) WHERE id = %s",
            [table, table, deleted, certificate.pk],
        )
        if on_batch:
            on_batch(table, deleted, cursor)

    # 1. The data keys, with their ids recorded in the same transaction.
    with maintenance_transaction(tenant) as cursor:
        cursor.execute(
            "DELETE FROM tenants_tenantkey WHERE tenant_id = %s RETURNING id, version, kek_id", [tenant.pk]
        )
        keys = [
            {"id": key_id, "version": version, "kek_id": kek_id}
            for key_id, version, kek_id in cursor.fetchall()
        ]
        if keys:
            cursor.execute(
                "UPDATE lifecycle_purgecertificate SET key_ids = key_ids || %s::jsonb, "
                "data_keys_destroyed = data_keys_destroyed + %s WHERE id = %s",
                [json.dumps(keys), len(keys), certificate.pk],
            )
    crypto.data_key_cache_forget(tenant.pk)
    done("keys")

    # 2. Rows: those referring to the tenant from tables without tenant_id (the admin history,
    # backup records, platform events), then every tenant-owned table, then the host names.
    referring_rows_delete(tenant=tenant, batch_size=batch_size, on_batch=count)
    tenant_rows_delete(tenant=tenant, batch_size=batch_size, on_batch=count)
    with maintenance_transaction(tenant) as cursor:
        deleted = rows_delete(cursor, "tenants_domain", where="tenant_id = %s", params=[tenant.pk])
        if deleted:
            count("tenants_domain", deleted, cursor)
    done("rows")

    # 3. Backup and export objects in every region's storage.
    for storage in all_storages():
        for key in list(storage.list(tenant_prefix(tenant.pk))):
            storage.delete(key)
            with connections["default"].cursor() as cursor, tenant_context(None):
                cursor.execute(
                    "UPDATE lifecycle_purgecertificate SET objects_deleted = objects_deleted || "
                    "jsonb_build_object(%s::text, COALESCE((objects_deleted->>%s)::bigint, 0) + 1) WHERE id = %s",
                    [storage.region, storage.region, certificate.pk],
                )
    done("objects")

    # 4. Browser sessions and cache keys in Redis; 5. temporary files on this machine.
    _cleared(certificate, tenant_cache_purge(tenant_id=tenant.pk, slug=tenant.slug))
    done("redis")
    _cleared(certificate, {"temp_files": tenant_work_delete(tenant_id=tenant.pk)})
    done("temp")

    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.PURGED)
    PurgeCertificate.objects.filter(pk=certificate.pk).update(
        status=PurgeCertificate.Status.COMPLETE, completed_at=timezone.now()
    )
    certificate.refresh_from_db()
    logger.info("tenant %s purged by %s (certificate %s)", tenant.slug, requested_by, certificate.pk)
    return certificate


def _cleared(certificate: PurgeCertificate, counts: dict[str, int]) -> None:
    with connections["default"].cursor() as cursor, tenant_context(None):
        for name, value in counts.items():
            cursor.execute(
                "UPDATE lifecycle_purgecertificate SET cleared = cleared || "
                "jsonb_build_object(%s::text, COALESCE((cleared->>%s)::bigint, 0) + %s) WHERE id = %s",
                [name, name, value, certificate.pk],
            )


@as_maintenance()
def referring_rows_delete(
    *,
    tenant: Tenant,
    batch_size: int = DELETE_BATCH,
    on_batch: Callable[[str, int, object], None] | None = None,
) -> dict[str, int]:
    """Delete the rows of tables without tenant_id that refer to the tenant or its rows."""
    referring, _ = purge_coverage(using=MAINTENANCE)
    counts: dict[str, int] = {}
    for table in referring:
        while True:
            with maintenance_transaction(tenant) as cursor:
                deleted = rows_delete(
                    cursor, table.name, where=table.where, params=[tenant.pk] * table.uses, limit=batch_size
                )
                if deleted and on_batch:
                    on_batch(table.name, deleted, cursor)
            counts[table.name] = counts.get(table.name, 0) + deleted
            if deleted < batch_size:
                break
    return counts


# --- deleting a tenant's rows: purge and scratch tenants ---------------------------------


@as_maintenance()
def tenant_rows_delete(
    *,
    tenant: Tenant,
    batch_size: int = DELETE_BATCH,
    keep: frozenset[str] = frozenset(),
    on_batch: Callable[[str, int, object], None] | None = None,
) -> dict[str, int]:
    """Delete every row of the tenant in every tenant-owned table, in batches; return counts.

    Referring tables go before the tables they refer to, the change log last (the deletes write
    to it). `on_batch(table, count, cursor)` runs inside each batch's transaction.
    """
    tables = [t for t in tenant_tables() if t.name not in keep]
    fed = [t for t in tables if t.name in TRIGGER_FED_TABLES]
    ordered = [t for t in reversed(tables) if t.name not in TRIGGER_FED_TABLES] + fed
    counts: dict[str, int] = {}
    for _ in range(5):  # again while the last pass found rows (a change-log entry, a late sign-in)
        found = 0
        for table in ordered:
            while True:
                try:
                    with maintenance_transaction(tenant) as cursor:
                        deleted = rows_delete(
                            cursor, table.name, where="tenant_id = %s", params=[tenant.pk], limit=batch_size
                        )
                        if deleted and on_batch:
                            on_batch(table.name, deleted, cursor)
                except IntegrityError:
                    # Rows of a reference cycle: the whole rest in one transaction.
                    deleted = _rows_delete_at_once(tenant, ordered, counts, on_batch)
                    found += deleted
                    break
                counts[table.name] = counts.get(table.name, 0) + deleted
                found += deleted
                if deleted < batch_size:
                    break
        if not found:
            break
    return counts


def _rows_delete_at_once(tenant, tables, counts, on_batch) -> int:
    total = 0
    with maintenance_transaction(tenant) as cursor:
        for table in tables:
            deleted = rows_delete(cursor, table.name, where="tenant_id = %s", params=[tenant.pk])
            if deleted:
                counts[table.name] = counts.get(table.name, 0) + deleted
                total += deleted
                if on_batch:
                    on_batch(table.name, deleted, cursor)
    return total


@as_maintenance()
def tenant_delete(*, tenant: Tenant) -> None:
    """Remove a scratch tenant entirely: rows, keys, domain and the tenant itself."""
    referring_rows_delete(tenant=tenant)
    tenant_rows_delete(tenant=tenant)
    with tenant_context(tenant):
        crypto.data_keys_destroy()
    tenant_rows_delete(tenant=tenant)  # the change-log entries of the key's deletion
    Domain.objects.filter(tenant=tenant).delete()
    Tenant.objects.filter(pk=tenant.pk).delete()


# --- termination asked for by the chain's owner ------------------------------------------


def termination_request(*, tenant: Tenant, actor, confirm: str) -> dict:
    """An owner asks to end the chain's subscription (a request; the privileged worker terminates).

    Needs an owner signed in with a second factor (403 `second_factor_required`; the admin page
    asks for a fresh code) who types the chain's slug (`confirm`, 400 otherwise). The purge
    follows after the grace period, during which only owners sign in, to export. The first
    confirmation issues the purge certificate's claim token (`certificate_token`, shown once);
    asking again while terminating or terminated answers the same, with no new token and the
    same grace period.
    """
    from django.core.exceptions import PermissionDenied, ValidationError

    from accounts import authz
    from core.errors import Forbidden
    from lifecycle.selectors import chain_owner

    if not chain_owner(actor):
        raise PermissionDenied(gettext("Only the chain's owners may end its subscription."))
    if not authz.second_factor_verified(actor):
        raise Forbidden(
            gettext("Ending the subscription needs a sign-in with a second factor."),
            code="second_factor_required",
        )
    if (confirm or "").strip() != tenant.slug:
        raise ValidationError({"confirm": gettext("Type the chain's name as in its address to confirm.")})
    token = None
    if tenant.status in (Tenant.Status.ACTIVE, Tenant.Status.TERMINATED):
        token = certificate_claim_issue(tenant=tenant)
    if tenant.status == Tenant.Status.ACTIVE:
        from lifecycle.tasks import tenant_terminate_task

        args = (str(tenant.pk), str(actor.pk))
        transaction.on_commit(lambda: tenant_terminate_task.delay(*args))
    return {**termination_status(tenant=tenant, requested=True), "certificate_token": token}


def termination_status(*, tenant: Tenant, requested: bool = False) -> dict:
    """What an owner sees of the chain's end: status, when the subscription ends and the purge,
    and when the purge certificate's claim token was issued (never the token)."""
    due = purge_due_at(tenant)
    grace = timedelta(days=settings.KASSA_TERMINATION_GRACE_DAYS)
    issued = certificate_claim_issued_at()
    terminating = tenant.status == Tenant.Status.ACTIVE and (requested or issued is not None)
    if terminating:
        due = (issued or timezone.now()) + grace
    return {
        "status": "terminating" if terminating else tenant.status,
        "subscription_ends_at": tenant.subscription_ends_at
        if tenant.status != Tenant.Status.ACTIVE
        else None,
        "purge_due_at": due if (terminating or tenant.status != Tenant.Status.ACTIVE) else None,
        "grace_days": settings.KASSA_TERMINATION_GRACE_DAYS,
        "certificate_claim_issued_at": issued,
        "export_reminder": gettext(
            "Export the chain's data (POST /api/v1/exports/ with kind full) before the purge: "
            "after it nothing can be recovered."
        ),
    }
