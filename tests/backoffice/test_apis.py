"""The back-office API: the happy paths, and from the attacker's side: another tenant's object 404,
a lacking permission 403, bad input 400 in the documented shape, and nothing changed by a refusal."""

import uuid

import pytest

from backoffice.models import PurchaseOrder, PurchaseOrderReceipt, Stocktake, StocktakeLine, Transfer
from backoffice.services.stocktakes import stocktake_start
from backoffice.services.transfers import TransferLineInput, transfer_send
from inventory.models import Product, StockLevel, StockMovement
from inventory.services.stock import stock_reorder_set
from tenants.context import tenant_context
from tests.backoffice.conftest import order_make
from tests.inventory.conftest import product_make, stock_of, stock_put
from tests.inventory.test_apis import assert_error


def snapshot(tenant) -> tuple:
    """Everything a back-office request could change in a chain."""
    with tenant_context(tenant):
        return (
            list(PurchaseOrder.objects.order_by("pk").values_list("pk", "status", "notes")),
            list(PurchaseOrderReceipt.objects.values_list("pk", flat=True)),
            list(Stocktake.objects.order_by("pk").values_list("pk", "status")),
            list(StocktakeLine.objects.order_by("pk").values_list("pk", "counted")),
            list(Transfer.objects.order_by("pk").values_list("pk", "status")),
            list(
                StockLevel.objects.order_by("pk").values_list(
                    "pk", "quantity", "reorder_point", "reorder_quantity"
                )
            ),
            StockMovement.objects.count(),
            list(Product.objects.order_by("pk").values_list("pk", "cost")),
        )


@pytest.fixture
def bobs(tenant_b, stores_b, bobs_supplier, cast_b):
    """A purchase order, a stocktake and a transfer of Bob's, to be probed from Alice's chain."""
    product = product_make(tenant_b, "BOB-9", "1.00", "0")
    stock_put(tenant_b, stores_b[0], product, 5)
    with tenant_context(tenant_b):
        from tenants.models import Store

        second = Store.objects.create(name="Bob's back room")
    order = order_make(tenant_b, stores_b[0], bobs_supplier, [(product, 3, "0.50")])
    with tenant_context(tenant_b):
        stocktake = stocktake_start(store=stores_b[0], actor=None)
        transfer = transfer_send(
            from_store=stores_b[0],
            to_store=second,
            lines=[TransferLineInput(product=product, quantity=1)],
            actor=None,
        )
        return {
            "order": order,
            "line": order.lines.get(),
            "stocktake": stocktake,
            "transfer": transfer,
            "transfer_line": transfer.lines.get(),
            "product": product,
            "store": stores_b[0],
            "supplier": bobs_supplier,
        }


def test_a_purchase_order_from_draft_to_received_through_the_api(
    api, cast_a, stores_a, roaster, beans, filters
):
    manager = api(cast_a["store_manager"])
    body = {
        "supplier": str(roaster.pk),
        "store": str(stores_a[0].pk),
        "lines": [
            {"product": str(beans.pk), "quantity": 6, "unit_cost": "3.00"},
            {"product": str(filters.pk), "quantity": 2},
        ],
        "notes": "before the weekend",
    }
    created = manager.post("/api/v1/purchase-orders/", body)
    assert created.status_code == 201, created.content
    order = created.json()
    assert order["status"] == "draft" and order["number"] == 1 and order["total"] == "18.00"
    assert {
        line["sku"]: (line["quantity"], line["received"], line["unit_cost"]) for line in order["lines"]
    } == {
        "BEAN-1": (6, 0, "3.00"),
        "FLT-1": (2, 0, "0.00"),
    }
    url = f"/api/v1/purchase-orders/{order['id']}/"
    changed = manager.patch(url, {"lines": [{"product": str(beans.pk), "quantity": 4, "unit_cost": "3.50"}]})
    assert changed.status_code == 200 and [line["quantity"] for line in changed.json()["lines"]] == [4]
    assert manager.post(url + "order/").json()["status"] == "ordered"
    assert_error(manager.patch(url, {"notes": "x"}), 409, "conflict")
    line = changed.json()["lines"][0]["id"]
    partial = manager.post(url + "receive/", {"lines": [{"line": line, "quantity": 1}], "note": "first box"})
    assert partial.status_code == 201 and partial.json()["status"] == "partially_received"
    over = assert_error(
        manager.post(url + "receive/", {"lines": [{"line": line, "quantity": 4}]}), 400, "invalid"
    )
    assert "lines" in over["fields"]
    done = manager.post(url + "receive/", {"lines": [{"line": line, "quantity": 3}]})
    assert done.json()["status"] == "received" and done.json()["lines"][0]["received"] == 4
    assert stock_of(cast_a["owner"].tenant, stores_a[0], beans) == 14
    listed = manager.get("/api/v1/purchase-orders/?status=received").json()
    assert [o["id"] for o in listed["results"]] == [order["id"]]
    assert manager.get(f"/api/v1/purchase-orders/?store={stores_a[1].pk}").json()["results"] == []


