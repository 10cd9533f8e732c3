"""The export API: start, poll, download; refused without `export`, to others and after expiry."""

import time
from datetime import timedelta

from django.utils import timezone

from exports.models import Export
from tenants.context import tenant_context
from tests.conftest import HttpsApiClient, transactional
from tests.exports.conftest import run_export, unzip

pytestmark = transactional


def test_an_owner_starts_an_export_and_polls_its_status(shop_a, cast_a, tenant_a, api):
    client = api(cast_a["owner"])
    answer = client.post("/api/v1/exports/", {"kind": "full"})
    assert answer.status_code == 202
    assert set(answer.json()) == {"id", "status"} and answer.json()["status"] == "queued"
    status = client.get(f"/api/v1/exports/{answer.json()['id']}/").json()
    assert status["status"] == "queued" and status["progress"] == 0 and "download_url" not in status


def test_bad_input_answers_400_in_the_documented_shape(cast_a, api):
    answer = api(cast_a["owner"]).post("/api/v1/exports/", {"kind": "everything"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid" and "kind" in answer.json()["fields"]


def test_a_user_without_export_may_not_start_or_read_exports(shop_a, cast_a, tenant_a, api):
    export = run_export(tenant_a, cast_a["owner"])
    client = api(cast_a["store_manager"])
    assert client.post("/api/v1/exports/", {"kind": "full"}).status_code == 403
    assert client.get(f"/api/v1/exports/{export.pk}/").status_code == 403
    answer = client.get(f"/api/v1/exports/{export.pk}/download/")
    assert answer.status_code == 403 and answer.json()["code"] == "permission_denied"
    assert client.get("/api/v1/exports/products.csv").status_code == 403
    with tenant_context(tenant_a):
        assert Export.objects.count() == 1


def test_the_download_streams_the_zip_to_its_requester(shop_a, cast_a, tenant_a, api):
    export = run_export(tenant_a, cast_a["owner"])
    client = api(cast_a["owner"])
    status = client.get(f"/api/v1/exports/{export.pk}/").json()
    assert status["status"] == "done" and status["progress"] == 100 and status["expires_at"]
    answer = client.client.get(status["download_url"], secure=True)
    assert answer.status_code == 200 and answer.streaming
    assert any("product" in name for name in unzip(b"".join(answer.streaming_content)))
    assert HttpsApiClient().get(f"/api/v1/exports/{export.pk}/download/").status_code == 401
    with tenant_context(tenant_a):
        export.refresh_from_db()
    assert export.download_count == 1


def test_another_exporter_of_the_chain_cannot_download_it(shop_a, cast_a, tenant_a, api):
    export = run_export(tenant_a, cast_a["owner"])
    answer = api(cast_a["auditor"]).get(f"/api/v1/exports/{export.pk}/download/")
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"


def test_another_tenant_gets_404(shop_a, cast_a, tenant_a, tenant_b, api):
    export = run_export(tenant_a, cast_a["owner"])
    with tenant_context(tenant_b):
        from accounts.models import User

        bob = User.objects.get(username="bob")
    client = api(bob)
    assert client.get(f"/api/v1/exports/{export.pk}/").status_code == 404
    assert client.get(f"/api/v1/exports/{export.pk}/download/").status_code == 404


def test_an_expired_export_is_deleted_and_refused(shop_a, cast_a, tenant_a, api, file_storage):
    from exports.services import exports_expire

    export = run_export(tenant_a, cast_a["owner"])
    client = api(cast_a["owner"])
    with tenant_context(tenant_a):
        Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/api/v1/exports/{export.pk}/download/").status_code == 410
    assert exports_expire(tenant=tenant_a) == 1
    assert not (file_storage / export.object_key).exists()
    answer = client.get(f"/api/v1/exports/{export.pk}/download/")
    assert answer.status_code == 410 and answer.json()["code"] == "export_expired"
    assert "download_url" not in client.get(f"/api/v1/exports/{export.pk}/").json()


def test_entity_csv_streams_with_formulas_neutralised(shop_a, cast_a, api):
    answer = api(cast_a["auditor"]).get("/api/v1/exports/products.csv")
    assert answer.status_code == 200 and answer.streaming
    text = b"".join(answer.streaming_content).decode()
    lines = text.strip().split("\r\n")
    assert lines[0].startswith("id,") and len(lines) == 4
    assert "'=cmd" in text
    customers = b"".join(api(cast_a["owner"]).get("/api/v1/exports/customers.csv").streaming_content).decode()
    assert "zelda.q@example.org" in customers and "'+49 170 5551234" in customers


def test_a_large_entity_csv_becomes_an_export_job(shop_a, cast_a, settings, api):
    settings.KASSA_EXPORT_STREAM_MAX_ROWS = 2
    answer = api(cast_a["owner"]).get("/api/v1/exports/products.csv")
    assert answer.status_code == 202 and answer.json()["status"] == "queued"


def test_an_unknown_entity_csv_is_404(cast_a, api):
    assert api(cast_a["owner"]).get("/api/v1/exports/passwords.csv").status_code == 404


def test_the_export_task_runs_in_a_real_worker(shop_a, cast_a, tenant_a, worker_storage, celery_worker, api):
    client = api(cast_a["owner"])
    export_id = client.post("/api/v1/exports/", {"kind": "full"}).json()["id"]
    deadline = time.monotonic() + 120
    while True:
        status = client.get(f"/api/v1/exports/{export_id}/").json()
        if status["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert status["status"] == "done", status
    answer = client.client.get(status["download_url"], secure=True)
    assert answer.status_code == 200
    assert "inventory_product.jsonl" in unzip(b"".join(answer.streaming_content))
