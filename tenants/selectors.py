from django.conf import settings

from tenants.models import Domain, Tenant


def tenant_host(slug: str) -> str:
    """The host a tenant is served at: `<slug>.<KASSA_BASE_DOMAIN>`."""
    return f"{slug}.{settings.KASSA_BASE_DOMAIN}"


def tenant_get_by_host(host: str) -> Tenant | None:
    domain = Domain.objects.select_related("tenant").filter(host=host.lower()).first()
    return domain.tenant if domain else None
