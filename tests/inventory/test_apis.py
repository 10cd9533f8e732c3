"""Every inventory endpoint: another tenant's object is 404, a lacking permission 403, bad input 400
in the documented shape, and a refused request changes nothing."""

import uuid

import pytest

from inventory.models import Customer, Product, Sale, StockLevel, StockMovement, Supplier
from inventory.services.catalogue import supplier_create
from inventory.services.customers import customer_create
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
from tenants.models import Store
from tests.inventory.conftest import stock_of, stock_put


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    return body


@pytest.fixture
def bobs_things(tenant_b, stores_b, bobs_product, as_tenant):
    """One object of every kind in Bob's chain, to be probed from Alice's."""
    with as_tenant(tenant_b):
        customer = customer_create(actor=None, name="Bob's customer")
        supplier = supplier_create(actor=None, name="Bob's supplier")
        sale = sale_create(
            store=stores_b[0],
            lines=[SaleLineInput(product=bobs_product, quantity=1)],
            payments=[PaymentInput(method="card", amount=bobs_product.price)],
            actor=None,
        )
        stock = StockLevel.objects.get(product=bobs_product)
    return {
        "stores": stores_b[0].pk,
        "products": bobs_product.pk,
        "customers": customer.pk,
        "suppliers": supplier.pk,
        "stock": stock.pk,
        "sales": sale.pk,
    }


@pytest.mark.parametrize("resource", ["stores", "products", "customers", "suppliers", "stock", "sales"])
def test_another_tenants_object_is_not_found(api, cast_a, bobs_things, resource):
    client = api(cast_a["owner"])
    object_id = bobs_things[resource]
    assert_error(client.get(f"/api/v1/{resource}/{object_id}/"), 404, "not_found")
    if resource != "sales":
        assert_error(client.patch(f"/api/v1/{resource}/{object_id}/", {"name": "x"}), 404, "not_found")
    # A missing id answers the same.
    assert_error(client.get(f"/api/v1/{resource}/{uuid.uuid4()}/"), 404, "not_found")


def test_another_tenants_lists_stay_invisible(api, cast_a, bobs_things):
    client = api(cast_a["owner"])
    for path in ("stores", "products", "customers", "suppliers", "stock", "stock-movements", "sales"):
        response = client.get(f"/api/v1/{path}/")
        assert response.status_code == 200
        ids = {item["id"] for item in response.json()["results"]}
        assert not ids & {str(v) for v in bobs_things.values()}, path


def test_another_tenants_sale_cannot_be_refunded(api, cast_a, bobs_things, tenant_b, as_tenant):
    assert_error(
        api(cast_a["owner"]).post(f"/api/v1/sales/{bobs_things['sales']}/refund/", {}), 404, "not_found"
    )
    with as_tenant(tenant_b):
        assert Sale.objects.get().status == "completed"


def test_another_tenants_store_or_product_in_a_body_is_invalid(
    api, cast_a, stores_a, coffee, bobs_things, tenant_b
):
    client = api(cast_a["owner"])
    body = {"store": str(bobs_things["stores"]), "product": str(coffee.pk), "kind": "receive", "quantity": 1}
    assert "store" in assert_error(client.post("/api/v1/stock-movements/", body), 400, "invalid")["fields"]
    sale = {
        "store": str(stores_a[0].pk),
        "lines": [{"product": str(bobs_things["products"]), "quantity": 1}],
        "payments": [{"method": "cash", "amount": "1.00"}],
    }
    assert "lines" in assert_error(client.post("/api/v1/sales/", sale), 400, "invalid")["fields"]
    assert stock_of(tenant_b, bobs_things["stores"], bobs_things["products"]) == 2


