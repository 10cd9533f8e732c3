"""Bulk upserts: 1,000 products by sku (and external_id) and stock counts, per-row results, valid rows
applied together, invalid rows changing nothing, a fixed number of statements whatever the size."""

import uuid

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from inventory.models import Category, Product, StockLevel, StockMovement
from tenants.context import tenant_context
from tests.inventory.conftest import ledger_sum, product_make, stock_put


def row(n: int, **extra) -> dict:
    return {"sku": f"B-{n:04}", "name": f"Bulk {n}", "price": "2.50", "tax_rate": "14.00", **extra}


BAD_ROWS = {
    3: {"sku": "B-0003", "name": "No price", "tax_rate": "14.00"},
    17: {"sku": "B-0017", "name": "Bad price", "price": "abc", "tax_rate": "14.00"},
    42: row(42, price="-1.00"),
    99: row(99, tax_rate="120"),
    150: row(150, colour="red"),
    200: {"name": "No sku", "price": "1.00", "tax_rate": "0"},
    333: row(333, category=str(uuid.uuid4())),
    500: row(500, name="x" * 201),
    777: "not an object",
    998: row(998, sku="B-0997"),  # the same sku as row 997: both refused
}


def test_a_thousand_rows_with_ten_invalid_apply_990_and_answer_ten_errors(api, cast_a, tenant_a):
    rows = [BAD_ROWS.get(n, row(n)) for n in range(1000)]
    answer = api(cast_a["owner"]).post("/api/v1/products/bulk/", {"products": rows})
    assert answer.status_code == 200, answer.content[:500]
    results = answer.json()["results"]
    assert len(results) == 1000
    invalid = {n for n, result in enumerate(results) if result["status"] == "invalid"}
    assert invalid == set(BAD_ROWS) | {997}
    assert {results[n]["status"] for n in range(1000) if n not in invalid} == {"created"}
    expected_fields = {3: "price", 17: "price", 42: "price", 99: "tax_rate", 150: "colour", 200: "sku"}
    expected_fields |= {333: "category", 500: "name", 777: "non_field_errors", 998: "sku", 997: "sku"}
    for n, field in expected_fields.items():
        assert field in results[n]["fields"], (n, results[n])
    assert results[0] == {"sku": "B-0000", "status": "created", "id": results[0]["id"]}
    with tenant_context(tenant_a):
        assert Product.objects.count() == 1000 - len(invalid) == 989
        assert not Product.objects.filter(sku__in=["B-0003", "B-0042", "B-0997", "B-0998"]).exists()


def test_ten_invalid_of_a_thousand_leaves_990_applied(api, cast_a, tenant_a):
    """The figure of the issue exactly: 1,000 rows, 10 invalid, 990 applied, 10 per-row errors."""
    rows = [row(n) for n in range(1000)]
    for n in range(0, 1000, 100):
        rows[n] = row(n, price="-0.01")
    results = api(cast_a["owner"]).post("/api/v1/products/bulk/", {"products": rows}).json()["results"]
    assert sum(r["status"] == "created" for r in results) == 990
    assert [n for n, r in enumerate(results) if r["status"] == "invalid"] == list(range(0, 1000, 100))
    with tenant_context(tenant_a):
        assert Product.objects.count() == 990


def test_a_second_run_updates_what_changed_and_leaves_the_rest(api, cast_a, tenant_a):
    client = api(cast_a["owner"])
    rows = [row(n) for n in range(5)]
    client.post("/api/v1/products/bulk/", {"products": rows})
    with tenant_context(tenant_a):
        before = dict(Product.objects.values_list("sku", "updated_at"))
    rows[1]["price"] = "3.00"
    rows[4] = {"sku": "B-0004", "active": False}  # a partial row: only what it names changes
    results = client.post("/api/v1/products/bulk/", {"products": rows}).json()["results"]
    assert [r["status"] for r in results] == ["unchanged", "updated", "unchanged", "unchanged", "updated"]
    with tenant_context(tenant_a):
        after = {p.sku: p for p in Product.objects.all()}
    assert str(after["B-0001"].price) == "3.00" and after["B-0004"].active is False
    assert after["B-0004"].name == "Bulk 4"
    assert after["B-0000"].updated_at == before["B-0000"] and after["B-0001"].updated_at > before["B-0001"]


