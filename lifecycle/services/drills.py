"""Restore drills: does the latest backup restore, and match its manifest?"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from core.alerts import alert_send
from core.storage import StorageError, storage_for_region
from lifecycle.errors import LifecycleError
from lifecycle.models import Backup, RestoreDrill
from lifecycle.services.backups import keys_key, safe_error
from lifecycle.services.purge import tenant_delete
from lifecycle.services.restore import backup_restore
from tenants import crypto
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tenants.models import Tenant


def _recovery_keys_check(backup: Backup) -> None:
    """What a recovery from storage alone needs is there: the key document beside the backup,
    equal to the encrypted manifest's keys, each unwrapping with this deployment's master key."""
    storage = storage_for_region(backup.region)
    try:
        document = json.loads(b"".join(storage.get(keys_key(backup.object_key))))
    except (StorageError, ValueError) as error:
        raise LifecycleError(
            f"the backup's key document is missing or unreadable ({type(error).__name__})", code="drill_keys"
        ) from None
    if document.get("data_keys") != backup.manifest.get("data_keys") or not document.get("data_keys"):
        raise LifecycleError("the backup's key document differs from its manifest", code="drill_keys")
    for entry in document["data_keys"]:
        try:
            crypto.unwrap_data_key(entry["kek_id"], base64.b64decode(entry["wrapped_key"]))
        except (crypto.DecryptionError, KeyError, ValueError):
            raise LifecycleError("a data key of the backup does not unwrap here", code="drill_keys") from None


@as_maintenance()
def restore_drill_run(*, tenant: Tenant) -> RestoreDrill | None:
    """Restore the latest backup into a scratch tenant, compare, delete it, record the result."""
    backup = Backup.objects.filter(tenant=tenant, status=Backup.Status.DONE).order_by("-created_at").first()
    if backup is None:
        return None
    started = time.monotonic()
    scratch_slug = f"drill-{uuid.uuid4().hex[:16]}"
    status, detail, rows = RestoreDrill.Status.PASSED, "", {}
    age = timezone.now() - (backup.finished_at or backup.created_at)
    limit = timedelta(hours=settings.KASSA_BACKUP_MAX_AGE_HOURS)
    try:
        if age > limit:  # restoring an old backup proves nothing about last night's
            raise LifecycleError(
                f"the latest backup is {int(age.total_seconds() // 3600)} hours old "
                f"(at most {settings.KASSA_BACKUP_MAX_AGE_HOURS})",
                code="backup_too_old",
            )
        rows = backup_restore(backup=backup, new_slug=scratch_slug).rows
        expected = {name: entry["rows"] for name, entry in backup.manifest["tables"].items()}
        if rows != expected:
            raise LifecycleError("restored row counts differ from the manifest", code="drill_mismatch")
        _recovery_keys_check(backup)
    except Exception as error:
        status, detail = RestoreDrill.Status.FAILED, safe_error(error)
    finally:
        scratch = Tenant.objects.filter(slug=scratch_slug).first()
        if scratch is not None:
            tenant_delete(tenant=scratch)
    with tenant_context(tenant):
        drill = RestoreDrill.objects.create(
            tenant=tenant,
            backup=backup,
            status=status,
            table_count=len(rows),
            row_count=sum(rows.values()),
            seconds=round(time.monotonic() - started, 3),
            detail=detail,
        )
    if status == RestoreDrill.Status.FAILED:
        # Log, mail to ADMINS and the webhook (core.alerts), per tenant.
        alert_send(
            "restore_drill_failed",
            tenant=tenant.slug,
            detail=f"The restore drill of tenant {tenant.slug} ({tenant.pk}) failed for backup {backup.pk}: {detail}",
        )
    return drill