@pytest.mark.parametrize(
    ("role", "method", "path", "body"),
    [
        ("cashier", "post", "/api/v1/stores/", {"name": "Pop-up"}),
        ("store_manager", "post", "/api/v1/stores/", {"name": "Pop-up"}),
        ("cashier", "post", "/api/v1/products/", {"sku": "NEW", "name": "New", "price": "1.00"}),
        ("auditor", "post", "/api/v1/products/", {"sku": "NEW", "name": "New", "price": "1.00"}),
        ("auditor", "post", "/api/v1/suppliers/", {"name": "New"}),
        ("auditor", "post", "/api/v1/customers/", {"name": "New"}),
        ("auditor", "get", "/api/v1/customers/", None),
        ("cashier", "get", "/api/v1/sales/", None),
        ("cashier", "get", "/api/v1/stock-movements/", None),
        ("integrator", "post", "/api/v1/sales/", "sale"),
        ("cashier", "post", "/api/v1/stock-movements/", "receive"),
        ("cashier", "get", "/api/v1/refunds/", None),
        (
            "cashier",
            "post",
            "/api/v1/products/bulk/",
            {"products": [{"sku": "NEW", "name": "N", "price": "1"}]},
        ),
        (
            "auditor",
            "post",
            "/api/v1/products/bulk/",
            {"products": [{"sku": "NEW", "name": "N", "price": "1"}]},
        ),
        ("cashier", "post", "/api/v1/stock-counts/bulk/", "count"),
        ("auditor", "post", "/api/v1/stock-counts/bulk/", "count"),
        ("store_manager", "get", "/api/v1/webhooks/", None),
        (
            "cashier",
            "post",
            "/api/v1/webhooks/",
            {"url": "https://hooks.example.com/", "events": ["sale.created"]},
        ),
    ],
)
def test_a_lacking_permission_is_forbidden_and_changes_nothing(
    api, cast_a, stores_a, coffee, tenant_a, as_tenant, role, method, path, body
):
    if body == "sale":
        body = {
            "store": str(stores_a[0].pk),
            "lines": [{"product": str(coffee.pk), "quantity": 1}],
            "payments": [{"method": "cash", "amount": "4.50"}],
        }
    elif body == "receive":
        body = {"store": str(stores_a[0].pk), "product": str(coffee.pk), "kind": "receive", "quantity": 1}
    elif body == "count":
        body = {"counts": [{"store": str(stores_a[0].pk), "product": str(coffee.pk), "counted": 0}]}
    with as_tenant(tenant_a):
        before = (
            Store.objects.count(),
            Product.objects.count(),
            Supplier.objects.count(),
            Customer.objects.count(),
        )
    assert_error(getattr(api(cast_a[role]), method)(path, body), 403, "permission_denied")
    with as_tenant(tenant_a):
        after = (
            Store.objects.count(),
            Product.objects.count(),
            Supplier.objects.count(),
            Customer.objects.count(),
        )
        assert not Sale.objects.exists()
        assert StockMovement.objects.count() == 1  # the fixture's receipt
    assert before == after


def test_product_patch_needs_manage_products(api, cast_a, coffee, tenant_a, as_tenant):
    assert_error(
        api(cast_a["cashier"]).patch(f"/api/v1/products/{coffee.pk}/", {"price": "0.01"}),
        403,
        "permission_denied",
    )
    with as_tenant(tenant_a):
        assert str(Product.objects.get(pk=coffee.pk).price) == "4.50"


