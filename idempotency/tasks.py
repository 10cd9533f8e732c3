from celery import shared_task

from idempotency.services import records_expired_delete
from tenants.context import tenant_context
from tenants.models import Tenant


@shared_task(name="idempotency.idempotency_records_expire_task")
def idempotency_records_expire_task() -> int:
    """Delete Idempotency-Key records past their 24 hours, tenant by tenant (safe to run twice)."""
    deleted = 0
    for tenant in Tenant.objects.exclude(status=Tenant.Status.PURGED):
        with tenant_context(tenant):
            deleted += records_expired_delete()
    return deleted
