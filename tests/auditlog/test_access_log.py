import uuid

import pytest
from django.urls import path

from auditlog.models import AccessEvent, ApiCall
from tenants.context import tenant_context
from tests.auditlog.conftest import access_rows
from tests.conftest import HttpsApiClient, transactional


def boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", boom), path("api/v1/boom/", boom)]


def test_every_response_carries_a_request_id_that_names_its_entry(db, cast_a, api):
    response = api(cast_a["owner"]).get("/api/v1/me/")
    assert response.status_code == 200
    request_id = uuid.UUID(response["X-Request-ID"])
    rows = access_rows(request_id, cast_a["owner"].tenant)
    with tenant_context(cast_a["owner"].tenant):
        entry = AccessEvent.objects.get(request_id=request_id)
    assert len(rows) == 1
    assert entry.tenant_id == cast_a["owner"].tenant_id
    assert entry.user_id == cast_a["owner"].pk
    assert entry.token_id is not None
    assert (entry.method, entry.path, entry.status, entry.host) == ("GET", "/api/v1/me/", 200, "127.0.0.1")
    assert entry.ip == "127.0.0.1"
    assert entry.duration_ms > 0


def test_request_ids_are_time_ordered(db, cast_a, api):
    # UUIDv7: a request's id sorts after every earlier request's, so the log tables' request-id
    # indexes take each new entry at one edge instead of on a random page (a random UUID dirtied
    # a page a row there: 6.8 kB of WAL an insert at 5 million rows, bench/RESULTS.md tenth pass).
    client = api(cast_a["owner"])
    ids = [uuid.UUID(client.get("/api/v1/me/")["X-Request-ID"]) for _ in range(5)]
    assert [request_id.version for request_id in ids] == [7] * 5
    assert ids == sorted(ids) and len(set(ids)) == 5
    with tenant_context(cast_a["owner"].tenant):
        logged = list(AccessEvent.objects.filter(request_id__in=ids).order_by("id"))
    assert [entry.request_id for entry in logged] == ids


@transactional
def test_a_request_that_raises_is_logged_with_status_500(settings, tenant_a):
    settings.ROOT_URLCONF = "tests.auditlog.test_access_log"
    client = HttpsApiClient(host="alice-chain.localhost")
    client.client.raise_request_exception = False
    response = client.get("/boom/?password=hunter2&page=2")
    assert response.status_code == 500
    assert access_rows(response["X-Request-ID"]) == []  # not a platform row
    (entry,) = access_rows(response["X-Request-ID"], tenant_a)
    assert entry["status"] == 500 and entry["tenant_id"] == tenant_a.pk
    with tenant_context(tenant_a):
        row = AccessEvent.objects.get(request_id=response["X-Request-ID"])
    assert row.path == "/boom/"
    assert "hunter2" not in row.query and "page=2" in row.query


def test_anonymous_platform_requests_are_logged_without_tenant(db):
    response = HttpsApiClient().get("/api/v1/me/", HTTP_USER_AGENT="probe\r\nInjected: 1")
    assert response.status_code == 401
    (entry,) = access_rows(response["X-Request-ID"])
    assert entry["tenant_id"] is None and entry["user_id"] is None and entry["status"] == 401
    assert "\n" not in entry["user_agent"] and "\r" not in entry["user_agent"]


def test_platform_rows_are_invisible_to_a_tenant(db, tenant_a):
    response = HttpsApiClient().get("/api/v1/me/")
    with tenant_context(tenant_a):
        assert not AccessEvent.objects.filter(request_id=response["X-Request-ID"]).exists()
        assert not AccessEvent.unscoped.filter(request_id=response["X-Request-ID"]).exists()


def test_static_files_are_not_logged(db):
    response = HttpsApiClient().get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert "X-Request-ID" not in response


def test_api_call_is_logged_with_secrets_redacted(db, cast_a, api):
    client = api(cast_a["cashier"])
    response = client.post(
        "/api/v1/me/password/",
        {"current_password": "wrong-password-123", "new_password": "Another-long-pass-42", "note": "x"},
    )
    request_id = response["X-Request-ID"]
    with tenant_context(cast_a["cashier"].tenant):
        call = ApiCall.objects.get(request_id=request_id)
    assert call.method == "POST" and call.status == response.status_code
    assert "wrong-password-123" not in call.request_body
    assert "Another-long-pass-42" not in call.request_body
    assert '"current_password":"[redacted]"' in call.request_body
    assert '"note":"x"' in call.request_body
    assert "authorization" not in call.request_headers
    assert client.token not in str(call.request_headers) + call.request_body + call.response_body
    assert call.user_id == cast_a["cashier"].pk


@pytest.mark.parametrize("card", ["4111 1111 1111 1111", "4111111111111111"])
def test_card_numbers_are_masked_and_big_bodies_cut(db, cast_a, api, card):
    client = api(cast_a["owner"])
    response = client.patch(
        f"/api/v1/users/{cast_a['cashier'].pk}/", {"reference": f"card {card}", "blob": "y" * 70000}
    )
    with tenant_context(cast_a["owner"].tenant):
        call = ApiCall.objects.get(request_id=response["X-Request-ID"])
    assert card not in call.request_body and "1111" in call.request_body
    assert call.request_truncated and call.request_body.endswith("…[truncated]")
    assert len(call.request_body.encode()) <= 64 * 1024 + 20
