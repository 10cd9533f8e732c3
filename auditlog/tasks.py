from datetime import timedelta

from celery import shared_task

from auditlog import sealing, services
from tenants.models import Tenant


@shared_task(name="auditlog.audit_seal_task")
def audit_seal_task(delay_seconds: int | None = None) -> int:
    """Seal new entries of every tenant and of the platform; safe to run twice (advisory lock)."""
    delay = sealing.SEAL_DELAY if delay_seconds is None else timedelta(seconds=delay_seconds)
    sealed = sum(seal.entry_count for seal in sealing.seal_create(tenant=None, delay=delay))
    for tenant in Tenant.objects.exclude(status=Tenant.Status.PURGED):
        sealed += sum(seal.entry_count for seal in sealing.seal_create(tenant=tenant, delay=delay))
    return sealed


@shared_task(name="auditlog.audit_verify_task")
def audit_verify_task() -> dict:
    """Verify the platform's chain and every tenant's; a broken one alerts (services.audit_verify)."""
    results = {"(platform)": services.audit_verify(tenant=None)["intact"]}
    for tenant in Tenant.objects.exclude(status=Tenant.Status.PURGED):
        results[tenant.slug] = services.audit_verify(tenant=tenant)["intact"]
    return results


@shared_task(name="auditlog.audit_purge_task")
def audit_purge_task() -> dict:
    """Delete every tenant's entries past its retention; each purge is itself logged. Running it
    twice deletes nothing more (the cutoff only moves with time)."""
    deleted = {}
    for tenant in Tenant.objects.exclude(status=Tenant.Status.PURGED):
        deleted[tenant.slug] = sum(services.audit_purge(tenant=tenant)["deleted"].values())
    return deleted
