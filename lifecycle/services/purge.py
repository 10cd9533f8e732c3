"""Termination, the purge after the grace period, and deleting all of a tenant's rows.

Everything here is the maintenance role's (`tenants.maintenance.as_maintenance`): rows are
deleted with the tenant selected, audit entries through `kassa_audit_delete()` (auditlog.deletion).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from accounts.sessions import non_owner_credentials_revoke
from auditlog.deletion import rows_delete
from core.storage import all_storages, tenant_prefix
from lifecycle.errors import LifecycleError
from lifecycle.models import Backup, PurgeCertificate, RestoreDrill
from tenants import crypto
from tenants.catalogue import TRIGGER_FED_TABLES, tenant_tables
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance, maintenance_transaction
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


@as_maintenance()
def tenant_purge(
    *, tenant: Tenant, requested_by: str, batch_size: int = DELETE_BATCH, on_batch=None
) -> PurgeCertificate:
    """Destroy every row, backup and export object and data key of a terminated tenant.

    Resumable: each step can run again, and the certificate's counts grow in the same
    transactions as the deletes, so an interrupted purge finishes and counts right when rerun.
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
    # 1. Backup and export objects in every region's storage.
    for storage in all_storages():
        for key in list(storage.list(tenant_prefix(tenant.pk))):
            storage.delete(key)
            with connections["default"].cursor() as cursor, tenant_context(None):
                cursor.execute(
                    "UPDATE lifecycle_purgecertificate SET objects_deleted = objects_deleted || "
                    "jsonb_build_object(%s::text, COALESCE((objects_deleted->>%s)::bigint, 0) + 1) WHERE id = %s",
                    [storage.region, storage.region, certificate.pk],
                )

    # The lifecycle's records of the tenant: they point at objects that no longer exist.
    for model in (RestoreDrill, Backup):
        deleted, _ = model.objects.filter(tenant=tenant).delete()
        if deleted:
            certificate.refresh_from_db(fields=["rows_deleted"])
            table = model._meta.db_table
            certificate.rows_deleted[table] = certificate.rows_deleted.get(table, 0) + deleted
            certificate.save(update_fields=["rows_deleted"])

    def count(table: str, deleted: int, cursor) -> None:
        cursor.execute(
            "UPDATE lifecycle_purgecertificate SET rows_deleted = rows_deleted || "
            "jsonb_build_object(%s::text, COALESCE((rows_deleted->>%s)::bigint, 0) + %s) WHERE id = %s",
            [table, table, deleted, certificate.pk],
        )
        if on_batch:
            on_batch(table, deleted, cursor)

    # 2. Rows, in batches; the data keys after them, then what deleting the keys logged.
    tenant_rows_delete(
        tenant=tenant, batch_size=batch_size, keep=frozenset({"tenants_tenantkey"}), on_batch=count
    )
    with tenant_context(tenant):
        destroyed = crypto.data_keys_destroy()
    PurgeCertificate.objects.filter(pk=certificate.pk).update(
        data_keys_destroyed=F("data_keys_destroyed") + destroyed
    )
    tenant_rows_delete(tenant=tenant, batch_size=batch_size, on_batch=count)
    Domain.objects.filter(tenant=tenant).delete()
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.PURGED)
    PurgeCertificate.objects.filter(pk=certificate.pk).update(
        status=PurgeCertificate.Status.COMPLETE, completed_at=timezone.now()
    )
    certificate.refresh_from_db()
    logger.info("tenant %s purged by %s (certificate %s)", tenant.slug, requested_by, certificate.pk)
    return certificate


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
    tenant_rows_delete(tenant=tenant)
    with tenant_context(tenant):
        crypto.data_keys_destroy()
    tenant_rows_delete(tenant=tenant)  # the change-log entries of the key's deletion
    Domain.objects.filter(tenant=tenant).delete()
    Tenant.objects.filter(pk=tenant.pk).delete()
