"""Delta sync: `updated_at` kept by the database, `updated_since`, and a keyset cursor on
`(updated_at, id)` that neither skips nor repeats while others write."""

import random
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from inventory.models import Category, Customer, Product, Refund, Sale, StockLevel, Supplier
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create, sale_refund
from inventory.sync import tables_without_stamp
from tenants.context import tenant_context
from tests.conftest import transactional
from tests.inventory.conftest import product_make, stock_put

EPOCH = "2000-01-01T00:00:00Z"


def walk(client, path: str, since: str = EPOCH, page_size: int = 50) -> list[dict]:
    """Every row of a delta list from `since`, following `next` links to the end."""
    separator = "&" if "?" in path else "?"
    url = f"{path}{separator}updated_since={since}&page_size={page_size}"
    rows = []
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert set(body) == {"next", "previous", "results"}
        rows += body["results"]
        url = body["next"] and body["next"].split("testserver")[-1]
    return rows


def test_every_synced_table_is_stamped_by_the_database(db):
    assert tables_without_stamp() == []


def test_updated_at_moves_with_raw_sql_and_bulk_writes_but_not_without_a_change(tenant_a, coffee, tea):
    with tenant_context(tenant_a):
        before = Product.objects.get(pk=coffee.pk).updated_at
        with connection.cursor() as cursor:
            cursor.execute("UPDATE inventory_product SET name = 'Raw' WHERE id = %s", [coffee.pk])
        after_raw = Product.objects.get(pk=coffee.pk).updated_at
        assert after_raw > before
        tea.name = "Bulk"
        Product.objects.bulk_update([tea], ["name"])
        assert Product.objects.get(pk=tea.pk).updated_at > after_raw
        # Same values again: no new version.
        Product.objects.filter(pk=coffee.pk).update(name="Raw")
        assert Product.objects.get(pk=coffee.pk).updated_at == after_raw
        # A client cannot set the stamp: the database does.
        Product.objects.filter(pk=coffee.pk).update(updated_at=datetime(2001, 1, 1, tzinfo=UTC))
        assert Product.objects.get(pk=coffee.pk).updated_at == after_raw


def test_every_list_takes_updated_since(api, cast_a, stores_a, coffee, tea, tenant_a):
    client = api(cast_a["owner"])
    with tenant_context(tenant_a):
        Category.objects.create(name="Drinks")
        Supplier.objects.create(name="Acme")
        Customer.objects.create(notes="regular")
        sale_create(
            store=stores_a[0],
            lines=[SaleLineInput(product=coffee, quantity=1)],
            payments=[PaymentInput(method="cash", amount=Decimal("4.50"))],
            actor=None,
        )
    for path in (
        "/api/v1/products/",
        "/api/v1/categories/",
        "/api/v1/suppliers/",
        "/api/v1/customers/",
        "/api/v1/stock/",
        "/api/v1/sales/",
    ):
        rows = walk(client, path)
        assert rows, path
        assert all("updated_at" in row for row in rows), path
        stamps = [(row["updated_at"], row["id"]) for row in rows]
        assert stamps == sorted(stamps), path
        latest = rows[-1]["updated_at"]
        assert walk(client, path, since=latest.replace("+00:00", "Z")) == [], path


def test_a_deactivation_and_a_refund_without_restock_appear_in_the_delta(
    api, cast_a, stores_a, coffee, tea, tenant_a
):
    client = api(cast_a["owner"])
    with tenant_context(tenant_a):
        sale = sale_create(
            store=stores_a[0],
            lines=[SaleLineInput(product=tea, quantity=1)],
            payments=[PaymentInput(method="card", amount=Decimal("2.99"))],
            actor=None,
        )
    products = walk(client, "/api/v1/products/")
    sales = walk(client, "/api/v1/sales/")
    mark = max(products[-1]["updated_at"], sales[-1]["updated_at"]).replace("+00:00", "Z")
    answer = client.patch(f"/api/v1/products/{coffee.pk}/", {"active": False})
    assert answer.status_code == 200
    with tenant_context(tenant_a):
        refund = sale_refund(sale=Sale.objects.get(pk=sale.pk), restock=False, actor=None)
    changed = walk(client, "/api/v1/products/", since=mark)
    assert [(row["sku"], row["active"]) for row in changed] == [("COF-1", False)]
    assert [(row["id"], row["status"]) for row in walk(client, "/api/v1/sales/", since=mark)] == [
        (str(sale.pk), "refunded")
    ]
    refunds = walk(client, "/api/v1/refunds/", since=mark)
    assert [(row["id"], row["sale"], row["restock"]) for row in refunds] == [
        (str(refund.pk), str(sale.pk), False)
    ]