def test_a_stocktake_through_the_api_answers_the_variance_report(api, cast_a, stores_a, beans, filters):
    manager, cashier = api(cast_a["store_manager"]), api(cast_a["cashier"])
    started = manager.post("/api/v1/stocktakes/", {"store": str(stores_a[0].pk)})
    assert started.status_code == 201, started.content
    stocktake = started.json()
    assert {line["sku"]: line["expected"] for line in stocktake["lines"]} == {"BEAN-1": 10, "FLT-1": 4}
    assert stocktake["progress"] == {"lines": 2, "counted": 0, "percent": 0}
    url = f"/api/v1/stocktakes/{stocktake['id']}/"
    counted = cashier.post(url + "counts/", {"counts": [{"product": str(beans.pk), "counted": 12}]})
    assert counted.status_code == 200, counted.content
    assert counted.json()["lines"][0]["counted"] == 12
    cashier.post(url + "counts/", {"counts": [{"product": str(filters.pk), "counted": 4}]})
    assert manager.get(url).json()["progress"]["percent"] == 100
    assert_error(cashier.post(url + "finish/", {}), 403, "permission_denied")
    report = manager.post(url + "finish/", {})
    assert report.status_code == 200, report.content
    body = report.json()
    assert body["status"] == "finished"
    assert body["variance"] == {"quantity": 2, "value": "4.00", "shrinkage_value": "0.00"}
    assert {line["sku"]: (line["difference"], line["value"]) for line in body["lines"]} == {
        "BEAN-1": (2, "4.00"),
        "FLT-1": (0, "0.00"),
    }
    assert_error(
        cashier.post(url + "counts/", {"counts": [{"product": str(beans.pk), "counted": 1}]}), 409, "conflict"
    )
    listed = manager.get("/api/v1/stocktakes/").json()["results"]
    assert [s["id"] for s in listed] == [stocktake["id"]] and "lines" not in listed[0]


def test_a_transfer_through_the_api_is_received_by_the_destination(api, cast_a, stores_a, tenant_a, beans):
    from tests.conftest import make_user

    sender = api(cast_a["store_manager"])
    body = {
        "from_store": str(stores_a[0].pk),
        "to_store": str(stores_a[1].pk),
        "lines": [{"product": str(beans.pk), "quantity": 3}],
    }
    sent = sender.post("/api/v1/transfers/", body)
    assert sent.status_code == 201, sent.content
    transfer = sent.json()
    assert transfer["status"] == "in_transit" and transfer["lines"][0]["received"] is None
    assert stock_of(tenant_a, stores_a[0], beans) == 7 and stock_of(tenant_a, stores_a[1], beans) == 0
    url = f"/api/v1/transfers/{transfer['id']}/receive/"
    assert_error(sender.post(url, {}), 403, "permission_denied")  # not their store
    receiver = api(make_user(tenant_a, "hana", "store_manager", [stores_a[1]]))
    short = {"lines": [{"line": transfer["lines"][0]["id"], "quantity": 2}]}
    assert "note" in assert_error(receiver.post(url, short), 400, "invalid")["fields"]
    received = receiver.post(url, {**short, "note": "one missing"})
    assert received.status_code == 200 and received.json()["discrepancy_note"] == "one missing"
    assert_error(receiver.post(url, {}), 409, "conflict")
    assert stock_of(tenant_a, stores_a[1], beans) == 2
    # Both stores' staff see it; the cashier of the first store too (view_products there).
    assert [t["id"] for t in receiver.get("/api/v1/transfers/").json()["results"]] == [transfer["id"]]
    assert [t["id"] for t in api(cast_a["cashier"]).get("/api/v1/transfers/").json()["results"]] == [
        transfer["id"]
    ]


