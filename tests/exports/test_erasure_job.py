"""Customer erasure is a job: a request records it, the privileged worker runs it as the maintenance role.

The web never holds the credentials that rewrite the audit log; what each side wrote is on
record in the change log (`database_user`), written by PostgreSQL's own trigger.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, connections, transaction

from auditlog.models import ChangeEvent
from exports.customers import LOCK_NAMESPACE, ErasureBusy, customer_erasure_run
from exports.models import CustomerErasure, CustomerRequest
from inventory.models import Customer
from tenants.context import tenant_context
from tests.conftest import HttpsApiClient, mfa_token_for, role_connection, transactional
from tests.exports.conftest import CUSTOMER

pytestmark = transactional
ROOT = Path(__file__).resolve().parents[2]
REASON = {"reason": "data-subject request 2026-119"}


def eraser(user) -> HttpsApiClient:
    """The owner signed in with a second factor: erasing needs it (and erase_customers, a reason)."""
    return HttpsApiClient(mfa_token_for(user))


def follow(client, location: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(location).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def test_the_privileged_worker_erases_and_the_request_opens_no_maintenance_connection(
    shop_a, cast_a, tenant_a, api, worker_storage, privileged_worker
):
    customer_id = shop_a["customer"]["id"]
    client = eraser(cast_a["owner"])
    connections["maintenance"].close()

    answer = client.post(f"/api/v1/customers/{customer_id}/erase/", REASON)

    assert answer.status_code == 202, answer.content
    job_id = answer.json()["id"]
    assert answer.json() == {"id": job_id, "status": "queued"}
    assert answer["Location"] == f"/api/v1/customer-erasures/{job_id}/"
    assert connections["maintenance"].connection is None  # the request never opened one
    job = follow(client, answer["Location"])
    assert job["status"] == "done" and job["progress"] == 100, job
    assert job["customer"] == customer_id and job["erased_at"]
    with tenant_context(tenant_a):
        customer = Customer.objects.get(pk=customer_id)
        assert customer.erased_at and customer.name is None and customer.email is None
        # Who wrote what, as PostgreSQL saw it: the job row by the web's role, the erasure by the worker's.
        recorded = ChangeEvent.objects.get(model="exports.customererasure", operation="insert")
        anonymised = ChangeEvent.objects.filter(
            model="inventory.customer", object_id=customer_id, operation="update"
        ).latest("id")
        assert CustomerRequest.objects.filter(kind="erase", customer_id=customer_id).count() == 1
    assert recorded.database_user == settings.KASSA_DB_ROLES["app"]
    assert anonymised.database_user == settings.KASSA_DB_ROLES["maintenance"]


def test_asking_again_answers_the_same_erasure_and_one_customer_has_one_active_erasure(
    shop_a, cast_a, tenant_a, api
):
    customer_id = shop_a["customer"]["id"]
    client = eraser(cast_a["owner"])
    first = client.post(f"/api/v1/customers/{customer_id}/erase/", REASON)
    extra = {**REASON, "note": "a\u0000b", "padding": "x" * 10_000}  # fields it does not read
    second = client.post(f"/api/v1/customers/{customer_id}/erase/", extra)
    assert first.status_code == second.status_code == 202
    assert second.json() == first.json()
    too_long = client.post(f"/api/v1/customers/{customer_id}/erase/", {"reason": "x" * 10_000})
    assert too_long.status_code == 400 and "reason" in too_long.json()["fields"]
    with tenant_context(tenant_a):
        assert CustomerErasure.objects.count() == 1
        with pytest.raises(IntegrityError), transaction.atomic():  # the database holds it too
            CustomerErasure.objects.create(customer_id=customer_id, requested_by=cast_a["owner"], reason="r")

    assert customer_erasure_run(tenant=tenant_a, erasure_id=first.json()["id"]).status == "done"
    assert (
        customer_erasure_run(tenant=tenant_a, erasure_id=first.json()["id"]).attempts == 1
    )  # done: left alone
    again = client.post(f"/api/v1/customers/{customer_id}/erase/", REASON)
    assert again.status_code == 202 and again.json() == {"id": first.json()["id"], "status": "done"}
    with tenant_context(tenant_a):
        assert CustomerErasure.objects.count() == 1
        assert CustomerRequest.objects.filter(kind="erase").count() == 1


def test_an_erasure_of_the_same_customer_under_way_elsewhere_makes_this_one_wait(
    shop_a, cast_a, tenant_a, api
):
    customer_id = shop_a["customer"]["id"]
    job = eraser(cast_a["owner"]).post(f"/api/v1/customers/{customer_id}/erase/", REASON).json()
    with role_connection("maintenance") as holder:  # another worker's erasure holds the customer
        holder.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, customer_id])
        with pytest.raises(ErasureBusy):
            customer_erasure_run(tenant=tenant_a, erasure_id=job["id"])
    with tenant_context(tenant_a):
        assert CustomerErasure.objects.get(pk=job["id"]).status == "queued"  # to be run again
        assert Customer.objects.get(pk=customer_id).email == CUSTOMER["email"]  # nothing erased
    assert customer_erasure_run(tenant=tenant_a, erasure_id=job["id"]).status == "done"


def test_an_erasure_is_refused_to_others_and_another_tenants_erasure_is_not_found(
    shop_a, cast_a, cast_b, tenant_a, api
):
    customer_id = shop_a["customer"]["id"]
    job = eraser(cast_a["owner"]).post(f"/api/v1/customers/{customer_id}/erase/", REASON).json()
    location = f"/api/v1/customer-erasures/{job['id']}/"
    assert api(cast_a["owner"]).get(location).status_code == 200
    assert api(cast_a["auditor"]).get(location).status_code == 403  # no erase_customers
    assert api(cast_a["auditor"]).post(f"/api/v1/customers/{customer_id}/erase/", REASON).status_code == 403
    without_second_factor = api(cast_a["owner"]).post(f"/api/v1/customers/{customer_id}/erase/", REASON)
    assert without_second_factor.status_code == 403
    answer = api(cast_b["owner"]).get(location)
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert eraser(cast_b["owner"]).post(f"/api/v1/customers/{customer_id}/erase/", REASON).status_code == 404
    assert api(cast_a["owner"]).get("/api/v1/customer-erasures/not-a-uuid/").status_code == 404
    assert api(cast_a["owner"]).get(f"/api/v1/customer-erasures/{customer_id}/").status_code == 404
    with tenant_context(tenant_a):
        assert CustomerErasure.objects.count() == 1
        assert Customer.objects.get(pk=customer_id).erased_at is None


def test_a_web_process_cannot_run_an_erasure_at_all():
    code = (
        "import django; django.setup()\n"
        "from exports.customers import customer_erasure_run\n"
        "try:\n    customer_erasure_run(tenant=None, erasure_id=None)\n"
        "except Exception as error:\n    print(type(error).__name__, error)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("KASSA_PROCESS", "KASSA_DB_ACT_AS_APP")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "KASSA_PROCESS": "web", "DJANGO_SETTINGS_MODULE": "kassa.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.startswith("MaintenanceUnavailable privileged work needs the maintenance role"), (
        result.stdout + result.stderr
    )
