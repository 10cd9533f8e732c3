from django.conf import settings
from django.http import HttpResponseNotFound
from django.http.request import split_domain_port
from django.shortcuts import render

from core.api import json_error
from core.stack import bearer_api
from tenants.context import tenant_context
from tenants.models import Tenant
from tenants.selectors import tenant_get_by_host, tenant_get_by_host_cached


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


class TenantMiddleware:
    """Select the tenant from the Host: its domain, or the platform host (no tenant)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.platform_hosts = {host.lower() for host in settings.KASSA_PLATFORM_HOSTS}

    def __call__(self, request):
        host, _ = split_domain_port(request.get_host())
        if host in self.platform_hosts or request.path in ("/healthz", "/readyz", "/metrics"):
            request.tenant = None
            # The API may select a tenant from the token; this context ends it with the request.
            with tenant_context(None):
                return self.get_response(request)
        # A bearer request's token query reads the tenant's status again, fresh: the host may
        # come from a short per-process cache (active tenants only).
        tenant = tenant_get_by_host_cached(host) if bearer_api(request) else tenant_get_by_host(host)
        if tenant is None or tenant.status == Tenant.Status.PURGED:
            if _is_api(request):
                return json_error(404, "not_found", "No such tenant.")
            return HttpResponseNotFound(render(request, "404.html").content)
        if tenant.status == Tenant.Status.SUSPENDED:
            if _is_api(request):
                return json_error(403, "tenant_suspended", "This tenant is suspended.")
            return render(request, "tenant_suspended.html", status=403)
        request.tenant = tenant
        with tenant_context(tenant):
            return self.get_response(request)