def test_the_reorder_list_and_drafts_in_one_step(api, cast_a, stores_a, tenant_a, roaster, beans):
    with tenant_context(tenant_a):
        stock_reorder_set(store=stores_a[0], product=beans, reorder_point=10, reorder_quantity=24, actor=None)
    manager = api(cast_a["store_manager"])
    listed = manager.get(f"/api/v1/reorder/?store={stores_a[0].pk}")
    assert listed.status_code == 200, listed.content
    assert listed.json()["results"] == [
        {
            "supplier": str(roaster.pk),
            "supplier_name": "Roastery Oy",
            "lines": [
                {
                    "product": str(beans.pk),
                    "sku": "BEAN-1",
                    "name": beans.name,
                    "quantity": 10,
                    "reorder_point": 10,
                    "reorder_quantity": 24,
                    "on_order": 0,
                    "suggested": 24,
                    "unit_cost": "2.00",
                }
            ],
        }
    ]
    made = manager.post("/api/v1/reorder/", {"store": str(stores_a[0].pk)})
    assert made.status_code == 201, made.content
    orders = made.json()["purchase_orders"]
    assert [(o["status"], o["lines"][0]["quantity"]) for o in orders] == [("draft", 24)]
    assert manager.get(f"/api/v1/reorder/?store={stores_a[0].pk}").json()["results"] == []
    assert manager.post("/api/v1/reorder/", {"store": str(stores_a[0].pk)}).json()["purchase_orders"] == []


def test_reorder_settings_are_editable_through_the_stock_api(api, cast_a, stores_a, tenant_a, beans):
    manager = api(cast_a["store_manager"])
    level = manager.get(f"/api/v1/stock/?product={beans.pk}").json()["results"][0]
    changed = manager.patch(f"/api/v1/stock/{level['id']}/", {"reorder_point": 4, "reorder_quantity": 12})
    assert changed.status_code == 200 and (
        changed.json()["reorder_point"],
        changed.json()["reorder_quantity"],
    ) == (
        4,
        12,
    )
    assert_error(manager.patch(f"/api/v1/stock/{level['id']}/", {}), 400, "invalid")
    assert_error(manager.patch(f"/api/v1/stock/{level['id']}/", {"reorder_quantity": -1}), 400, "invalid")
    assert_error(
        api(cast_a["cashier"]).patch(f"/api/v1/stock/{level['id']}/", {"reorder_quantity": 1}),
        403,
        "permission_denied",
    )
    with tenant_context(tenant_a):
        assert StockLevel.objects.get(pk=level["id"]).reorder_quantity == 12


# --- another tenant's objects: 404 for every method ----------------------------------------------


