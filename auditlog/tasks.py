from datetime import timedelta

from celery import shared_task

from auditlog import sealing
from tenants.models import Tenant


@shared_task(name="auditlog.audit_seal_task")
def audit_seal_task(delay_seconds: int | None = None) -> int:
    """Seal new entries of every tenant and of the platform; safe to run twice (advisory lock)."""
    delay = sealing.SEAL_DELAY if delay_seconds is None else timedelta(seconds=delay_seconds)
    sealed = sum(seal.entry_count for seal in sealing.seal_create(tenant=None, delay=delay))
    for tenant in Tenant.objects.exclude(status=Tenant.Status.PURGED):
        sealed += sum(seal.entry_count for seal in sealing.seal_create(tenant=tenant, delay=delay))
    return sealed
