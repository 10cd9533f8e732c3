"""The host -> tenant cache of bearer API requests (tenants.selectors.tenant_get_by_host_cached):
it saves the Domain query, and still every change of a tenant's status is seen at once, because
the token query reads the status fresh and only active tenants are cached."""

from django.db import connections
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiToken
from tenants import selectors
from tenants.maintenance import as_maintenance
from tenants.models import Domain, Tenant
from tests.conftest import HttpsApiClient, token_for


def _status_set(tenant, *, status) -> None:
    with as_maintenance():  # the tenants table is the maintenance role's to write
        Tenant.objects.filter(pk=tenant.pk).update(status=status)


HOST = "alice-chain.localhost"


def _on_host(user, host=HOST) -> HttpsApiClient:
    """A bearer client on a tenant's own host (the `api` fixture uses the platform host)."""
    return HttpsApiClient(token_for(user), host=host)


def _domain_queries(captured) -> int:
    return sum('FROM "tenants_domain"' in q["sql"] for q in captured.captured_queries)


def test_a_bearer_request_reads_the_host_from_the_cache_after_the_first(cast_a):
    client = _on_host(cast_a["owner"])
    with CaptureQueriesContext(connections["default"]) as first:
        assert client.get("/api/v1/me/").status_code == 200
    with CaptureQueriesContext(connections["default"]) as second:
        assert client.get("/api/v1/me/").status_code == 200
    assert _domain_queries(first) == 1
    assert _domain_queries(second) == 0


def test_a_suspension_refuses_the_next_bearer_request_though_the_host_is_cached(cast_a, tenant_a):
    client = _on_host(cast_a["owner"])
    assert client.get("/api/v1/me/").status_code == 200
    _status_set(tenant_a, status=Tenant.Status.SUSPENDED)
    response = client.get("/api/v1/me/")
    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"
    # Not cached while suspended: a reactivation is seen at once too.
    _status_set(tenant_a, status=Tenant.Status.ACTIVE)
    assert client.get("/api/v1/me/").status_code == 200


def test_a_purge_refuses_the_next_bearer_request_though_the_host_is_cached(cast_a, tenant_a):
    client = _on_host(cast_a["owner"])
    assert client.get("/api/v1/me/").status_code == 200
    _status_set(tenant_a, status=Tenant.Status.PURGED)
    assert client.get("/api/v1/me/").status_code == 401


def test_a_revoked_token_is_refused_at_once_though_the_host_is_cached(cast_a, as_tenant, tenant_a):
    client = _on_host(cast_a["owner"])
    assert client.get("/api/v1/me/").status_code == 200
    with as_tenant(tenant_a):
        ApiToken.objects.filter(user=cast_a["owner"]).update(revoked_at="2020-01-01T00:00:00Z")
    assert client.get("/api/v1/me/").status_code == 401


def test_pages_never_use_the_cache(client, cast_a, tenant_a):
    assert _on_host(cast_a["owner"]).get("/api/v1/me/").status_code == 200  # the host is cached now
    _status_set(tenant_a, status=Tenant.Status.SUSPENDED)
    assert client.get("/login/", HTTP_HOST="alice-chain.localhost", secure=True).status_code == 403


def test_another_tenants_token_on_a_cached_host_is_refused(cast_a, cast_b):
    assert _on_host(cast_a["owner"]).get("/api/v1/me/").status_code == 200
    assert _on_host(cast_b["owner"]).get("/api/v1/me/").status_code == 401


def test_unknown_hosts_are_not_kept_and_the_cache_is_bounded(tenant_a, monkeypatch):
    assert selectors.tenant_get_by_host_cached("nobody.localhost") is None
    assert "nobody.localhost" not in selectors._hosts
    monkeypatch.setattr(selectors, "HOST_CACHE_SIZE", 3)
    hosts = [f"extra{i}.localhost" for i in range(4)]
    with as_maintenance():
        Domain.objects.bulk_create([Domain(host=h, tenant=tenant_a) for h in hosts])
    for host in hosts:
        assert selectors.tenant_get_by_host_cached(host).pk == tenant_a.pk
    assert len(selectors._hosts) <= 3


def test_a_moved_domain_is_seen_when_its_entry_expires(tenant_a, tenant_b):
    assert selectors.tenant_get_by_host_cached(HOST).pk == tenant_a.pk
    with as_maintenance():
        Domain.objects.filter(host=HOST).update(tenant=tenant_b)
    assert selectors.tenant_get_by_host_cached(HOST).pk == tenant_a.pk  # within HOST_CACHE_SECONDS
    expires, tenant = selectors._hosts[HOST]
    selectors._hosts[HOST] = (expires - selectors.HOST_CACHE_SECONDS, tenant)
    assert selectors.tenant_get_by_host_cached(HOST).pk == tenant_b.pk
