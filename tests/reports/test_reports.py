"""Sales, tax and stock-value reports: the API and the pages, in local days, scoped to the reader's
stores, with CSV; their figures are the receipts' and the Z reports'."""

from decimal import Decimal

import pytest

from inventory.services.catalogue import category_create, product_update
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create, sale_refund
from inventory.services.shifts import shift_close
from tests.inventory.conftest import product_make, stock_put


def sell(tenant, as_tenant, store, actor, *lines, method="card"):
    with as_tenant(tenant):
        items = [SaleLineInput(product=p, quantity=q) for p, q in lines]
        total = sum(p.price * q for p, q in lines)
        return sale_create(store=store, lines=items, payments=[PaymentInput(method, total)], actor=actor)


@pytest.fixture
def day(tenant_a, stores_a, cast_a, coffee, tea, as_tenant):
    """Sales in both of Alice's stores (the manager works in the first), one partly refunded."""
    with as_tenant(tenant_a):
        drinks = category_create(actor=None, name="Drinks")
        product_update(product=coffee, actor=None, category=drinks, cost=Decimal("2.00"))
        product_update(product=tea, actor=None, cost=Decimal("1.00"))
        coffee.refresh_from_db()
        tea.refresh_from_db()
    stock_put(tenant_a, stores_a[1], coffee, 10)
    first = sell(tenant_a, as_tenant, stores_a[0], cast_a["cashier"], (coffee, 2), (tea, 1))  # 11.99
    sell(tenant_a, as_tenant, stores_a[0], cast_a["store_manager"], (coffee, 1))  # 4.50
    sell(tenant_a, as_tenant, stores_a[1], cast_a["owner"], (coffee, 3))  # 13.50, the other store
    with as_tenant(tenant_a):
        tea_line = first.lines.get(sku="TEA-1")
        from inventory.services.sales import RefundLineInput

        sale_refund(
            sale=first, lines=[RefundLineInput(sale_line=tea_line, quantity=1)], actor=cast_a["owner"]
        )
    return first


def rows_of(response) -> dict:
    assert response.status_code == 200, response.content
    return {row.get("key", row.get("rate")): row for row in response.json()["rows"]}


def test_the_sales_report_groups_sales_less_refunds(api, cast_a, stores_a, day):
    client = api(cast_a["owner"])
    by_product = rows_of(client.get("/api/v1/reports/sales/?group_by=product"))
    assert by_product["COF-1"]["quantity"] == 6 and by_product["COF-1"]["gross"] == "27.00"
    assert by_product["COF-1"]["cost"] == "12.00" and by_product["COF-1"]["name"] == "Product COF-1"
    net = Decimal(by_product["COF-1"]["net"])
    assert Decimal(by_product["COF-1"]["margin"]) == net - Decimal("12.00")
    assert by_product["TEA-1"]["quantity"] == 0 and by_product["TEA-1"]["gross"] == "0.00"
    by_store = rows_of(client.get("/api/v1/reports/sales/?group_by=store"))
    assert by_store["Main street"]["gross"] == "13.50" and by_store["Harbour"]["gross"] == "13.50"
    by_cashier = rows_of(client.get("/api/v1/reports/sales/?group_by=cashier"))
    assert by_cashier["sam"]["gross"] == "4.50" and by_cashier["cody"]["gross"] == "11.99"  # what he sold
    assert by_cashier["alice"]["gross"] == "10.51"  # 13.50 sold, 2.99 refunded by her
    by_category = rows_of(client.get("/api/v1/reports/sales/?group_by=category"))
    assert by_category["Drinks"]["gross"] == "27.00" and by_category[""]["gross"] == "0.00"
    totals = client.get("/api/v1/reports/sales/?group_by=day").json()["totals"]
    assert totals["gross"] == "27.00" and totals["quantity"] == 6


def test_the_tax_report_is_the_receipts_tax_per_rate_less_refunds(api, cast_a, day, tenant_a, as_tenant):
    from inventory.models import RefundTax, SaleTax

    rows = rows_of(api(cast_a["auditor"]).get("/api/v1/reports/tax/"))
    with as_tenant(tenant_a):
        for rate, row in rows.items():
            sold = sum(t.tax for t in SaleTax.objects.filter(rate=rate))
            back = sum((t.tax for t in RefundTax.objects.filter(rate=rate)), Decimal(0))
            assert Decimal(row["tax"]) == sold - back
            assert Decimal(row["net"]) + Decimal(row["tax"]) == Decimal(row["gross"])
    assert rows["7.00"]["gross"] == "0.00" and rows["14.00"]["gross"] == "27.00"


def test_a_store_manager_sees_only_their_stores_figures(api, cast_a, stores_a, day):
    client = api(cast_a["store_manager"])
    by_store = rows_of(client.get("/api/v1/reports/sales/?group_by=store"))
    assert set(by_store) == {"Main street"}
    stock = client.get("/api/v1/reports/stock-value/").json()
    assert {row["store_name"] for row in stock["rows"]} == {"Main street"}
    for path in ("sales", "tax", "stock-value"):
        elsewhere = client.get(f"/api/v1/reports/{path}/?store={stores_a[1].pk}")
        assert elsewhere.status_code == 403 and elsewhere.json()["code"] == "permission_denied"