def test_store_scoped_staff_cannot_act_in_other_stores(api, cast_a, stores_a, coffee, tenant_a, as_tenant):
    stock_put(tenant_a, stores_a[1], coffee, 4)
    sale = {
        "store": str(stores_a[1].pk),
        "lines": [{"product": str(coffee.pk), "quantity": 1}],
        "payments": [{"method": "cash", "amount": "4.50"}],
    }
    assert_error(api(cast_a["cashier"]).post("/api/v1/sales/", sale), 403, "permission_denied")
    manager = api(cast_a["store_manager"])
    receive = {"store": str(stores_a[1].pk), "product": str(coffee.pk), "kind": "receive", "quantity": 3}
    assert_error(manager.post("/api/v1/stock-movements/", receive), 403, "permission_denied")
    transfer = {**receive, "kind": "transfer", "to_store": str(stores_a[0].pk)}
    assert_error(manager.post("/api/v1/stock-movements/", transfer), 403, "permission_denied")
    assert stock_of(tenant_a, stores_a[1], coffee) == 4
    # Their lists show their store only.
    stock = manager.get("/api/v1/stock/").json()["results"]
    assert {item["store"] for item in stock} == {str(stores_a[0].pk)}
    stores = manager.get("/api/v1/stores/").json()["results"]
    assert [s["id"] for s in stores] == [str(stores_a[0].pk)]
    assert_error(manager.get(f"/api/v1/stores/{stores_a[1].pk}/"), 404, "not_found")
    # A sale in the other store, by the owner: the manager cannot refund it.
    with as_tenant(tenant_a):
        other_sale = sale_create(
            store=stores_a[1],
            lines=[SaleLineInput(product=coffee, quantity=1)],
            payments=[PaymentInput(method="card", amount=coffee.price)],
            actor=cast_a["owner"],
        )
    assert_error(manager.post(f"/api/v1/sales/{other_sale.pk}/refund/", {}), 403, "permission_denied")
    assert_error(manager.get(f"/api/v1/sales/{other_sale.pk}/"), 404, "not_found")
    assert other_sale.pk not in {s["id"] for s in manager.get("/api/v1/sales/").json()["results"]}
    with as_tenant(tenant_a):
        assert Sale.objects.get(pk=other_sale.pk).status == "completed"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/products/", {"sku": "SM-2", "name": "Tea", "price": "abc"}, "price"),
        ("/api/v1/products/", {"sku": "SM-2", "name": "Tea", "price": "-1.00", "tax_rate": "14"}, "price"),
        ("/api/v1/products/", {"sku": "SM-2", "name": "Tea", "price": "1.00", "tax_rate": "120"}, "tax_rate"),
        ("/api/v1/products/", {"sku": "COF-1", "name": "Again", "price": "1.00", "tax_rate": "14"}, "sku"),
        ("/api/v1/products/", {"sku": "SM-3", "name": "No tax", "price": "1.00"}, "tax_rate"),
        (
            "/api/v1/products/",
            {"sku": "SM-3", "name": "T", "price": "1", "tax_rate": "1", "colour": "red"},
            "colour",
        ),
        ("/api/v1/stores/", {"name": ""}, "name"),
        ("/api/v1/suppliers/", {"name": "x" * 300}, "name"),
        ("/api/v1/customers/", {"email": "not an address"}, "email"),
        ("/api/v1/stock-movements/", {"kind": "receive", "quantity": 1}, "store"),
        ("/api/v1/stock-movements/", "receive0", "quantity"),
        ("/api/v1/stock-movements/", "adjust-no-reason", "reason"),
        ("/api/v1/stock-movements/", "transfer-no-target", "to_store"),
        ("/api/v1/sales/", "no-lines", "lines"),
        ("/api/v1/sales/", "underpaid", "payments"),
    ],
)
def test_bad_input_is_400_in_the_documented_shape_and_changes_nothing(
    api, cast_a, stores_a, coffee, tenant_a, as_tenant, path, body, field
):
    base = {"store": str(stores_a[0].pk), "product": str(coffee.pk)}
    bodies = {
        "receive0": {**base, "kind": "receive", "quantity": 0},
        "adjust-no-reason": {**base, "kind": "adjust", "quantity": -1},
        "transfer-no-target": {**base, "kind": "transfer", "quantity": 1},
        "no-lines": {"store": base["store"], "lines": [], "payments": []},
        "underpaid": {
            "store": base["store"],
            "lines": [{"product": base["product"], "quantity": 2}],
            "payments": [{"method": "cash", "amount": "1.00"}],
        },
    }
    body = bodies.get(body, body) if isinstance(body, str) else body
    with as_tenant(tenant_a):
        before = (
            Store.objects.count(),
            Product.objects.count(),
            Supplier.objects.count(),
            Customer.objects.count(),
        )
    answer = assert_error(api(cast_a["owner"]).post(path, body), 400, "invalid")
    assert field in answer["fields"], answer
    with as_tenant(tenant_a):
        after = (
            Store.objects.count(),
            Product.objects.count(),
            Supplier.objects.count(),
            Customer.objects.count(),
        )
        assert StockMovement.objects.count() == 1
        assert not Sale.objects.exists()
    assert before == after
    assert stock_of(tenant_a, stores_a[0], coffee) == 10


def test_overselling_is_409_insufficient_stock(api, cast_a, stores_a, coffee, tenant_a):
    sale = {
        "store": str(stores_a[0].pk),
        "lines": [{"product": str(coffee.pk), "quantity": 99}],
        "payments": [{"method": "cash", "amount": "445.50"}],
    }
    assert_error(api(cast_a["cashier"]).post("/api/v1/sales/", sale), 409, "insufficient_stock")
    assert stock_of(tenant_a, stores_a[0], coffee) == 10


def test_refund_api_partial_then_rest(api, cast_a, stores_a, coffee, tenant_a):
    client = api(cast_a["store_manager"])
    sale = client.post(
        "/api/v1/sales/",
        {
            "store": str(stores_a[0].pk),
            "lines": [{"product": str(coffee.pk), "quantity": 3}],
            "payments": [{"method": "card", "amount": "13.50"}],
        },
    ).json()
    line = sale["lines"][0]["id"]
    bad = client.post(
        f"/api/v1/sales/{sale['id']}/refund/", {"lines": [{"line": str(uuid.uuid4()), "quantity": 1}]}
    )
    assert "lines" in assert_error(bad, 400, "invalid")["fields"]
    part = client.post(f"/api/v1/sales/{sale['id']}/refund/", {"lines": [{"line": line, "quantity": 1}]})
    assert part.status_code == 201 and part.json()["total"] == "4.50"
    rest = client.post(f"/api/v1/sales/{sale['id']}/refund/", {"reason": "changed mind"})
    assert rest.status_code == 201 and rest.json()["total"] == "9.00"
    assert client.get(f"/api/v1/sales/{sale['id']}/").json()["status"] == "refunded"
    assert_error(client.post(f"/api/v1/sales/{sale['id']}/refund/", {}), 409, "conflict")
    assert stock_of(tenant_a, stores_a[0], coffee) == 10


