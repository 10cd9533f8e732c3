import copy
import time
import uuid

from django.conf import settings
from django.db import connection

from tenants.models import Domain, Tenant
from tenants.rows import prepared, row_built

_COLUMNS = tuple(field.attname for field in Tenant._meta.concrete_fields)
# The table and column names from the model; the id goes as a parameter.
_TENANT_SQL = prepared(f"SELECT {', '.join(_COLUMNS)} FROM {Tenant._meta.db_table} WHERE id = %s")  # noqa: S608

# host -> (expires, active tenant), per process. Only for requests that read their tenant's
# status again, fresh, before they touch anything (a bearer token's query does).
HOST_CACHE_SECONDS = 10
HOST_CACHE_SIZE = 10_000
_hosts: dict[str, tuple[float, Tenant]] = {}


def tenant_host(slug: str) -> str:
    """The host a tenant is served at: `<slug>.<KASSA_BASE_DOMAIN>`."""
    return f"{slug}.{settings.KASSA_BASE_DOMAIN}"


def tenant_get(tenant_id) -> Tenant | None:
    """The tenant with this id, read fresh (None for a malformed id): one prepared statement, for
    the webhook drain, which reads its tenant on every run (the ORM compiled the same query each time)."""
    try:
        wanted = uuid.UUID(str(tenant_id))
    except ValueError:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_TENANT_SQL, [wanted])
        row = cursor.fetchone()
    return row_built(Tenant, dict(zip(_COLUMNS, row, strict=True))) if row is not None else None


def tenant_get_by_host(host: str) -> Tenant | None:
    domain = Domain.objects.select_related("tenant").filter(host=host.lower()).first()
    return domain.tenant if domain else None


def tenant_get_by_host_cached(host: str) -> Tenant | None:
    """`tenant_get_by_host` from a per-process cache of a few seconds, for callers that read
    the tenant's status fresh themselves before anything else (API requests with a bearer
    token: the token query reads it, and a suspended or purged tenant is refused there).

    Only active tenants are kept: any other status is read from the database every time, so
    a suspension, purge or reactivation is seen at once either way. A domain moved to another
    tenant is seen within HOST_CACHE_SECONDS. Unknown hosts are never kept (no growth from
    made-up hosts); the cache is emptied when it would outgrow HOST_CACHE_SIZE.
    """
    host = host.lower()
    now = time.monotonic()
    hit = _hosts.get(host)
    if hit is not None and hit[0] > now:
        return copy.copy(hit[1])
    tenant = tenant_get_by_host(host)
    if tenant is not None and tenant.status == Tenant.Status.ACTIVE:
        if len(_hosts) >= HOST_CACHE_SIZE:
            _hosts.clear()
        _hosts[host] = (now + HOST_CACHE_SECONDS, copy.copy(tenant))
    else:
        _hosts.pop(host, None)
    return tenant


def tenant_host_cache_clear() -> None:
    """Forget every cached host (tests; a process that re-points a domain)."""
    _hosts.clear()
