from celery import shared_task

from accounts.services import users_deactivate_dormant
from tenants.context import tenant_context
from tenants.models import Tenant


@shared_task(name="accounts.users_deactivate_dormant_task")
def users_deactivate_dormant_task() -> int:
    """Deactivate accounts unused for 90 days, tenant by tenant (safe to run twice)."""
    total = 0
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE):
        with tenant_context(tenant):
            total += users_deactivate_dormant()
    return total


@shared_task(name="accounts.keys_expiry_warn_task")
def keys_expiry_warn_task() -> int:
    """Warn each tenant's owners of integrator keys expiring within 14 days (once per key)."""
    from accounts.services import keys_expiry_warn

    total = 0
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE):
        with tenant_context(tenant):
            total += keys_expiry_warn()
    return total


@shared_task(name="accounts.access_attempts_expire_task")
def access_attempts_expire_task() -> int:
    """Expire failed sign-in records, tenant by tenant (safe to run twice)."""
    from accounts.services import access_attempts_expire

    total = 0
    for tenant in Tenant.objects.exclude(status=Tenant.Status.PURGED):
        with tenant_context(tenant):
            total += access_attempts_expire()
    return total