def test_the_stock_value_is_quantity_times_cost(api, cast_a, stores_a, day):
    answer = api(cast_a["owner"]).get(f"/api/v1/reports/stock-value/?store={stores_a[0].pk}").json()
    coffee = next(row for row in answer["rows"] if row["sku"] == "COF-1")
    assert (coffee["quantity"], coffee["cost"], coffee["value"]) == (7, "2.00", "14.00")
    assert Decimal(answer["total_value"]) == sum(Decimal(r["value"]) for r in answer["rows"])


def test_reports_come_as_csv_too(api, cast_a, day):
    client = api(cast_a["owner"])
    for path, header in (
        ("/api/v1/reports/sales/?group_by=product&format=csv", "key,name,quantity,gross"),
        ("/api/v1/reports/tax/?format=csv", "rate,net,tax,gross"),
        ("/api/v1/reports/stock-value/?format=csv", "store,store_name,product,sku"),
    ):
        response = client.get(path)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert response.content.decode().startswith(header)


def test_a_z_report_matches_the_tax_report_of_its_day(
    api, cast_a, stores_a, coffee, tenant_a, as_tenant, open_shift
):
    sell(tenant_a, as_tenant, stores_a[0], cast_a["cashier"], (coffee, 3), method="cash")
    with as_tenant(tenant_a):
        z = shift_close(shift=open_shift, counted_cash=Decimal("113.50"), actor=cast_a["cashier"]).data
    rows = rows_of(api(cast_a["owner"]).get(f"/api/v1/reports/tax/?store={stores_a[0].pk}"))
    assert {t["rate"]: t["tax"] for t in z["taxes"]} == {rate: row["tax"] for rate, row in rows.items()}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=week", "group_by"),
        ("since=yesterday", "since"),
        ("since=2025-02-10&until=2025-01-01", "since"),
        ("since=2020-01-01&until=2025-01-01", "until"),
        ("since=2025-01-01T10:00:00", "since"),  # a time without its offset
        ("store=not-a-uuid", "store"),
        ("since=" + "9" * 10_000, "since"),
    ],
)
def test_bad_report_filters_are_400_with_their_field(api, cast_a, query, field):
    response = api(cast_a["owner"]).get(f"/api/v1/reports/sales/?{query}")
    assert response.status_code == 400 and field in response.json()["fields"], response.content


def test_a_cashier_may_not_read_reports(api, web, cast_a):
    for path in ("/api/v1/reports/sales/", "/api/v1/reports/tax/", "/api/v1/reports/stock-value/"):
        assert api(cast_a["cashier"]).get(path).json()["code"] == "permission_denied"
    for path in ("/reports/", "/reports/tax/", "/reports/stock-value/"):
        assert web(cast_a["cashier"]).get(path, secure=True).status_code == 403


def test_the_report_pages_draw_a_chart_and_give_csv(web, cast_a, day):
    client = web(cast_a["owner"])
    page = client.get("/reports/?group_by=product", secure=True)
    assert page.status_code == 200
    assert b'id="sales-chart"' in page.content and page.content.count(b'class="bar-ok"') == 2
    assert b"COF-1" in page.content and b"27.00" in page.content
    csv = client.get("/reports/?group_by=store&format=csv", secure=True)
    assert csv["Content-Type"].startswith("text/csv") and b"Harbour,," in csv.content
    for path in ("/reports/tax/", "/reports/stock-value/"):
        assert client.get(path, secure=True).status_code == 200
    bad = client.get("/reports/?since=2025-02-10&until=2025-01-01", secure=True)
    assert bad.status_code == 400 and b"The start is after the end." in bad.content


def test_the_report_pages_of_a_store_manager_are_their_stores(web, cast_a, day):
    page = web(cast_a["store_manager"]).get("/reports/?group_by=store", secure=True)
    assert b"Main street" in page.content and b"Harbour" not in page.content


def test_another_tenants_store_is_no_choice_on_the_report_page(web, cast_a, stores_b, day):
    page = web(cast_a["owner"]).get(f"/reports/?store={stores_b[0].pk}", secure=True)
    assert page.status_code == 400  # not one of the choices: a form error, no figures


def test_prices_in_another_rate_make_their_own_tax_row(api, cast_a, stores_a, tenant_a, as_tenant):
    books = product_make(tenant_a, "BOOK-1", "20.00", "10.00")
    stock_put(tenant_a, stores_a[0], books, 3)
    sell(tenant_a, as_tenant, stores_a[0], cast_a["owner"], (books, 1))
    rows = rows_of(api(cast_a["owner"]).get("/api/v1/reports/tax/"))
    assert rows["10.00"] == {"rate": "10.00", "net": "18.18", "tax": "1.82", "gross": "20.00"}
