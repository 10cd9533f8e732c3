"""The current tenant of this request, task or command, held in a context variable."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from tenants.models import Tenant

_current_tenant: ContextVar[Tenant | None] = ContextVar("kassa_current_tenant", default=None)


class NoTenantSelected(RuntimeError):
    """Tenant-owned data was touched with no tenant selected (fail closed)."""


def get_current_tenant() -> Tenant | None:
    return _current_tenant.get()


def current_tenant_id() -> UUID | None:
    tenant = _current_tenant.get()
    return tenant.pk if tenant is not None else None


@contextmanager
def tenant_context(tenant: Tenant | None):
    """Run the block as `tenant` (or as no tenant): the ORM and PostgreSQL both follow it."""
    token = _current_tenant.set(tenant)
    try:
        yield tenant
    finally:
        _current_tenant.reset(token)


def require_tenant_id() -> UUID:
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise NoTenantSelected("this needs a tenant and none is selected")
    return tenant_id


def tenant_activate(tenant: Tenant) -> None:
    """Select the tenant for the rest of this request (API authentication only).

    TenantMiddleware wraps every request in `tenant_context`, whose exit restores the value
    from before the request, so this cannot leak into the next request on the thread.
    """
    _current_tenant.set(tenant)