def bob_urls(bobs) -> list[tuple[str, str, dict]]:
    order, stocktake, transfer = bobs["order"].pk, bobs["stocktake"].pk, bobs["transfer"].pk
    return [
        ("get", f"/api/v1/purchase-orders/{order}/", {}),
        ("patch", f"/api/v1/purchase-orders/{order}/", {"notes": "mine now"}),
        ("post", f"/api/v1/purchase-orders/{order}/order/", {}),
        ("post", f"/api/v1/purchase-orders/{order}/cancel/", {}),
        (
            "post",
            f"/api/v1/purchase-orders/{order}/receive/",
            {"lines": [{"line": str(bobs["line"].pk), "quantity": 1}]},
        ),
        ("get", f"/api/v1/stocktakes/{stocktake}/", {}),
        (
            "post",
            f"/api/v1/stocktakes/{stocktake}/counts/",
            {"counts": [{"product": str(bobs["product"].pk), "counted": 0}]},
        ),
        ("post", f"/api/v1/stocktakes/{stocktake}/finish/", {}),
        ("post", f"/api/v1/stocktakes/{stocktake}/cancel/", {}),
        ("get", f"/api/v1/transfers/{transfer}/", {}),
        ("post", f"/api/v1/transfers/{transfer}/receive/", {}),
        ("get", f"/api/v1/reorder/?store={bobs['store'].pk}", {}),
    ]


def test_another_tenants_back_office_answers_404_and_changes_nothing(api, cast_a, bobs, tenant_b):
    before = snapshot(tenant_b)
    client = api(cast_a["owner"])
    for method, url, body in bob_urls(bobs):
        assert_error(getattr(client, method)(url, body), 404, "not_found")
    # A missing id answers the same.
    for url in ("purchase-orders", "stocktakes", "transfers"):
        assert_error(client.get(f"/api/v1/{url}/{uuid.uuid4()}/"), 404, "not_found")
    assert snapshot(tenant_b) == before
    # Lists show nothing of Bob's.
    for url in ("purchase-orders", "stocktakes", "transfers"):
        assert client.get(f"/api/v1/{url}/").json()["results"] == []


def test_bob_finds_his_own_back_office(api, cast_b, bobs):
    client = api(cast_b["owner"])
    for method, url, _ in bob_urls(bobs):
        if method == "get":
            assert client.get(url).status_code == 200, url


def test_another_tenants_ids_in_a_body_are_invalid_and_change_nothing(
    api, cast_a, stores_a, roaster, beans, bobs, tenant_a, tenant_b
):
    before_a, before_b = snapshot(tenant_a), snapshot(tenant_b)
    client = api(cast_a["owner"])
    store, product, supplier = str(stores_a[0].pk), str(beans.pk), str(roaster.pk)
    bobs_store, bobs_product = str(bobs["store"].pk), str(bobs["product"].pk)
    attempts = [
        ("/api/v1/purchase-orders/", {"supplier": str(bobs["supplier"].pk), "store": store}, "supplier"),
        ("/api/v1/purchase-orders/", {"supplier": supplier, "store": bobs_store}, "store"),
        (
            "/api/v1/purchase-orders/",
            {"supplier": supplier, "store": store, "lines": [{"product": bobs_product, "quantity": 1}]},
            "lines",
        ),
        ("/api/v1/stocktakes/", {"store": bobs_store}, "store"),
        ("/api/v1/stocktakes/", {"store": store, "products": [bobs_product]}, "products"),
        (
            "/api/v1/transfers/",
            {"from_store": store, "to_store": bobs_store, "lines": [{"product": product, "quantity": 1}]},
            "to_store",
        ),
        (
            "/api/v1/transfers/",
            {"from_store": bobs_store, "to_store": store, "lines": [{"product": product, "quantity": 1}]},
            "from_store",
        ),
        ("/api/v1/reorder/", {"store": bobs_store}, "store"),
    ]
    for url, body, field in attempts:
        assert field in assert_error(client.post(url, body), 400, "invalid")["fields"], url
    assert snapshot(tenant_a) == before_a and snapshot(tenant_b) == before_b


# --- lacking permissions: 403, nothing changed ---------------------------------------------------


