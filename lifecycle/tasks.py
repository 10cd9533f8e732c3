"""Celery tasks: thin, idempotent, acknowledged late, and run again when their worker dies.

Every task here needs the maintenance role: they are routed to the privileged queue
(settings.KASSA_PRIVILEGED_TASKS) that only the privileged worker consumes.
"""

import os
from uuid import UUID

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core.alerts import alert_send
from lifecycle.models import Backup
from lifecycle.services.backups import backup_create, backup_record, backup_run, backups_expire, safe_error
from lifecycle.services.drills import DRILL_FAILED_STATUS, restore_drill_run, stderr_summary
from lifecycle.services.purge import tenant_purge, tenant_terminate, tenants_purge_due
from tenants.models import Tenant


@shared_task(
    name="lifecycle.backup_run_task",
    bind=True,
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=900,
    max_retries=5,
)
def backup_run_task(self, tenant_id: str, backup_id: str, record: bool = False) -> str:
    """Run a backup; `record`: a request asked for it, so its record is made here first."""
    tenant = Tenant.objects.get(pk=tenant_id)
    if tenant.status == Tenant.Status.PURGED:
        return "purged"
    if record:
        backup_record(tenant=tenant, backup_id=UUID(backup_id))
    return str(backup_run(tenant=tenant, backup_id=UUID(backup_id)).status)


@shared_task(name="lifecycle.backups_nightly_task")
def backups_nightly_task() -> int:
    """Create tonight's backup of every active tenant (once; it runs in a worker), expire old ones."""
    today = timezone.now().date()
    count = 0
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE, region=settings.KASSA_REGION):
        backup = backup_create(tenant=tenant, trigger=Backup.Trigger.SCHEDULED, scheduled_for=today)
        if backup.status != Backup.Status.DONE:
            count += 1
        backups_expire(tenant=tenant)
    return count


@shared_task(name="lifecycle.restore_drills_task")
def restore_drills_task() -> dict:
    results = {}
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE, region=settings.KASSA_REGION):
        drill = restore_drill_run(tenant=tenant)
        if drill is not None:
            results[tenant.slug] = drill.status
    return results


@shared_task(name="lifecycle.storage_drills_task")
def storage_drills_task() -> int:
    """The weekly drill from storage alone: `manage.py drill_from_storage` in a process of its own.

    It creates and migrates a scratch database, which needs the owner role: only a manage.py
    process holds its alias, and it reaches the role only where the database is embedded (an
    external database's owner credential is never in the privileged worker: there the systemd
    timer runs the command). The command records and alerts each tenant's drill itself; a run
    that could not start at all alerts here. Returns the command's exit status.
    """
    import subprocess  # nosec B404 - manage.py of this checkout, never a shell
    import sys

    from django.db import connections

    env = {
        **os.environ,
        "KASSA_PROCESS": "manage",
        # This worker's database and storage, whatever its environment said.
        "KASSA_DB_NAME": connections["default"].settings_dict["NAME"],
        "KASSA_STORAGE_URL": settings.KASSA_STORAGE_URL,
    }
    done = subprocess.run(  # noqa: S603  # nosec B603 - fixed argv, no shell
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "drill_from_storage", "--no-progress"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=settings.KASSA_STORAGE_DRILL_TIMEOUT * 4,
        check=False,
    )
    if done.returncode not in (0, DRILL_FAILED_STATUS):
        alert_send(
            "storage_drill_failed",
            tenant="-",
            detail=f"the weekly drill from storage did not run: {stderr_summary(done.stderr, done.returncode)}",
        )
    return done.returncode


@shared_task(name="lifecycle.tenants_purge_due_task")
def tenants_purge_due_task() -> list[str]:
    """Purge every tenant past its grace period; one that fails alerts and the others go on
    (its data keys are gone already: the next night's run finishes it)."""
    purged = []
    for tenant in tenants_purge_due():
        try:
            tenant_purge(tenant=tenant, requested_by="scheduled purge after the grace period")
        except Exception as error:
            alert_send(
                "purge_failed",
                tenant=tenant.slug,
                detail=f"the purge of tenant {tenant.slug} ({tenant.pk}) failed: {safe_error(error)}; "
                "it resumes at the next run",
            )
            continue
        purged.append(tenant.slug)
    return purged


@shared_task(name="lifecycle.tenant_terminate_task", acks_late=True)
def tenant_terminate_task(tenant_id: str, actor_id: str) -> str:
    """An owner's termination (lifecycle.services.purge.termination_request); safe to run twice."""
    from auditlog.models import PlatformEvent
    from auditlog.services import platform_event_record

    tenant = Tenant.objects.get(pk=tenant_id)
    if tenant.status != Tenant.Status.ACTIVE:
        return str(tenant.status)
    tenant_terminate(tenant=tenant)
    platform_event_record(
        kind=PlatformEvent.Kind.TENANT_TERMINATED, tenant=tenant, actor=actor_id, detail={"by": "owner"}
    )
    return "terminated"
