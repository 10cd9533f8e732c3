"""The admin's CSV product import runs as a job in a worker and shows its progress in percent."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from auditlog.models import ChangeEvent
from inventory import importing
from inventory.models import Product, ProductImport
from inventory.tasks import product_import_task
from tests.conftest import transactional
from tests.inventory.test_admin import get, post, signed_in

GOOD_AND_BAD = (
    "sku,name,price,tax_rate\n"
    "NEW-1,Bagel,1.30,7\n"
    "NEW-2,Broken,abc,7\n"
    "COF-1,Coffee renamed,4.80,14\n"
    ",No sku,1,0\n"
    "NEW-3,Muffin,2.10,7\n"
)


def upload(client, data: str = GOOD_AND_BAD):
    return post(
        client, "/admin/inventory/product/import/", {"file": SimpleUploadedFile("p.csv", data.encode())}
    )


@transactional
def test_an_admin_upload_runs_in_a_real_worker_to_100_percent(
    cast_a, coffee, tenant_a, as_tenant, celery_worker
):
    client = signed_in(cast_a["owner"])
    answer = upload(client)
    assert answer.status_code == 302
    page = answer["Location"]
    assert page.startswith("/admin/inventory/product/import/")
    deadline = time.monotonic() + 60
    while True:
        shown = get(client, page)
        assert shown.status_code == 200
        text = shown.content.decode()
        if "Product import: done" in text:
            break
        assert "Product import: failed" not in text, text
        assert '<meta http-equiv="refresh"' in text  # the page refreshes itself, no inline script
        assert time.monotonic() < deadline, "the import did not finish within 60 s"
        time.sleep(0.2)
    assert '<meta http-equiv="refresh"' not in text
    assert "100%" in text and "2 created, 1 updated, 2 refused" in text
    assert "<td>3</td>" in text and "<td>5</td>" in text and "price" in text and "sku" in text
    with as_tenant(tenant_a):
        job = ProductImport.objects.get()
        assert (job.status, job.progress, job.created, job.updated, job.failed) == ("done", 100, 2, 1, 2)
        assert [e["row"] for e in job.errors] == [3, 5]
        assert job.data is None  # the file is not kept once the job has ended
        assert Product.objects.get(sku="NEW-1").name == "Bagel"
        assert Product.objects.get(sku="COF-1").name == "Coffee renamed"
        assert not Product.objects.filter(name__in=["Broken", "No sku"]).exists()


def test_a_bad_header_is_refused_at_once_and_starts_no_job(cast_a, tenant_a, as_tenant):
    answer = upload(signed_in(cast_a["owner"]), "code,title\nx,y\n")
    assert answer.status_code == 400 and b"sku" in answer.content
    with as_tenant(tenant_a):
        assert not ProductImport.objects.exists()


def _job(tenant, user, as_tenant, data: str = GOOD_AND_BAD) -> ProductImport:
    with as_tenant(tenant):
        return importing.product_import_create(actor=user, data=data, filename="p.csv")


def test_the_job_page_and_api_show_progress_and_errors(cast_a, coffee, tenant_a, as_tenant, api):
    job = _job(tenant_a, cast_a["owner"], as_tenant)
    client = signed_in(cast_a["owner"])
    queued = get(client, f"/admin/inventory/product/import/{job.pk}/")
    assert queued.status_code == 200 and b"0%" in queued.content and b'http-equiv="refresh"' in queued.content
    importing.product_import_run(tenant=tenant_a, job_id=job.pk)
    answer = api(cast_a["owner"]).get(f"/api/v1/product-imports/{job.pk}/")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["status"], body["progress"], body["created"], body["updated"], body["failed"]) == (
        "done",
        100,
        2,
        1,
        2,
    )
    assert [e["row"] for e in body["errors"]] == [3, 5]
    assert "data" not in body


def test_another_tenants_job_answers_404(cast_a, tenant_b, as_tenant, api):
    from accounts.models import User

    with as_tenant(tenant_b):
        bob = User.objects.get(username="bob")
    job = _job(tenant_b, bob, as_tenant)
    assert get(signed_in(cast_a["owner"]), f"/admin/inventory/product/import/{job.pk}/").status_code == 404
    assert api(cast_a["owner"]).get(f"/api/v1/product-imports/{job.pk}/").status_code == 404


def test_a_user_without_manage_products_is_forbidden(cast_a, tenant_a, as_tenant, api):
    job = _job(tenant_a, cast_a["owner"], as_tenant)
    cashier = signed_in(cast_a["cashier"])
    assert get(cashier, f"/admin/inventory/product/import/{job.pk}/").status_code == 403
    assert upload(cashier).status_code == 403
    assert api(cast_a["cashier"]).get(f"/api/v1/product-imports/{job.pk}/").status_code == 403
    with as_tenant(tenant_a), pytest.raises(importing.PermissionDenied):
        importing.product_import_create(actor=cast_a["cashier"], data=GOOD_AND_BAD)


def test_running_the_task_twice_imports_once(cast_a, coffee, tenant_a, as_tenant):
    job = _job(tenant_a, cast_a["owner"], as_tenant)
    assert product_import_task.apply(args=[str(tenant_a.pk), str(job.pk)]).get() == "done"
    with as_tenant(tenant_a):
        events = ChangeEvent.objects.count()
        stamps = dict(Product.objects.values_list("sku", "updated_at"))
    assert product_import_task.apply(args=[str(tenant_a.pk), str(job.pk)]).get() == "done"
    with as_tenant(tenant_a):
        assert ChangeEvent.objects.count() == events
        assert dict(Product.objects.values_list("sku", "updated_at")) == stamps
        job.refresh_from_db()
        assert (job.created, job.updated, job.failed, job.attempts) == (2, 1, 2, 1)


def test_a_job_claimed_by_a_live_worker_is_not_run_again(cast_a, tenant_a, as_tenant):
    job = _job(tenant_a, cast_a["owner"], as_tenant)
    with as_tenant(tenant_a):
        assert importing.product_import_claim(job_id=job.pk)
        assert not importing.product_import_claim(job_id=job.pk)
    assert importing.product_import_run(tenant=tenant_a, job_id=job.pk).status == "running"
    with as_tenant(tenant_a):
        assert not Product.objects.filter(sku="NEW-1").exists()


def test_progress_is_written_while_the_rows_are_imported(cast_a, tenant_a, as_tenant, monkeypatch):
    rows = "".join(f"P-{n},Product {n},1.00\n" for n in range(100))
    job = _job(tenant_a, cast_a["owner"], as_tenant, "sku,name,price\n" + rows)
    seen = []
    original = importing.products_import

    def watching(*, rows, actor, progress, **options):
        def spy(count):
            progress(count)
            with as_tenant(tenant_a):
                seen.append(ProductImport.objects.get(pk=job.pk).progress)

        return original(rows=rows, actor=actor, progress=spy, **options)

    monkeypatch.setattr(importing, "products_import", watching)
    assert importing.product_import_run(tenant=tenant_a, job_id=job.pk).progress == 100
    assert seen[1] == 2 and seen[49] == 50 and seen[-1] == 98 and seen == sorted(seen)


def test_the_task_is_named_for_its_app(django_capture_on_commit_callbacks, cast_a, tenant_a, as_tenant):
    from unittest import mock

    from kassa.celery import app

    assert product_import_task.name == "inventory.product_import_task"
    assert "inventory.product_import_task" in app.tasks
    assert "inventory.tasks.product_import_task" not in app.tasks
    with (
        mock.patch.object(product_import_task, "delay") as delay,
        as_tenant(tenant_a),
        django_capture_on_commit_callbacks(execute=True),
    ):
        job = importing.product_import_create(actor=cast_a["owner"], data=GOOD_AND_BAD)
        assert not delay.called  # enqueued only once the job is committed
    delay.assert_called_once_with(str(tenant_a.pk), str(job.pk))