def test_external_id_matches_first_so_an_erp_can_rename_a_sku(api, cast_a, tenant_a):
    client = api(cast_a["owner"])
    first = client.post("/api/v1/products/bulk/", {"products": [row(1, external_id="ERP-1")]}).json()
    results = client.post(
        "/api/v1/products/bulk/", {"products": [row(9, external_id="ERP-1"), row(1, external_id="ERP-2")]}
    ).json()["results"]
    assert results[0] == {"sku": "B-0009", "status": "updated", "id": first["results"][0]["id"]}
    assert results[1]["status"] == "created"  # B-0001 is free again
    with tenant_context(tenant_a):
        assert dict(Product.objects.values_list("external_id", "sku")) == {
            "ERP-1": "B-0009",
            "ERP-2": "B-0001",
        }
    clash = client.post("/api/v1/products/bulk/", {"products": [row(1, external_id="ERP-1")]}).json()
    assert clash["results"][0]["status"] == "invalid" and "sku" in clash["results"][0]["fields"]


def test_only_invalid_rows_change_nothing(api, cast_a, tenant_a, coffee):
    with tenant_context(tenant_a):
        before = list(Product.objects.values_list("id", "sku", "name", "price", "updated_at"))
    answer = api(cast_a["owner"]).post(
        "/api/v1/products/bulk/", {"products": [{"sku": "COF-1", "price": "-5"}, {"sku": "\x00"}]}
    )
    assert answer.status_code == 200
    assert [r["status"] for r in answer.json()["results"]] == ["invalid", "invalid"]
    with tenant_context(tenant_a):
        assert list(Product.objects.values_list("id", "sku", "name", "price", "updated_at")) == before


def test_another_tenants_category_is_no_category(api, cast_a, tenant_b, tenant_a):
    with tenant_context(tenant_b):
        bobs = Category.objects.create(name="Bob's shelf")
    results = (
        api(cast_a["owner"])
        .post("/api/v1/products/bulk/", {"products": [row(1, category=str(bobs.pk))]})
        .json()["results"]
    )
    assert results[0]["status"] == "invalid" and results[0]["fields"] == {"category": ["No such category."]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"products": [row(n) for n in range(1001)]}, "products"),
        ({"products": []}, "products"),
        ({"products": "B-1"}, "products"),
        ({"products": [row(1)], "mode": "replace"}, "mode"),
        ({}, "products"),
    ],
)
def test_a_bad_envelope_is_a_400_and_changes_nothing(api, cast_a, tenant_a, body, field):
    answer = api(cast_a["owner"]).post("/api/v1/products/bulk/", body)
    assert answer.status_code == 400 and field in answer.json()["fields"], answer.content[:300]
    with tenant_context(tenant_a):
        assert not Product.objects.exists()


def test_bulk_needs_manage_products_and_honours_the_idempotency_key(api, cast_a, tenant_a):
    body = {"products": [row(1)]}
    assert api(cast_a["cashier"]).post("/api/v1/products/bulk/", body).status_code == 403
    assert api(cast_a["cashier"]).post("/api/v1/stock-counts/bulk/", {"counts": []}).status_code == 403
    client = api(cast_a["integrator"])
    first = client.post("/api/v1/products/bulk/", body, HTTP_IDEMPOTENCY_KEY="bulk-1")
    again = client.post("/api/v1/products/bulk/", body, HTTP_IDEMPOTENCY_KEY="bulk-1")
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    assert (
        client.post(
            "/api/v1/products/bulk/", {"products": [row(2)]}, HTTP_IDEMPOTENCY_KEY="bulk-1"
        ).status_code
        == 422
    )
    with tenant_context(tenant_a):
        assert Product.objects.count() == 1


def test_statements_do_not_grow_with_the_rows(api, cast_a, tenant_a):
    client = api(cast_a["owner"])
    client.get("/api/v1/me/")
    counts = []
    for size, offset in ((10, 0), (200, 1000)):
        rows = [row(offset + n) for n in range(size)]
        with CaptureQueriesContext(connections["default"]) as captured:
            assert client.post("/api/v1/products/bulk/", {"products": rows}).status_code == 200
        creating = len(captured.captured_queries)
        rows = [{**r, "price": "9.99"} for r in rows]
        with CaptureQueriesContext(connections["default"]) as captured:
            assert client.post("/api/v1/products/bulk/", {"products": rows}).status_code == 200
        counts.append((creating, len(captured.captured_queries)))
    assert counts[0] == counts[1], counts