@pytest.fixture
def alices(tenant_a, stores_a, roaster, beans):
    order = order_make(tenant_a, stores_a[0], roaster, [(beans, 3, "1.00")])
    draft = order_make(tenant_a, stores_a[0], roaster, [(beans, 3, "1.00")], ordered=False)
    with tenant_context(tenant_a):
        stocktake = stocktake_start(store=stores_a[0], actor=None)
        transfer = transfer_send(
            from_store=stores_a[0],
            to_store=stores_a[1],
            lines=[TransferLineInput(product=beans, quantity=1)],
            actor=None,
        )
        return {
            "order": order,
            "line": order.lines.get(),
            "draft": draft,
            "stocktake": stocktake,
            "transfer": transfer,
            "beans": beans,
            "store": stores_a[0],
            "supplier": roaster,
        }


def alice_requests(alices, stores_a):
    order, draft = alices["order"].pk, alices["draft"].pk
    stocktake, transfer = alices["stocktake"].pk, alices["transfer"].pk
    store, beans, supplier = str(stores_a[0].pk), str(alices["beans"].pk), str(alices["supplier"].pk)
    return {
        "po-create": ("post", "/api/v1/purchase-orders/", {"supplier": supplier, "store": store}),
        "po-patch": ("patch", f"/api/v1/purchase-orders/{draft}/", {"notes": "changed"}),
        "po-order": ("post", f"/api/v1/purchase-orders/{draft}/order/", {}),
        "po-cancel": ("post", f"/api/v1/purchase-orders/{order}/cancel/", {}),
        "po-receive": (
            "post",
            f"/api/v1/purchase-orders/{order}/receive/",
            {"lines": [{"line": str(alices["line"].pk), "quantity": 1}]},
        ),
        "po-list": ("get", "/api/v1/purchase-orders/", {}),
        "st-create": ("post", "/api/v1/stocktakes/", {"store": str(stores_a[1].pk)}),
        "st-count": (
            "post",
            f"/api/v1/stocktakes/{stocktake}/counts/",
            {"counts": [{"product": beans, "counted": 1}]},
        ),
        "st-finish": ("post", f"/api/v1/stocktakes/{stocktake}/finish/", {}),
        "st-cancel": ("post", f"/api/v1/stocktakes/{stocktake}/cancel/", {}),
        "st-list": ("get", "/api/v1/stocktakes/", {}),
        "tr-create": (
            "post",
            "/api/v1/transfers/",
            {
                "from_store": store,
                "to_store": str(stores_a[1].pk),
                "lines": [{"product": beans, "quantity": 1}],
            },
        ),
        "tr-receive": ("post", f"/api/v1/transfers/{transfer}/receive/", {}),
        "tr-list": ("get", "/api/v1/transfers/", {}),
        "reorder-list": ("get", f"/api/v1/reorder/?store={store}", {}),
        "reorder-create": ("post", "/api/v1/reorder/", {"store": store}),
    }


# (role, request) pairs refused with 403. The cashier reads (view_products) and counts; the auditor
# reads; the integrator manages purchasing and moves stock chain-wide but counts nothing.
FORBIDDEN = [
    *[
        ("cashier", name)
        for name in (
            "po-create",
            "po-patch",
            "po-order",
            "po-cancel",
            "po-receive",
            "st-create",
            "st-finish",
            "st-cancel",
            "tr-create",
            "tr-receive",
            "reorder-create",
        )
    ],
    *[
        ("auditor", name)
        for name in (
            "po-create",
            "po-receive",
            "st-count",
            "st-finish",
            "tr-create",
            "tr-receive",
            "reorder-create",
        )
    ],
    ("integrator", "st-count"),
    # The store manager of the first store: the transfer's destination is the second store.
    ("store_manager", "tr-receive"),
    ("store_manager", "st-create"),  # in the second store
]


@pytest.mark.parametrize(("role", "name"), FORBIDDEN, ids=[f"{r}-{n}" for r, n in FORBIDDEN])
def test_a_lacking_permission_is_403_and_changes_nothing(api, cast_a, stores_a, alices, tenant_a, role, name):
    method, url, body = alice_requests(alices, stores_a)[name]
    before = snapshot(tenant_a)
    assert_error(getattr(api(cast_a[role]), method)(url, body), 403, "permission_denied")
    assert snapshot(tenant_a) == before


