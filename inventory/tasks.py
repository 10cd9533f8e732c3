"""Celery tasks of the inventory: thin, idempotent, acknowledged late."""

from uuid import UUID

from celery import shared_task

from inventory import importing
from tenants.models import Tenant


@shared_task(name="inventory.product_import_task", bind=True, max_retries=10)
def product_import_task(self, tenant_id: str, job_id: str) -> str:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None or tenant.status == Tenant.Status.PURGED:
        return "gone"
    job = importing.product_import_run(tenant=tenant, job_id=UUID(job_id))
    if job.status == job.Status.RUNNING:
        # Claimed by a worker that may have died (redelivered): look again once it may be stale.
        raise self.retry(countdown=importing.STALE_SECONDS)
    return str(job.status)