def test_the_cursor_walks_every_row_once_in_order(api, cast_a, tenant_a):
    with tenant_context(tenant_a):
        for i in range(23):
            product_make(tenant_a, f"P-{i:02}")
    rows = walk(api(cast_a["owner"]), "/api/v1/products/", page_size=5)
    assert sorted(row["sku"] for row in rows) == [f"P-{i:02}" for i in range(23)]
    assert len({row["id"] for row in rows}) == 23


def test_a_store_manager_sees_the_delta_of_their_stores_only(api, cast_a, stores_a, coffee, tenant_a):
    stock_put(tenant_a, stores_a[1], coffee, 3)
    rows = walk(api(cast_a["store_manager"]), "/api/v1/stock/")
    assert {row["store"] for row in rows} == {str(stores_a[0].pk)}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("updated_since=yesterday", "updated_since"),
        ("updated_since=" + "9" * 100, "updated_since"),
        ("cursor=d1.%00%00", "cursor"),
        ("cursor=d1.bm90LWEtY3Vyc29y", "cursor"),
        ("updated_since=2024-01-01T00:00:00Z&page_size=0", "page_size"),
        ("updated_sinse=2024-01-01T00:00:00Z", "updated_sinse"),
    ],
)
def test_a_bad_delta_parameter_is_a_400_that_names_it(api, cast_a, coffee, query, field):
    for path in ("/api/v1/products/", "/api/v1/sales/", "/api/v1/refunds/", "/api/v1/stock/"):
        answer = api(cast_a["owner"]).get(f"{path}?{query}")
        assert answer.status_code == 400, (path, answer.content)
        assert answer.json()["code"] == "invalid" and field in answer.json()["fields"], answer.json()


@pytest.mark.parametrize(
    ("since", "status"),
    [
        ("1430-06-03T06:35:24%2B16:51", 200),  # an offset PostgreSQL would refuse: read in UTC
        ("2024-01-01T00:00:00-23:59", 200),
        ("0001-01-01T00:00:00%2B16:00", 400),  # before year 1 in UTC: no such time
        ("9999-12-31T23:59:59-16:00", 400),  # after year 9999 in UTC
    ],
)
def test_an_extreme_time_in_updated_since_is_read_in_utc_or_refused_never_a_500(
    api, cast_a, coffee, since, status
):
    for path in ("/api/v1/products/", "/api/v1/categories/", "/api/v1/sales/"):
        answer = api(cast_a["owner"]).get(f"{path}?updated_since={since}")
        assert answer.status_code == status, (path, answer.content)


@transactional
def test_an_open_write_transaction_holds_the_page_back_until_it_commits(api, cast_a, tenant_a, coffee, tea):
    """The horizon: a row stamped by a transaction that has not committed yet is never paged past."""
    client = api(cast_a["owner"])
    started, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow_writer():
        try:
            with tenant_context(tenant_a), transaction.atomic():
                Product.objects.filter(pk=coffee.pk).update(name="Slow")  # stamped now
                started.set()
                release.wait(10)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert started.wait(10)
        time.sleep(0.05)
        with tenant_context(tenant_a):
            Product.objects.filter(pk=tea.pk).update(name="Quick")  # committed, stamped later
        seen = walk(client, "/api/v1/products/")
        assert "Quick" not in [row["name"] for row in seen]  # held back behind the open transaction
    finally:
        release.set()
        done.wait(10)
        thread.join()
    seen = walk(client, "/api/v1/products/")
    assert [row["name"] for row in seen][-2:] == ["Slow", "Quick"]


