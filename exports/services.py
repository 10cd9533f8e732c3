"""Exports: create, claim, run, open for download, expire. Every write path of the app is here."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from core.errors import Forbidden
from core.storage import StorageError, WrongRegion, storage_for_tenant, tenant_prefix
from exports.builder import zip_build
from exports.catalogue import KIND_PERMISSIONS, KINDS
from exports.errors import ExportError
from exports.models import Export
from tenants import chunks
from tenants.context import tenant_context
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# A running export whose worker has shown no sign of life for this long may be claimed again.
KIND = "export"  # the stored chunks' associated data: export:<export id>:chunk:<n>:<final|more>


def stale_seconds() -> int:
    """A running export with no heartbeat for this long lost its worker (KASSA_EXPORT_STALE_SECONDS)."""
    return settings.KASSA_EXPORT_STALE_SECONDS


def export_key(tenant_id, export_id) -> str:
    """Under the tenant's prefix, so a purge (lifecycle.tenant_purge) deletes it with the rest."""
    return f"{tenant_prefix(tenant_id)}exports/{export_id}.kex"


def export_kind_check(*, actor, kind: str) -> None:
    """Forbidden unless `actor` holds `export` and, chain-wide, the view permissions of `kind`
    (customers: view_customers, audit: view_chain_logs, sales: view_sales, products and stock:
    view_products, full: all of them)."""
    from accounts import authz
    from accounts.permissions import EXPORT

    if not authz.can(actor, EXPORT):
        raise Forbidden(gettext("You may not export the chain's data."))
    missing = [p for p in KIND_PERMISSIONS[kind] if not authz.can_everywhere(actor, p)]
    if missing:
        raise Forbidden(
            gettext("Exporting %(kind)s needs %(permissions)s in every store.")
            % {"kind": kind, "permissions": ", ".join(missing)}
        )


def export_create(*, actor, kind: str, enqueue: bool = True) -> Export:
    """Record an export of the actor's tenant and run it in a worker after commit.

    `enqueue=False`: the caller runs it now (`export_run`, as the export_tenant command does).
    """
    if kind not in KINDS:
        raise ExportError(
            gettext("kind must be one of %(kinds)s") % {"kinds": ", ".join(KINDS)}, code="invalid"
        )
    export_kind_check(actor=actor, kind=kind)
    export = Export.objects.create(kind=kind, requested_by=actor)
    if enqueue:
        _export_enqueue(export)
    return export


def _export_enqueue(export: Export) -> None:
    from exports.tasks import export_run_task

    transaction.on_commit(lambda: export_run_task.delay(str(export.tenant_id), str(export.pk)))


def export_claim(*, export_id) -> bool:
    """Move the export from queued (or stale running) to running; False if another worker has it."""
    now = timezone.now()
    claimed = Export.objects.filter(
        Q(status=Export.Status.QUEUED)
        | Q(status=Export.Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=stale_seconds())),
        pk=export_id,
    ).update(
        status=Export.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        progress=0,
        error="",
    )
    return claimed == 1