@pytest.mark.parametrize("name", ["po-list", "st-list", "tr-list", "reorder-list"])
@pytest.mark.parametrize("role", ["owner", "store_manager", "cashier", "integrator", "auditor"])
def test_every_role_reads_the_back_office_of_its_stores(api, cast_a, stores_a, alices, role, name):
    method, url, body = alice_requests(alices, stores_a)[name]
    assert getattr(api(cast_a[role]), method)(url, body).status_code == 200


def test_a_store_manager_sees_nothing_of_another_store(api, cast_a, stores_a, tenant_a, roaster, beans):
    harbour = order_make(tenant_a, stores_a[1], roaster, [(beans, 1, "1.00")])
    manager = api(cast_a["store_manager"])
    assert_error(manager.get(f"/api/v1/purchase-orders/{harbour.pk}/"), 404, "not_found")
    assert_error(manager.post(f"/api/v1/purchase-orders/{harbour.pk}/cancel/"), 404, "not_found")
    assert_error(manager.get(f"/api/v1/reorder/?store={stores_a[1].pk}"), 403, "permission_denied")
    assert manager.get("/api/v1/purchase-orders/").json()["results"] == []


# --- bad input: 400 in the documented shape, nothing changed -------------------------------------


HOSTILE = ["\x00", "ä" * 10_000, "\U0001d518\U0001d52b\U0001d526", "not-a-uuid", 10**30, -1, None, [], {}]


def bad_bodies(alices, stores_a):
    store, beans, supplier = str(stores_a[0].pk), str(alices["beans"].pk), str(alices["supplier"].pk)
    line = str(alices["line"].pk)
    order, stocktake, transfer = alices["order"].pk, alices["stocktake"].pk, alices["transfer"].pk
    bodies = [
        ("post", "/api/v1/purchase-orders/", {"store": store}, "supplier"),
        (
            "post",
            "/api/v1/purchase-orders/",
            {"supplier": supplier, "store": store, "lines": [{"product": beans, "quantity": 0}]},
            "lines",
        ),
        (
            "post",
            "/api/v1/purchase-orders/",
            {
                "supplier": supplier,
                "store": store,
                "lines": [{"product": beans, "quantity": 1, "unit_cost": "-1"}],
            },
            "lines",
        ),
        (
            "post",
            "/api/v1/purchase-orders/",
            {
                "supplier": supplier,
                "store": store,
                "lines": [{"product": beans, "quantity": 1}, {"product": beans, "quantity": 2}],
            },
            "lines",
        ),
        (
            "post",
            "/api/v1/purchase-orders/",
            {"supplier": supplier, "store": store, "notes": "x" * 10_000},
            "notes",
        ),
        (
            "patch",
            f"/api/v1/purchase-orders/{alices['draft'].pk}/",
            {"expected_on": "next week"},
            "expected_on",
        ),
        ("post", f"/api/v1/purchase-orders/{order}/receive/", {"lines": []}, "lines"),
        (
            "post",
            f"/api/v1/purchase-orders/{order}/receive/",
            {"lines": [{"line": line, "quantity": 4}]},
            "lines",
        ),
        (
            "post",
            f"/api/v1/purchase-orders/{order}/receive/",
            {"lines": [{"line": str(uuid.uuid4()), "quantity": 1}]},
            "lines",
        ),
        ("post", "/api/v1/stocktakes/", {"store": store, "products": []}, "products"),
        (
            "post",
            f"/api/v1/stocktakes/{stocktake}/counts/",
            {"counts": [{"product": beans, "counted": -1}]},
            "counts",
        ),
        ("post", f"/api/v1/stocktakes/{stocktake}/counts/", {"counts": []}, "counts"),
        ("post", f"/api/v1/stocktakes/{stocktake}/finish/", {"uncounted": "guess"}, "uncounted"),
        (
            "post",
            "/api/v1/transfers/",
            {"from_store": store, "to_store": store, "lines": [{"product": beans, "quantity": 1}]},
            "to_store",
        ),
        (
            "post",
            "/api/v1/transfers/",
            {"from_store": store, "to_store": str(stores_a[1].pk), "lines": []},
            "lines",
        ),
        (
            "post",
            f"/api/v1/transfers/{transfer}/receive/",
            {"lines": [{"line": str(alices["transfer"].lines.get().pk), "quantity": 9}], "note": "x"},
            "lines",
        ),
        ("get", "/api/v1/reorder/", {}, "store"),
    ]
    for value in HOSTILE:
        bodies.append(("post", "/api/v1/purchase-orders/", {"supplier": value, "store": store}, "supplier"))
        bodies.append(
            (
                "post",
                f"/api/v1/stocktakes/{stocktake}/counts/",
                {"counts": [{"product": beans, "counted": value}]},
                "counts",
            )
        )
        bodies.append(
            (
                "post",
                "/api/v1/transfers/",
                {
                    "from_store": store,
                    "to_store": str(stores_a[1].pk),
                    "lines": [{"product": value, "quantity": 1}],
                },
                "lines",
            )
        )
    return bodies