def test_stock_counts_set_the_stock_with_one_count_movement_each(
    api, cast_a, tenant_a, stores_a, coffee, tea
):
    main, harbour = stores_a
    client = api(cast_a["owner"])
    answer = client.post(
        "/api/v1/stock-counts/bulk/",
        {
            "reason": "monthly count",
            "counts": [
                {"store": str(main.pk), "product": str(coffee.pk), "counted": 7},
                {"store": str(main.pk), "sku": "TEA-1", "counted": 5},  # already 5
                {"store": str(harbour.pk), "sku": "TEA-1", "counted": 3},  # no row yet
                {"store": str(main.pk), "sku": "NOPE", "counted": 1},
                {"store": str(uuid.uuid4()), "sku": "TEA-1", "counted": 1},
                {"store": str(main.pk), "sku": "COF-1", "counted": -1},
            ],
        },
    )
    assert answer.status_code == 200, answer.content
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [
        "updated",
        "unchanged",
        "updated",
        "invalid",
        "invalid",
        "invalid",
    ]
    assert results[0]["quantity"] == 7 and results[2]["quantity"] == 3 and results[2]["sku"] == "TEA-1"
    assert (
        "sku" in results[3]["fields"]
        and "store" in results[4]["fields"]
        and "counted" in results[5]["fields"]
    )
    with tenant_context(tenant_a):
        counts = StockMovement.objects.filter(kind="count")
        assert sorted((m.quantity, m.balance_after, m.reason) for m in counts) == [
            (-3, 7, "monthly count"),
            (3, 3, "monthly count"),
        ]
        assert StockLevel.objects.get(store=harbour, product=tea).quantity == 3
    assert ledger_sum(tenant_a, main, coffee) == 7 and ledger_sum(tenant_a, harbour, tea) == 3


def test_a_store_manager_counts_only_in_their_store(api, cast_a, tenant_a, stores_a, coffee):
    main, harbour = stores_a
    stock_put(tenant_a, harbour, coffee, 4)
    results = (
        api(cast_a["store_manager"])
        .post(
            "/api/v1/stock-counts/bulk/",
            {
                "counts": [
                    {"store": str(main.pk), "product": str(coffee.pk), "counted": 1},
                    {"store": str(harbour.pk), "product": str(coffee.pk), "counted": 0},
                ]
            },
        )
        .json()["results"]
    )
    assert [r["status"] for r in results] == ["updated", "invalid"]
    with tenant_context(tenant_a):
        assert StockLevel.objects.get(store=harbour, product=coffee).quantity == 4


def test_bulk_changes_reach_webhooks_once_per_row_applied(api, cast_a, tenant_a, stores_a):
    from integrations.models import Delivery, Event

    client = api(cast_a["owner"])
    client.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/", "events": ["product.changed"]})
    product_make(tenant_a, "B-0001")
    with tenant_context(tenant_a):
        Event.objects.all().delete()
    rows = [row(1), row(2), row(3, price="-1")]
    client.post("/api/v1/products/bulk/", {"products": rows})
    with tenant_context(tenant_a):
        skus = sorted(event.payload["sku"] for event in Event.objects.all())
        assert skus == ["B-0001", "B-0002"] and Delivery.objects.count() == 2


def test_another_tenants_store_or_product_is_no_such_thing_in_a_count(
    api, cast_a, tenant_a, stores_a, coffee, stores_b, bobs_product, tenant_b
):
    results = (
        api(cast_a["owner"])
        .post(
            "/api/v1/stock-counts/bulk/",
            {
                "counts": [
                    {"store": str(stores_b[0].pk), "product": str(coffee.pk), "counted": 1},
                    {"store": str(stores_a[0].pk), "product": str(bobs_product.pk), "counted": 1},
                    {"store": str(stores_a[0].pk), "sku": "BOB-1", "counted": 1},
                ]
            },
        )
        .json()["results"]
    )
    assert [r["status"] for r in results] == ["invalid", "invalid", "invalid"]
    assert results[0]["fields"] == {"store": ["No such store."]}
    assert results[1]["fields"] == {"product": ["No such product."]}
    with tenant_context(tenant_b):
        assert StockLevel.objects.get(product=bobs_product).quantity == 3
        assert not StockMovement.objects.filter(kind="count").exists()
