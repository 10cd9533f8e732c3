"""Celery tasks of the webhooks: thin, idempotent (an endpoint is drained by one worker at a time)."""

import contextlib
from datetime import timedelta
from uuid import UUID

import redis
from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from integrations import delivery
from tenants.context import tenant_context
from tenants.models import Tenant
from tenants.selectors import tenant_get


def _tenant(tenant_id: str) -> Tenant | None:
    tenant = tenant_get(tenant_id)
    return tenant if tenant is not None and tenant.status != Tenant.Status.PURGED else None


# An endpoint's wake-up claim (in the cache): taken when a drain is queued, given back when that
# drain starts. A commit that finds it taken queues nothing, as the queued drain starts after that
# commit and so sends what it committed. A claim whose drain was lost lapses after WAKE_SECONDS,
# and the sweep (every 60 s) wakes every endpoint with a delivery due meanwhile.
# Named by the tenant too, so a purge deletes it with the tenant's other keys.
WAKE_KEY = "webhooks:wake:{tenant}:{endpoint}"
WAKE_SECONDS = 60


def endpoint_wake(*, tenant_id: str, endpoint_id: str) -> bool:
    """After a commit: queue a drain of the endpoint unless one is queued and not started yet.

    The drain starts KASSA_WEBHOOK_GATHER_MS later, so what commits meanwhile goes with it.
    True when a drain was queued.
    """
    key = WAKE_KEY.format(tenant=tenant_id, endpoint=endpoint_id)
    try:
        if not cache.add(key, 1, timeout=WAKE_SECONDS):
            return False
    except redis.RedisError:
        pass  # no claim to be had: queue the drain all the same
    try:
        endpoint_drain_task.apply_async(
            (tenant_id, endpoint_id), countdown=settings.KASSA_WEBHOOK_GATHER_MS / 1000
        )
    except Exception:
        _wake_release(key)  # nothing was queued: the next commit must queue it
        raise
    return True


def _wake_release(key: str) -> None:
    with contextlib.suppress(redis.RedisError):  # else it lapses on its own
        cache.delete(key)


# No result kept: nothing waits for a drain, and storing one was a Redis write per sale.
@shared_task(name="integrations.endpoint_drain_task", ignore_result=True)
def endpoint_drain_task(tenant_id: str, endpoint_id: str, again: bool = False) -> int:
    """Send an endpoint's due deliveries; after a failure, come back when the retry is due."""
    # Before the first read: any commit from here on queues a drain of its own.
    _wake_release(WAKE_KEY.format(tenant=tenant_id, endpoint=endpoint_id))
    tenant = _tenant(tenant_id)
    if tenant is None:
        return 0
    with tenant_context(tenant):
        drained = delivery.endpoint_drain(endpoint_id=UUID(endpoint_id))
    if not drained.locked:
        # Another drain holds the endpoint: it may have read the queue before this drain's
        # deliveries were committed, and ends at that read. Come back once, after the gather; a
        # drain still held then (a long one) is the sweep's.
        if not again:
            endpoint_drain_task.apply_async(
                (tenant_id, endpoint_id, True), countdown=settings.KASSA_WEBHOOK_GATHER_MS / 1000
            )
    elif drained.more:
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