def export_run(*, tenant: Tenant, export_id, on_progress: Callable[[int], None] | None = None) -> Export:
    """Build, encrypt and store the export; safe to call again (done or claimed elsewhere: nothing)."""
    with tenant_context(tenant):
        export = Export.objects.get(pk=export_id)
        if export.status != Export.Status.QUEUED and export.status != Export.Status.RUNNING:
            return export
        if not export_claim(export_id=export.pk):
            return export

        def progress(percent: int) -> None:
            with tenant_context(tenant):
                Export.objects.filter(pk=export.pk).update(progress=percent, heartbeat_at=timezone.now())
            if on_progress:
                on_progress(percent)

        key = export_key(tenant.pk, export.pk)
        folder = export_work_folder(tenant.pk, export.pk)
        shutil.rmtree(folder, ignore_errors=True)  # what a killed attempt left
        folder.mkdir(mode=0o700, parents=True)
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix="export-", suffix=".zip", delete=False)  # noqa: SIM115
        try:
            os.chmod(handle.name, 0o600)
            storage = storage_for_tenant(tenant)
            with handle:
                manifest = zip_build(
                    tenant=tenant, export_id=export.pk, kind=export.kind, out=handle, on_progress=progress
                )
            size = storage.put(
                key,
                chunks.seal(_file_chunks(handle.name), tenant=tenant, kind=KIND, object_id=export.pk),
                tenant=tenant,
            )
        except Exception as error:
            Export.objects.filter(pk=export.pk).update(status=Export.Status.FAILED, error=_safe_error(error))
            logger.exception("export %s of %s failed", export.pk, tenant.slug)
            raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        now = timezone.now()
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.DONE,
            progress=100,
            object_key=key,
            size_bytes=size,
            row_count=sum(e["rows"] for e in manifest["entities"].values()),
            manifest=manifest,
            finished_at=now,
            heartbeat_at=now,
            expires_at=now + timedelta(days=settings.KASSA_EXPORT_DAYS),
        )
        if on_progress:
            on_progress(100)
        export.refresh_from_db()
    logger.info("export %s (%s) of %s done: %s rows", export.pk, export.kind, tenant.slug, export.row_count)
    return export


def work_root() -> Path:
    """The folder of every job's temporary files (KASSA_WORK_DIR, else the system's temp folder)."""
    return settings.KASSA_WORK_DIR or Path(tempfile.gettempdir()) / "kassa-work"


def export_work_folder(tenant_id, export_id) -> Path:
    return work_root() / str(tenant_id) / f"export-{export_id}"


def tenant_work_delete(*, tenant_id) -> int:
    """Remove the tenant's temporary files on this machine (a purge); return how many files went."""
    folder = work_root() / str(tenant_id)
    if not folder.exists():
        return 0
    count = sum(1 for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder, ignore_errors=True)
    return count


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(chunks.CHUNK_BYTES):
            yield chunk


def _safe_error(error: Exception) -> str:
    # Our own errors name no data; a database error's text may quote row values, so only its type.
    if isinstance(error, (ExportError, chunks.ChunkError, StorageError, WrongRegion)):
        return f"{type(error).__name__}: {error}"[:500]
    return type(error).__name__


def export_is_expired(export: Export, now=None) -> bool:
    return export.status == Export.Status.EXPIRED or (
        export.expires_at is not None and export.expires_at <= (now or timezone.now())
    )


def export_open(*, tenant: Tenant, export: Export) -> Iterator[bytes]:
    """The export's ZIP, decrypted chunk by chunk; record the download first."""
    storage = storage_for_tenant(tenant)
    Export.objects.filter(pk=export.pk).update(
        download_count=F("download_count") + 1, last_downloaded_at=timezone.now()
    )
    logger.info("export %s of %s downloaded by %s", export.pk, tenant.slug, export.requested_by_id)
    return chunks.unseal(storage.get(export.object_key), tenant=tenant, kind=KIND, object_id=export.pk)


def export_chunks(*, tenant: Tenant, export: Export) -> Iterator[bytes]:
    """The export's ZIP, decrypted chunk by chunk, without counting a download (commands, checks)."""
    stored = storage_for_tenant(tenant).get(export.object_key)
    return chunks.unseal(stored, tenant=tenant, kind=KIND, object_id=export.pk)


def export_delete_file(*, tenant: Tenant, export: Export) -> None:
    """Delete the export's object and mark it expired (it can no longer be downloaded)."""
    if export.object_key:
        storage_for_tenant(tenant).delete(export.object_key)
    with tenant_context(tenant):
        Export.objects.filter(pk=export.pk).update(status=Export.Status.EXPIRED, object_key="")


def exports_expire(*, tenant: Tenant, now=None) -> int:
    """Delete the tenant's export files whose download window has passed."""
    now = now or timezone.now()
    with tenant_context(tenant):
        due = list(Export.objects.filter(status=Export.Status.DONE, expires_at__lte=now))
    for export in due:
        export_delete_file(tenant=tenant, export=export)
    return len(due)
