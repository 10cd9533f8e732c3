"""The back office's task pages: every write through the back-office services, scoped like the API;
another tenant's object 404, a lacking permission 403, bad input 400 with nothing changed."""

import json
import uuid
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backoffice.models import PurchaseOrder, Stocktake, StocktakeLine, Transfer
from backoffice.services.stocktakes import stocktake_start
from backoffice.services.transfers import TransferLineInput, transfer_send
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
from inventory.services.stock import stock_reorder_set
from tests.backoffice.conftest import order_make
from tests.backoffice.test_apis import snapshot
from tests.conftest import make_user
from tests.inventory.conftest import ledger_sum, product_make, stock_of, stock_put


def get(client, path, **extra):
    return client.get(path, secure=True, **extra)


def post(client, path, data=None):
    return client.post(path, data or {}, secure=True)


def post_json(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json", secure=True)


@pytest.fixture
def shop(tenant_a, stores_a, roaster, beans, filters, as_tenant):
    """An ordered PO and a draft in the first store, a transfer from the harbour to it, a stocktake in the harbour."""
    order = order_make(tenant_a, stores_a[0], roaster, [(beans, 6, "3.00"), (filters, 4, "0.40")])
    draft = order_make(tenant_a, stores_a[0], roaster, [(beans, 2, "3.00")], ordered=False)
    stock_put(tenant_a, stores_a[1], beans, 5)
    with as_tenant(tenant_a):
        incoming = transfer_send(
            from_store=stores_a[1],
            to_store=stores_a[0],
            lines=[TransferLineInput(product=beans, quantity=3)],
            actor=None,
        )
        harbour_count = stocktake_start(store=stores_a[1], actor=None)
    return {"order": order, "draft": draft, "incoming": incoming, "harbour_count": harbour_count}


def urls(store, objects) -> dict:
    order, draft = objects["order"].pk, objects["draft"].pk
    base = f"/backoffice/{store.pk}/"
    return {
        "store": base,
        "order": f"{base}purchase-orders/{order}/",
        "draft": f"{base}purchase-orders/{draft}/",
        "receive": f"{base}purchase-orders/{order}/receive/",
        "document": f"{base}purchase-orders/{order}/document.csv",
        "transfer": f"{base}transfers/{objects['incoming'].pk}/",
        "transfer-new": f"{base}transfers/new/",
        "reorder": f"{base}reorder/",
        "sales": f"{base}sales-today/",
    }


def test_a_store_manager_opens_every_task_page_of_their_store(cast_a, stores_a, shop, web):
    client = web(cast_a["store_manager"])
    assert (
        get(client, "/backoffice/")["Location"] == f"/backoffice/{stores_a[0].pk}/"
    )  # one store: straight in
    for name, url in urls(stores_a[0], shop).items():
        response = get(client, url)
        assert response.status_code == 200, (name, response.status_code)
    hub = get(client, f"/backoffice/{stores_a[0].pk}/").content.decode()
    assert "PO 1" in hub and "Transfer 1" in hub and "Start a stocktake" in hub
    assert "Back office" in get(client, "/account/").content.decode()  # in the navigation


def test_receiving_by_scan_posts_the_delivery_through_the_service(
    cast_a, stores_a, shop, beans, filters, tenant_a, web
):
    client = web(cast_a["store_manager"])
    page = get(client, urls(stores_a[0], shop)["receive"]).content.decode()
    assert (
        'data-mode="receive"' in page and "6400000000011" in page
    )  # the lines (with barcodes) for the script
    lines = _lines(tenant_a, shop["order"])
    answer = post_json(
        client,
        urls(stores_a[0], shop)["receive"],
        {"lines": [{"line": lines[beans.pk], "quantity": 6}], "note": "box 1"},
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "partially_received" and answer.json()["url"].endswith(
        f"{shop['order'].pk}/"
    )
    assert stock_of(tenant_a, stores_a[0], beans) == 16 == ledger_sum(tenant_a, stores_a[0], beans)
    over = post_json(
        client, urls(stores_a[0], shop)["receive"], {"lines": [{"line": lines[filters.pk], "quantity": 5}]}
    )
    assert over.status_code == 400 and over.json()["code"] == "invalid" and "lines" in over.json()["fields"]
    assert stock_of(tenant_a, stores_a[0], filters) == 4


def _lines(tenant, order) -> dict:
    from tenants.context import tenant_context

    with tenant_context(tenant):
        return {line.product_id: str(line.pk) for line in order.lines.all()}


def test_a_draft_is_edited_by_scanning_then_ordered(
    cast_a, stores_a, shop, beans, filters, tenant_a, as_tenant, web
):
    client = web(cast_a["store_manager"])
    draft = urls(stores_a[0], shop)["draft"]
    found = get(client, f"/backoffice/{stores_a[0].pk}/products/?q=6400000000028").json()
    assert found["exact"] and found["results"][0]["sku"] == "FLT-1" and found["results"][0]["stock"] == 4
    saved = post_json(
        client,
        draft + "lines/",
        {
            "lines": [
                {"product": str(beans.pk), "quantity": 5, "unit_cost": "2,50"},
                {"product": str(filters.pk), "quantity": 10},
            ]
        },
    )
    assert saved.status_code == 200, saved.content
    assert saved.json()["total"] == "12.50"  # 5 x 2.50 + 10 x the filters' cost (0.00)
    assert post(client, draft + "order/").status_code == 302
    with as_tenant(tenant_a):
        order = PurchaseOrder.objects.get(pk=shop["draft"].pk)
        assert order.status == "ordered" and order.lines.count() == 2
    refused = post_json(client, draft + "lines/", {"lines": []})
    assert refused.status_code == 409 and refused.json()["code"] == "conflict"
    document = get(client, urls(stores_a[0], shop)["document"])
    assert document["Content-Type"].startswith("text/csv")
    assert "BEAN-1" in document.content.decode() and "po-1.csv" in document["Content-Disposition"]


def test_counting_a_stocktake_by_scan_and_finishing_it_shows_the_variance(
    cast_a, stores_a, beans, filters, tenant_a, as_tenant, web
):
    manager, cashier = web(cast_a["store_manager"]), web(cast_a["cashier"])
    assert post(manager, f"/backoffice/{stores_a[0].pk}/stocktakes/new/").status_code == 302
    with as_tenant(tenant_a):
        stocktake = Stocktake.objects.get(store=stores_a[0])
    base = f"/backoffice/{stores_a[0].pk}/stocktakes/{stocktake.pk}/"
    assert 'data-mode="count"' in get(cashier, base).content.decode()
    found = get(cashier, base + "lines/?q=6400000000011").json()
    assert found["exact"] and "expected" not in found["results"][0]  # a blind count
    counted = post_json(cashier, base + "counts/", {"counts": [{"product": str(beans.pk), "counted": 9}]})
    assert counted.status_code == 200, counted.content
    assert counted.json()["progress"] == {"lines": 2, "counted": 1, "percent": 50}
    assert counted.json()["lines"][0]["counted_by"] == "cody"
    assert post(cashier, base + "finish/", {"confirm": "yes"}).status_code == 403
    assert post(manager, base + "finish/", {}).status_code == 302  # not confirmed: nothing happens
    with as_tenant(tenant_a):
        assert Stocktake.objects.get(pk=stocktake.pk).status == "counting"
    assert post(manager, base + "finish/", {"confirm": "yes", "uncounted": "keep"}).status_code == 302
    report = get(manager, base).content.decode()
    assert "Variance report" in report and 'id="variance-value"' in report and "-2.00" in report
    assert stock_of(tenant_a, stores_a[0], beans) == 9 and stock_of(tenant_a, stores_a[0], filters) == 4
    csv = get(manager, base + "report.csv").content.decode()
    assert "BEAN-1" in csv and ",-1," in csv


def test_a_count_file_is_checked_by_a_dry_run_then_entered(
    cast_a, stores_a, beans, filters, tenant_a, as_tenant, web
):
    with as_tenant(tenant_a):
        stocktake = stocktake_start(store=stores_a[0], actor=None)
    client = web(cast_a["store_manager"])
    url = f"/backoffice/{stores_a[0].pk}/stocktakes/{stocktake.pk}/import/"
    data = "barcode;counted\n6400000000011;1 200\nFLT-9;3\n"
    sku_file = "sku;counted\nflt-1;3,0\nNOPE;1\n"
    checked = client.post(url, {"file": SimpleUploadedFile("c.csv", sku_file.encode())}, secure=True)
    assert checked.status_code == 200
    page = checked.content.decode()
    assert "A dry run of c.csv" in page and "FLT-1" in page and "NOPE" in page
    with as_tenant(tenant_a):
        assert not StocktakeLine.objects.filter(counted__isnull=False).exists()  # a dry run counts nothing
    applied = client.post(url, {"apply": "yes", "data": sku_file, "filename": "c.csv"}, secure=True)
    assert applied.status_code == 200 and 'id="import-applied"' in applied.content.decode()
    with as_tenant(tenant_a):
        assert StocktakeLine.objects.get(stocktake=stocktake, product=filters).counted == 3
    by_barcode = client.post(
        url, {"file": SimpleUploadedFile("b.csv", data.encode()), "apply": "yes"}, secure=True
    )
    assert by_barcode.status_code == 200
    with as_tenant(tenant_a):
        assert StocktakeLine.objects.get(stocktake=stocktake, product=beans).counted == 1200


def test_sending_and_receiving_a_transfer_through_the_pages(
    cast_a, stores_a, beans, tenant_a, as_tenant, web
):
    sender = web(cast_a["store_manager"])
    sent = post_json(
        sender,
        f"/backoffice/{stores_a[0].pk}/transfers/new/",
        {"to_store": str(stores_a[1].pk), "lines": [{"product": str(beans.pk), "quantity": 4}]},
    )
    assert sent.status_code == 200, sent.content
    with as_tenant(tenant_a):
        transfer = Transfer.objects.get()
        line = str(transfer.lines.get().pk)
    assert stock_of(tenant_a, stores_a[0], beans) == 6 and stock_of(tenant_a, stores_a[1], beans) == 0
    # The sender's own page shows it in transit, with no receiving form (the harbour receives it).
    page = get(sender, f"/backoffice/{stores_a[0].pk}/transfers/{transfer.pk}/").content.decode()
    assert 'data-mode="arrive"' not in page and "In transit" in page
    assert get(sender, f"/backoffice/{stores_a[1].pk}/transfers/{transfer.pk}/").status_code == 403
    receiver = web(make_user(tenant_a, "hana", "store_manager", [stores_a[1]]))
    url = f"/backoffice/{stores_a[1].pk}/transfers/{transfer.pk}/"
    assert 'data-mode="arrive"' in get(receiver, url).content.decode()
    short = post_json(receiver, url + "receive/", {"lines": [{"line": line, "quantity": 3}]})
    assert short.status_code == 400 and "note" in short.json()["fields"]
    done = post_json(
        receiver, url + "receive/", {"lines": [{"line": line, "quantity": 3}], "note": "one short"}
    )
    assert done.status_code == 200, done.content
    assert stock_of(tenant_a, stores_a[1], beans) == 3
    again = post_json(receiver, url + "receive/", {"lines": [{"line": line, "quantity": 3}]})
    assert again.status_code == 409
    assert stock_of(tenant_a, stores_a[1], beans) == 3


def test_the_reorder_list_drafts_orders_and_todays_sales_add_up(
    cast_a, stores_a, beans, roaster, tenant_a, as_tenant, web
):
    with as_tenant(tenant_a):
        stock_reorder_set(store=stores_a[0], product=beans, reorder_point=12, reorder_quantity=20, actor=None)
        for quantity, method in ((2, "cash"), (1, "card")):
            sale_create(
                store=stores_a[0],
                lines=[SaleLineInput(product=beans, quantity=quantity)],
                payments=[
                    PaymentInput(method=method, amount=Decimal("20.00") if method == "cash" else beans.price)
                ],
                actor=None,
            )
    client = web(cast_a["store_manager"])
    listed = get(client, f"/backoffice/{stores_a[0].pk}/reorder/").content.decode()
    assert "Roastery Oy" in listed and "BEAN-1" in listed and "<strong>20</strong>" in listed
    assert post(client, f"/backoffice/{stores_a[0].pk}/reorder/").status_code == 302
    with as_tenant(tenant_a):
        order = PurchaseOrder.objects.get()
        assert (order.status, order.lines.get().quantity) == ("draft", 20)
    sales = get(client, f"/backoffice/{stores_a[0].pk}/sales-today/").content.decode()
    assert 'id="sales-count">2<' in sales and 'id="sales-total">29.70<' in sales
    assert "19.80" in sales and "9.90" in sales  # cash net of change, card


# --- from the attacker's side ---------------------------------------------------------------------


@pytest.fixture
def bobs_back_office(tenant_b, stores_b, bobs_supplier, as_tenant):
    product = product_make(tenant_b, "BOB-9", "1.00", "0")
    stock_put(tenant_b, stores_b[0], product, 5)
    order = order_make(tenant_b, stores_b[0], bobs_supplier, [(product, 3, "0.50")])
    with as_tenant(tenant_b):
        from tenants.models import Store

        second = Store.objects.create(name="Bob's back room")
        transfer = transfer_send(
            from_store=stores_b[0],
            to_store=second,
            lines=[TransferLineInput(product=product, quantity=1)],
            actor=None,
        )
        stocktake = stocktake_start(store=stores_b[0], actor=None)
    return {
        "store": stores_b[0],
        "order": order,
        "transfer": transfer,
        "stocktake": stocktake,
        "product": product,
    }


def bob_pages(bob) -> list[tuple[str, str]]:
    base = f"/backoffice/{bob['store'].pk}/"
    order = f"{base}purchase-orders/{bob['order'].pk}/"
    stocktake = f"{base}stocktakes/{bob['stocktake'].pk}/"
    transfer = f"{base}transfers/{bob['transfer'].pk}/"
    return [
        ("get", base),
        ("get", base + "products/?q=BOB-9"),
        ("post", base + "purchase-orders/new/"),
        ("get", order),
        ("post", order + "lines/"),
        ("post", order + "order/"),
        ("post", order + "cancel/"),
        ("get", order + "receive/"),
        ("post", order + "receive/"),
        ("get", order + "document.csv"),
        ("post", base + "stocktakes/new/"),
        ("get", stocktake),
        ("get", stocktake + "lines/?q=BOB-9"),
        ("post", stocktake + "counts/"),
        ("post", stocktake + "finish/"),
        ("post", stocktake + "cancel/"),
        ("get", stocktake + "report.csv"),
        ("post", stocktake + "import/"),
        ("get", base + "transfers/new/"),
        ("post", base + "transfers/new/"),
        ("get", transfer),
        ("post", transfer + "receive/"),
        ("get", base + "reorder/"),
        ("post", base + "reorder/"),
        ("get", base + "sales-today/"),
    ]


def test_another_tenants_back_office_pages_answer_404_and_change_nothing(
    cast_a, bobs_back_office, tenant_b, web
):
    before = snapshot(tenant_b)
    client = web(cast_a["owner"])
    for method, url in bob_pages(bobs_back_office):
        response = get(client, url) if method == "get" else post(client, url, {"confirm": "yes"})
        assert response.status_code == 404, (method, url, response.status_code)
    assert snapshot(tenant_b) == before


def test_another_stores_objects_are_404_under_my_store(cast_a, stores_a, shop, web):
    """The harbour's stocktake named under the main store's URL: not found, whoever asks."""
    client = web(cast_a["owner"])
    wrong = f"/backoffice/{stores_a[0].pk}/stocktakes/{shop['harbour_count'].pk}/"
    assert get(client, wrong).status_code == 404
    assert post_json(client, wrong + "counts/", {"counts": []}).status_code == 404


@pytest.mark.parametrize(
    ("role", "method", "name"),
    [
        ("cashier", "get", "receive"),
        ("cashier", "post", "receive"),
        ("cashier", "post", "order-lines"),
        ("cashier", "post", "order-cancel"),
        ("cashier", "get", "transfer-new"),
        ("cashier", "post", "reorder"),
        ("cashier", "get", "sales"),
        ("auditor", "post", "stocktake-start"),
        ("auditor", "post", "receive"),
        ("integrator", "post", "stocktake-counts-other"),
        ("cashier", "get", "sales-other-store"),
        ("store_manager", "get", "store-other"),
        ("store_manager", "post", "stocktake-counts-other"),
    ],
)
def test_a_lacking_permission_is_403_and_changes_nothing(
    cast_a, stores_a, shop, tenant_a, web, role, method, name
):
    main, harbour = (f"/backoffice/{store.pk}/" for store in stores_a)
    order = f"{main}purchase-orders/{shop['order'].pk}/"
    paths = {
        "receive": order + "receive/",
        "order-lines": f"{main}purchase-orders/{shop['draft'].pk}/lines/",
        "order-cancel": order + "cancel/",
        "transfer-new": main + "transfers/new/",
        "reorder": main + "reorder/",
        "sales": main + "sales-today/",
        "stocktake-start": main + "stocktakes/new/",
        "sales-other-store": harbour + "sales-today/",
        "store-other": harbour,
        "stocktake-counts-other": f"{harbour}stocktakes/{shop['harbour_count'].pk}/counts/",
    }
    before = snapshot(tenant_a)
    client = web(cast_a[role])
    response = (
        get(client, paths[name])
        if method == "get"
        else post_json(client, paths[name], {"lines": [], "counts": []})
    )
    assert response.status_code == 403, response.content[:300]
    assert snapshot(tenant_a) == before


HOSTILE = ["\x00", "ä" * 10_000, "not-a-uuid", 10**30, -1, None, [], {}, True, "1.5"]


def test_bad_input_is_400_in_the_documented_shape_and_changes_nothing(
    cast_a, stores_a, shop, beans, tenant_a, as_tenant, web
):
    client = web(cast_a["owner"])
    with as_tenant(tenant_a):
        stocktake = stocktake_start(store=stores_a[0], actor=None)
    main = f"/backoffice/{stores_a[0].pk}/"
    line = _lines(tenant_a, shop["order"])[beans.pk]
    draft = f"{main}purchase-orders/{shop['draft'].pk}/lines/"
    receive = f"{main}purchase-orders/{shop['order'].pk}/receive/"
    counts = f"{main}stocktakes/{stocktake.pk}/counts/"
    send = f"{main}transfers/new/"
    arrive = f"{main}transfers/{shop['incoming'].pk}/receive/"
    bodies = [(draft, "not json"), (receive, []), (counts, {"counts": "all"}), (send, {"lines": []})]
    for value in HOSTILE:
        bodies += [
            (draft, {"lines": [{"product": value, "quantity": 1}]}),
            (draft, {"lines": [{"product": str(beans.pk), "quantity": value}]}),
            (receive, {"lines": [{"line": value, "quantity": 1}]}),
            (receive, {"lines": [{"line": line, "quantity": value}]}),
            (counts, {"counts": [{"product": str(beans.pk), "counted": value}]}),
            (send, {"to_store": value, "lines": [{"product": str(beans.pk), "quantity": 1}]}),
            (arrive, {"lines": [{"line": value, "quantity": 1}]}),
        ]
    before = snapshot(tenant_a)
    for url, body in bodies:
        if isinstance(body, str):
            response = client.post(url, body, content_type="application/json", secure=True)
        else:
            response = post_json(client, url, body)
        if response.status_code == 200 and url == draft:
            pytest.fail(f"{body!r} was saved")
        assert response.status_code == 400, (url, body, response.content[:300])
        answer = response.json()
        assert answer["code"] == "invalid" and answer["detail"] and answer["fields"], answer
    assert snapshot(tenant_a) == before
    assert get(client, f"{main}purchase-orders/{uuid.uuid4()}/").status_code == 404