def test_bad_input_is_400_with_fields_and_changes_nothing(api, cast_a, stores_a, alices, tenant_a):
    client = api(cast_a["owner"])
    with tenant_context(tenant_a):
        bodies = bad_bodies(alices, stores_a)
    before = snapshot(tenant_a)
    for method, url, body, field in bodies:
        answer = assert_error(getattr(client, method)(url, body), 400, "invalid")
        assert field in answer["fields"], (url, body, answer)
    assert snapshot(tenant_a) == before


def test_state_conflicts_are_409(api, cast_a, alices, tenant_a):
    client = api(cast_a["owner"])
    before = snapshot(tenant_a)
    assert_error(client.post(f"/api/v1/purchase-orders/{alices['order'].pk}/order/"), 409, "conflict")
    with tenant_context(tenant_a):
        draft_line = alices["draft"].lines.get()
    draft_receive = {"lines": [{"line": str(draft_line.pk), "quantity": 1}]}
    assert_error(
        client.post(f"/api/v1/purchase-orders/{alices['draft'].pk}/receive/", draft_receive), 409, "conflict"
    )
    assert_error(client.post("/api/v1/stocktakes/", {"store": str(alices["store"].pk)}), 409, "conflict")
    assert snapshot(tenant_a) == before


def test_a_retried_delivery_with_its_idempotency_key_is_received_once(
    api, cast_a, stores_a, roaster, beans, tenant_a
):
    order = order_make(tenant_a, stores_a[0], roaster, [(beans, 6, "3.00")])
    with tenant_context(tenant_a):
        line = order.lines.get()
    client = api(cast_a["store_manager"])
    url = f"/api/v1/purchase-orders/{order.pk}/receive/"
    body = {"lines": [{"line": str(line.pk), "quantity": 4}]}
    first = client.post(url, body, HTTP_IDEMPOTENCY_KEY="delivery-1")
    again = client.post(url, body, HTTP_IDEMPOTENCY_KEY="delivery-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert stock_of(tenant_a, stores_a[0], beans) == 14
    with tenant_context(tenant_a):
        assert PurchaseOrderReceipt.objects.count() == 1
    other = client.post(
        url, {"lines": [{"line": str(line.pk), "quantity": 1}]}, HTTP_IDEMPOTENCY_KEY="delivery-1"
    )
    assert_error(other, 422, "idempotency_key_reused")


def test_every_view_declares_its_permission_in_permission_classes():
    from rest_framework.views import APIView

    from backoffice import apis

    views = [
        v
        for v in vars(apis).values()
        if isinstance(v, type) and issubclass(v, APIView) and v.__module__ == apis.__name__
    ]
    assert len(views) >= 13
    for view in views:
        assert "permission_classes" in vars(view) and "check_permissions" not in vars(view), view
    assert not hasattr(apis, "authz")  # no inline authz.can in the views
