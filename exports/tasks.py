"""Celery tasks: thin, idempotent, acknowledged late, and run again when their worker dies."""

from uuid import UUID

from celery import shared_task
from django.conf import settings

from exports import customers, services
from tenants.models import Tenant


@shared_task(name="exports.export_run_task", bind=True, max_retries=10)
def export_run_task(self, tenant_id: str, export_id: str) -> str:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None or tenant.status == Tenant.Status.PURGED:
        return "gone"
    export = services.export_run(tenant=tenant, export_id=UUID(export_id))
    if export.status == export.Status.RUNNING and export.progress < 100:
        # Claimed by a worker that may have died (redelivered): look again once it may be stale.
        raise self.retry(countdown=services.stale_seconds())
    return str(export.status)


@shared_task(name="exports.exports_expire_task")
def exports_expire_task() -> int:
    """Delete every tenant's export files past their download window."""
    expired = 0
    for tenant in Tenant.objects.filter(region=settings.KASSA_REGION).exclude(status=Tenant.Status.PURGED):
        expired += services.exports_expire(tenant=tenant)
    return expired


@shared_task(name="exports.customer_erasure_run_task", bind=True, max_retries=20)
def customer_erasure_run_task(self, tenant_id: str, erasure_id: str) -> str:
    """A customer's erasure (privileged queue: the maintenance role rewrites the audit log)."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None or tenant.status == Tenant.Status.PURGED:
        return "gone"
    try:
        erasure = customers.customer_erasure_run(tenant=tenant, erasure_id=UUID(erasure_id))
    except customers.ErasureBusy:
        raise self.retry(countdown=10) from None
    if erasure.status == erasure.Status.RUNNING:
        # Claimed by a worker that may have died (redelivered): look again once it may be stale.
        raise self.retry(countdown=customers.STALE_SECONDS)
    return str(erasure.status)