def test_product_filters_and_ordering(api, cast_a, coffee, tea):
    client = api(cast_a["cashier"])
    assert [p["sku"] for p in client.get("/api/v1/products/?sku=TEA-1").json()["results"]] == ["TEA-1"]
    assert [
        p["sku"] for p in client.get(f"/api/v1/products/?barcode={coffee.barcode}").json()["results"]
    ] == ["COF-1"]
    assert [p["sku"] for p in client.get("/api/v1/products/?q=tea").json()["results"]] == ["TEA-1"]
    assert [p["sku"] for p in client.get("/api/v1/products/?ordering=-price").json()["results"]] == [
        "COF-1",
        "TEA-1",
    ]
    client_owner = api(cast_a["owner"])
    client_owner.patch(f"/api/v1/products/{tea.pk}/", {"active": False})
    assert [p["sku"] for p in client.get("/api/v1/products/?active=false").json()["results"]] == ["TEA-1"]


def test_stock_lists_and_reorder_points(api, cast_a, stores_a, coffee, tenant_a):
    client = api(cast_a["store_manager"])
    levels = client.get(f"/api/v1/stock/?store={stores_a[0].pk}&product={coffee.pk}").json()["results"]
    assert [(level["quantity"], level["sku"]) for level in levels] == [(10, "COF-1")]
    changed = client.patch(f"/api/v1/stock/{levels[0]['id']}/", {"reorder_point": 12})
    assert changed.status_code == 200 and changed.json()["below_reorder_point"] is True
    assert [
        level["sku"] for level in client.get("/api/v1/stock/?below_reorder_point=true").json()["results"]
    ] == ["COF-1"]
    assert_error(
        api(cast_a["cashier"]).patch(f"/api/v1/stock/{levels[0]['id']}/", {"reorder_point": 1}),
        403,
        "permission_denied",
    )
    assert_error(client.patch(f"/api/v1/stock/{levels[0]['id']}/", {"reorder_point": -1}), 400, "invalid")


def test_movement_and_sale_lists_use_cursor_pagination(api, cast_a, stores_a, coffee, tenant_a):
    for _ in range(3):
        stock_put(tenant_a, stores_a[0], coffee, 1)
    client = api(cast_a["owner"])
    page = client.get("/api/v1/stock-movements/?page_size=2").json()
    assert "count" not in page and len(page["results"]) == 2 and "cursor=" in page["next"]
    rest = client.get(page["next"].split("testserver")[-1]).json()
    assert len(rest["results"]) == 2
    filtered = client.get(f"/api/v1/stock-movements/?store={stores_a[0].pk}&kind=receive").json()["results"]
    assert len(filtered) == 4


def test_a_body_over_the_limit_is_413(api, cast_a, settings, tenant_a, as_tenant):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    answer = api(cast_a["owner"]).post("/api/v1/products/", {"sku": "BIG", "name": "x" * 2000, "price": "1"})
    assert_error(answer, 413, "too_large")
    with as_tenant(tenant_a):
        assert not Product.objects.filter(sku="BIG").exists()


def test_requests_are_throttled_per_token(api, cast_a, settings):
    settings.KASSA_API_RATE = "3/minute"
    first, second = api(cast_a["cashier"]), api(cast_a["cashier"])
    assert [first.get("/api/v1/products/").status_code for _ in range(3)] == [200, 200, 200]
    answer = first.get("/api/v1/products/")
    assert_error(answer, 429, "throttled")
    assert int(answer["Retry-After"]) > 0
    assert second.get("/api/v1/products/").status_code == 200  # another token, its own budget


def test_overselling_is_409_even_when_the_payment_does_not_cover_it(api, cast_a, stores_a, coffee, tenant_a):
    sale = {
        "store": str(stores_a[0].pk),
        "lines": [{"product": str(coffee.pk), "quantity": 99}],
        "payments": [{"method": "cash", "amount": "9.00"}],
    }
    assert_error(api(cast_a["cashier"]).post("/api/v1/sales/", sale), 409, "insufficient_stock")
    assert stock_of(tenant_a, stores_a[0], coffee) == 10