@transactional
def test_paging_while_others_write_skips_nothing_and_repeats_nothing(api, cast_a, tenant_a):
    """Two writers commit changes (some in slow transactions that stamp early and commit late)
    while a reader pages through the products' delta with a small page. The reader's log must be
    strictly ordered, hold no version twice, and end with every product's final state."""
    with tenant_context(tenant_a):
        ids = [product_make(tenant_a, f"C-{i:02}").pk for i in range(40)]
    client = api(cast_a["owner"])
    stop = threading.Event()
    errors: list = []
    commits = [0]

    def writer(seed: int, slow: bool):
        rng = random.Random(seed)
        try:
            with tenant_context(tenant_a):
                n = 0
                while not stop.is_set():
                    n += 1
                    with transaction.atomic():
                        for pk in rng.sample(ids, 2):
                            Product.objects.filter(pk=pk).update(name=f"w{seed}-{n}")
                        if slow:
                            time.sleep(rng.uniform(0.05, 0.25))
                    commits[0] += 1
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=writer, args=(1, True)),
        threading.Thread(target=writer, args=(2, False)),
    ]
    for thread in threads:
        thread.start()
    log: list[tuple[str, str, str]] = []
    since = EPOCH
    deadline = time.monotonic() + 4
    try:
        while True:
            writing = time.monotonic() < deadline
            if not writing and not stop.is_set():
                stop.set()
                for thread in threads:
                    thread.join()
            url = f"/api/v1/products/?updated_since={since}&page_size=7"
            got = 0
            while url:
                body = client.get(url).json()
                log += [(row["updated_at"], row["id"], row["name"]) for row in body["results"]]
                got += len(body["results"])
                url = body["next"] and body["next"].split("testserver")[-1]
            if log:
                since = log[-1][0].replace("+00:00", "Z")
            if stop.is_set() and got == 0:
                break
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors
    assert commits[0] > 20
    positions = [(stamp, pk) for stamp, pk, _ in log]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)  # no repeat
    last = {pk: (stamp, name) for stamp, pk, name in log}
    with tenant_context(tenant_a):
        final = {
            str(pk): (stamp.isoformat().replace("+00:00", "Z"), name)
            for pk, stamp, name in Product.objects.values_list("id", "updated_at", "name")
        }
    normalised = {pk: (stamp.replace("+00:00", "Z"), name) for pk, (stamp, name) in last.items()}
    assert normalised == final  # no skip: every product's latest change reached the reader
    print(f"delta walk: {len(log)} rows read over {commits[0]} commits")


def test_etag_and_if_match_on_an_object(api, cast_a, tenant_a, coffee):
    client = api(cast_a["owner"])
    first = client.get(f"/api/v1/products/{coffee.pk}/")
    tag = first["ETag"]
    assert tag.startswith('"') and client.get(f"/api/v1/products/{coffee.pk}/")["ETag"] == tag
    assert client.get(f"/api/v1/products/{coffee.pk}/", HTTP_IF_NONE_MATCH=tag).status_code == 304
    changed = client.patch(f"/api/v1/products/{coffee.pk}/", {"name": "Dark roast"}, HTTP_IF_MATCH=tag)
    assert changed.status_code == 200 and changed["ETag"] != tag
    stale = client.patch(f"/api/v1/products/{coffee.pk}/", {"name": "Lost update"}, HTTP_IF_MATCH=tag)
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    with tenant_context(tenant_a):
        assert Product.objects.get(pk=coffee.pk).name == "Dark roast"
    assert (
        client.patch(f"/api/v1/products/{coffee.pk}/", {"name": "Any"}, HTTP_IF_MATCH="*").status_code == 200
    )


def test_if_match_on_stock_levels(api, cast_a, tenant_a, coffee):
    client = api(cast_a["owner"])
    with tenant_context(tenant_a):
        level = StockLevel.objects.get(product=coffee)
    tag = client.get(f"/api/v1/stock/{level.pk}/")["ETag"]
    assert (
        client.patch(f"/api/v1/stock/{level.pk}/", {"reorder_point": 4}, HTTP_IF_MATCH=tag).status_code == 200
    )
    stale = client.patch(f"/api/v1/stock/{level.pk}/", {"reorder_point": 9}, HTTP_IF_MATCH=tag)
    assert stale.status_code == 412
    with tenant_context(tenant_a):
        assert StockLevel.objects.get(pk=level.pk).reorder_point == 4


def test_the_refund_list_is_limited_to_the_callers_stores(api, cast_a, stores_a, tenant_a, coffee):
    stock_put(tenant_a, stores_a[1], coffee, 2)
    with tenant_context(tenant_a):
        for store in stores_a:
            sale = sale_create(
                store=store,
                lines=[SaleLineInput(product=coffee, quantity=1)],
                payments=[PaymentInput(method="cash", amount=Decimal("4.50"))],
                actor=None,
            )
            sale_refund(sale=sale, actor=None)
        assert Refund.objects.count() == 2
    assert len(walk(api(cast_a["owner"]), "/api/v1/refunds/")) == 2
    assert [row["store"] for row in walk(api(cast_a["store_manager"]), "/api/v1/refunds/")] == [
        str(stores_a[0].pk)
    ]
    assert api(cast_a["cashier"]).get("/api/v1/refunds/").status_code == 403
