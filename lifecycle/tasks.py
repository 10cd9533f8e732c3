"""Celery tasks: thin, idempotent, acknowledged late, and run again when their worker dies."""

from uuid import UUID

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lifecycle.models import Backup
from lifecycle.services.backups import backup_create, backup_run, backups_expire
from lifecycle.services.drills import restore_drill_run
from lifecycle.services.purge import tenant_purge, tenants_purge_due
from tenants.models import Tenant

RELIABLE = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(
    bind=True,
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=900,
    max_retries=5,
    **RELIABLE,
)
def backup_run_task(self, tenant_id: str, backup_id: str) -> str:
    tenant = Tenant.objects.get(pk=tenant_id)
    if tenant.status == Tenant.Status.PURGED:
        return "purged"
    return str(backup_run(tenant=tenant, backup_id=UUID(backup_id)).status)


def backup_enqueue(backup: Backup) -> None:
    transaction.on_commit(lambda: backup_run_task.delay(str(backup.tenant_id), str(backup.pk)))


@shared_task(**RELIABLE)
def backups_nightly_task() -> int:
    """Create tonight's backup of every active tenant (once), enqueue it, expire old ones."""
    today = timezone.now().date()
    count = 0
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE, region=settings.KASSA_REGION):
        backup = backup_create(tenant=tenant, trigger=Backup.Trigger.SCHEDULED, scheduled_for=today)
        if backup.status != Backup.Status.DONE:
            backup_enqueue(backup)
            count += 1
        backups_expire(tenant=tenant)
    return count


@shared_task(**RELIABLE)
def restore_drills_task() -> dict:
    results = {}
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE, region=settings.KASSA_REGION):
        drill = restore_drill_run(tenant=tenant)
        if drill is not None:
            results[tenant.slug] = drill.status
    return results


@shared_task(**RELIABLE)
def tenants_purge_due_task() -> list[str]:
    purged = []
    for tenant in tenants_purge_due():
        tenant_purge(tenant=tenant, requested_by="scheduled purge after the grace period")
        purged.append(tenant.slug)
    return purged