@pytest.mark.parametrize(
    ("role", "method", "path", "detail"),
    [
        ("store_manager", "post", "/api/v1/stores/", "Managing stores needs the manage_settings permission."),
        ("cashier", "get", "/api/v1/stock-movements/", "You may not view the stock ledger."),
        ("cashier", "get", "/api/v1/sales/", "You may not view sales."),
        ("integrator", "post", "/api/v1/sales/", "You may not sell."),
    ],
)
def test_a_refusal_says_what_is_lacking(api, cast_a, role, method, path, detail):
    body = assert_error(getattr(api(cast_a[role]), method)(path, {"name": "x"}), 403, "permission_denied")
    assert body["detail"] == detail


def test_every_view_declares_its_permission_in_permission_classes():
    from rest_framework.views import APIView

    from inventory import apis

    views = [
        v
        for v in vars(apis).values()
        if isinstance(v, type) and issubclass(v, APIView) and v.__module__ == apis.__name__
    ]
    assert len(views) > 5
    for view in views:
        assert "check_permissions" not in vars(view), view
        # Declared by each view itself (ServiceViewSet is only their base).
        assert view is apis.ServiceViewSet or "permission_classes" in vars(view), view
    assert not hasattr(apis, "authz")  # no inline authz.can in the views


def test_a_category_is_changed_through_its_service(api, cast_a, tenant_a, as_tenant):
    owner = api(cast_a["owner"])
    drinks = owner.post("/api/v1/categories/", {"name": "Drinks"}).json()
    snacks = owner.post("/api/v1/categories/", {"name": "Snacks"}).json()
    renamed = owner.patch(f"/api/v1/categories/{snacks['id']}/", {"name": "Sweets", "parent": drinks["id"]})
    assert renamed.status_code == 200 and renamed.json()["parent"] == drinks["id"]
    duplicate = assert_error(
        owner.patch(f"/api/v1/categories/{snacks['id']}/", {"name": "Drinks"}), 400, "invalid"
    )
    assert "name" in duplicate["fields"]
    assert_error(
        api(cast_a["cashier"]).patch(f"/api/v1/categories/{snacks['id']}/", {"name": "X"}),
        403,
        "permission_denied",
    )
    with as_tenant(tenant_a):
        from inventory.models import Category

        assert sorted(Category.objects.values_list("name", flat=True)) == ["Drinks", "Sweets"]


@pytest.mark.parametrize(
    "store",
    ["other-tenant", "missing", "not-a-uuid", "x" * 10_000, "\x00", 12, 10**40, None, True, ["a"], {"a": 1}],
)
def test_a_sales_store_is_refused_as_every_reference_is_and_nothing_is_sold(
    api, cast_a, stores_a, stores_b, coffee, tenant_a, as_tenant, store
):
    # The sale reads its store by a statement of its own (inventory.serializers.SaleIn): the
    # same refusal, word for word, as a stock movement's store, which the ORM reads.
    if store in ("other-tenant", "missing"):
        store = str(stores_b[0].pk) if store == "other-tenant" else str(uuid.uuid4())
    client = api(cast_a["owner"])
    sale = client.post(
        "/api/v1/sales/",
        {
            "store": store,
            "lines": [{"product": str(coffee.pk), "quantity": 1}],
            "payments": [{"method": "card", "amount": "4.50"}],
        },
    )
    movement = client.post(
        "/api/v1/stock-movements/",
        {"store": store, "product": str(coffee.pk), "kind": "receive", "quantity": 1},
    )
    assert assert_error(sale, 400, "invalid")["fields"]["store"] == movement.json()["fields"]["store"]
    with as_tenant(tenant_a):
        assert not Sale.objects.exists()
    assert stock_of(tenant_a, stores_a[0], coffee) == 10


def test_a_sales_store_and_products_may_be_named_in_capitals(api, cast_a, stores_a, coffee, tenant_a):
    answer = api(cast_a["cashier"]).post(
        "/api/v1/sales/",
        {
            "store": str(stores_a[0].pk).upper(),
            "lines": [{"product": str(coffee.pk).upper(), "quantity": 2}],
            "payments": [{"method": "card", "amount": "9.00"}],
        },
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["store"] == str(stores_a[0].pk) and stock_of(tenant_a, stores_a[0], coffee) == 8
