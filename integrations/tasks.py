"""Celery tasks of the webhooks: thin, idempotent (an endpoint is drained by one worker at a time)."""

from datetime import timedelta
from uuid import UUID

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from integrations import delivery
from tenants.context import tenant_context
from tenants.models import Tenant


def _tenant(tenant_id: str) -> Tenant | None:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    return tenant if tenant is not None and tenant.status != Tenant.Status.PURGED else None


# No result kept: nothing waits for a drain, and storing one was a Redis write per sale.
@shared_task(name="integrations.endpoint_drain_task", ignore_result=True)
def endpoint_drain_task(tenant_id: str, endpoint_id: str) -> int:
    """Send an endpoint's due deliveries; after a failure, come back when the retry is due."""
    tenant = _tenant(tenant_id)
    if tenant is None:
        return 0
    with tenant_context(tenant):
        drained = delivery.endpoint_drain(endpoint_id=UUID(endpoint_id))
    if drained.more:
        endpoint_drain_task.delay(tenant_id, endpoint_id)
    elif drained.retry_at is not None:
        wait = (drained.retry_at - timezone.now()).total_seconds()
        endpoint_drain_task.apply_async((tenant_id, endpoint_id), countdown=min(max(wait, 0.5), 3600))
    return drained.sent


@shared_task(name="integrations.deliveries_sweep_task")
def deliveries_sweep_task() -> int:
    """Wake every endpoint with a delivery due (a retry far ahead, or a wake-up that was lost)."""
    woken = 0
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE, region=settings.KASSA_REGION):
        with tenant_context(tenant):
            due = delivery.endpoints_due()
        for endpoint_id in due:
            endpoint_drain_task.delay(str(tenant.pk), str(endpoint_id))
        woken += len(due)
    return woken


@shared_task(name="integrations.events_expire_task")
def events_expire_task() -> int:
    expired = 0
    keep = timedelta(days=settings.KASSA_WEBHOOK_KEEP_DAYS)
    for tenant in Tenant.objects.filter(region=settings.KASSA_REGION).exclude(status=Tenant.Status.PURGED):
        with tenant_context(tenant):
            expired += delivery.events_expire(keep=keep)
    return expired
