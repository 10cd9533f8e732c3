"""A customer's data: exported on request, erased everywhere on request, sales figures kept."""

from decimal import Decimal

from django.db import connections

from exports.models import CustomerRequest
from inventory.models import Customer, Sale
from tenants.context import tenant_context
from tenants.models import Tenant
from tests.conftest import HttpsApiClient, mfa_token_for, transactional
from tests.exports.conftest import CUSTOMER, run_export

pytestmark = transactional

REASON = {"reason": "data-subject request 2026-117"}
SCAN_TYPES = ("text", "character varying", "json", "jsonb", "bytea", "character")


def erase(tenant, answer) -> None:
    """What the privileged worker does with the job the request recorded (tests/exports/test_erasure_job.py
    runs it in a real one)."""
    from exports.customers import customer_erasure_run

    assert customer_erasure_run(tenant=tenant, erasure_id=answer.json()["id"]).status == "done"


def traces(values: list[str]) -> list[str]:
    """Every (table.column) of the schema holding one of the values, as the owner, under each tenant."""
    found = []
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'public'::regnamespace "
            "AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
        )
        columns = [(t, c, k) for t, c, k in cursor.fetchall() if k.split("(")[0] in SCAN_TYPES]
    tenants = [None, *Tenant.objects.all()]
    for tenant in tenants:
        with tenant_context(tenant), connections["owner"].cursor() as cursor:
            for table, column, kind in columns:
                for value in values:
                    if kind == "bytea":
                        condition = f"position(convert_to(%s, 'UTF8') in \"{column}\") > 0"
                        cursor.execute(f'SELECT count(*) FROM "{table}" WHERE {condition}', [value])
                    else:
                        cursor.execute(
                            f'SELECT count(*) FROM "{table}" WHERE lower("{column}"::text) LIKE %s',
                            [f"%{value.lower()}%"],
                        )
                    if cursor.fetchone()[0]:
                        found.append(f"{table}.{column} ({tenant})")
    return found


def test_a_customer_export_holds_everything_about_them(shop_a, cast_a, tenant_a, api):
    customer_id = shop_a["customer"]["id"]
    answer = api(cast_a["owner"]).get(f"/api/v1/customers/{customer_id}/export/")
    assert answer.status_code == 200
    data = answer.json()
    assert data["customer"]["email"] == CUSTOMER["email"] and data["customer"]["name"] == CUSTOMER["name"]
    assert len(data["sales"]) == 2 and data["sales"][0]["lines"][0]["sku"] == "SKU-1"
    assert data["changes"][0]["operation"] == "insert"
    with tenant_context(tenant_a):
        assert CustomerRequest.objects.filter(kind="export", customer_id=customer_id).count() == 1


def test_customer_endpoints_refuse_others(shop_a, cast_a, tenant_b, api):
    from accounts.models import User

    customer_id = shop_a["customer"]["id"]
    auditor = api(cast_a["auditor"])  # no manage_customers
    assert auditor.get(f"/api/v1/customers/{customer_id}/export/").status_code == 403
    assert auditor.post(f"/api/v1/customers/{customer_id}/erase/", REASON).status_code == 403
    with tenant_context(tenant_b):
        bob = api(User.objects.get(username="bob"))
    assert bob.get(f"/api/v1/customers/{customer_id}/export/").status_code == 404
    answer = bob.post(f"/api/v1/customers/{customer_id}/erase/", REASON)
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert api(cast_a["owner"]).post("/api/v1/customers/not-a-uuid/erase/").status_code == 404


def test_erasure_leaves_no_trace_and_keeps_sales_figures(shop_a, cast_a, tenant_a, api, file_storage):
    customer_id = shop_a["customer"]["id"]
    client = api(cast_a["owner"])
    with tenant_context(tenant_a):
        totals = sorted(Sale.objects.values_list("total", flat=True))
    export = run_export(tenant_a, cast_a["owner"])  # holds the customer: must go with the erasure
    values = [CUSTOMER["name"], CUSTOMER["email"], CUSTOMER["phone"]]
    assert traces(["Product 1"]), "the scan finds a value stored in plain text"
    # Contact data is encrypted where it is kept and masked in every log: no plaintext copy.
    assert traces(values) == [], "no plaintext copy of the customer, even before the erasure"

    client = HttpsApiClient(mfa_token_for(cast_a["owner"]))
    answer = client.post(f"/api/v1/customers/{customer_id}/erase/", REASON)
    assert answer.status_code == 202, answer.content
    with tenant_context(tenant_a):  # the request only records the job: the privileged worker erases
        assert Customer.objects.get(pk=customer_id).erased_at is None
    erase(tenant_a, answer)
    job = client.get(answer["Location"]).json()
    assert job["status"] == "done" and job["progress"] == 100
    assert traces(values) == []
    with tenant_context(tenant_a):
        customer = Customer.objects.get(pk=customer_id)
        assert customer.erased_at and customer.name is None and customer.email_hash == ""
        assert sorted(Sale.objects.values_list("total", flat=True)) == totals
        assert Sale.objects.filter(customer_id=customer_id).count() == 2
        assert sum(totals, Decimal(0)) == Decimal("29.97")
        assert CustomerRequest.objects.filter(kind="erase", customer_id=customer_id).count() == 1
    assert not (file_storage / export.object_key).exists()

    again = client.post(f"/api/v1/customers/{customer_id}/erase/", REASON)
    assert again.status_code == 202 and again.json() == {"id": job["id"], "status": "done"}
    with tenant_context(tenant_a):
        assert CustomerRequest.objects.filter(kind="erase", customer_id=customer_id).count() == 1


def test_a_sealed_trail_still_verifies_after_an_erasure_and_still_catches_tampering(
    shop_a, cast_a, tenant_a, api, file_storage, capsys
):
    import pytest
    from django.core.management import call_command
    from django.db import transaction

    from auditlog.models import AccessEvent

    def verify() -> tuple[int, str]:
        with pytest.raises(SystemExit) as exited:
            call_command("verify_audit", tenant_a.slug)
            raise SystemExit(0)
        captured = capsys.readouterr()
        return exited.value.code, captured.out + captured.err

    call_command("seal_audit", tenant_a.slug)
    owner = HttpsApiClient(mfa_token_for(cast_a["owner"]))
    answer = owner.post(f"/api/v1/customers/{shop_a['customer']['id']}/erase/", REASON)
    assert answer.status_code == 202
    erase(tenant_a, answer)
    code, output = verify()
    assert code == 0, output
    redacted = int(output.split("(")[1].split(" redacted")[0])
    assert redacted >= 1  # the sealed entries that held the customer were rewritten, and that is logged
    with tenant_context(tenant_a):
        entry = AccessEvent.objects.order_by("id").first()
    with tenant_context(tenant_a), transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute("ALTER TABLE auditlog_access DISABLE TRIGGER auditlog_append_only")
        cursor.execute("UPDATE auditlog_access SET status = 204 WHERE id = %s", [entry.pk])
        cursor.execute("ALTER TABLE auditlog_access ENABLE TRIGGER auditlog_append_only")
    code, output = verify()
    assert code == 1 and f"altered: access entry {entry.pk}" in output
