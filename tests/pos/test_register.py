"""The register's views: every sale and refund through inventory.services, scoped like the API."""

import json
import uuid
from decimal import Decimal

from auditlog.models import AccessEvent
from inventory.models import Refund, Sale
from tests.inventory.conftest import ledger_sum, stock_of


def get(client, path, **extra):
    return client.get(path, secure=True, **extra)


def post_json(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json", secure=True)


def sale_body(product, quantity=1, method="cash", amount="100.00"):
    return {
        "lines": [{"product": str(product.pk), "quantity": quantity}],
        "payments": [{"method": method, "amount": amount}],
    }


def sales_of(tenant, as_tenant):
    with as_tenant(tenant):
        return Sale.objects.count()


def test_a_cashier_with_one_store_goes_straight_to_its_register(cast_a, stores_a, web):
    response = get(web(cast_a["cashier"]), "/pos/")
    assert response.status_code == 302 and response["Location"] == f"/pos/{stores_a[0].pk}/"


def test_the_owner_chooses_among_the_stores(cast_a, stores_a, web):
    page = get(web(cast_a["owner"]), "/pos/")
    assert page.status_code == 200
    assert b"Main street" in page.content and b"Harbour" in page.content


def test_a_barcode_finds_exactly_its_product_with_the_stores_stock(cast_a, stores_a, coffee, tea, web):
    client = web(cast_a["cashier"])
    found = get(client, f"/pos/{stores_a[0].pk}/products/?q=4000000000017").json()
    assert found["exact"] is True
    assert [(r["sku"], r["stock"], r["price"]) for r in found["results"]] == [("COF-1", 10, "4.50")]
    by_name = get(client, f"/pos/{stores_a[0].pk}/products/?q=product").json()
    assert by_name["exact"] is False and {r["sku"] for r in by_name["results"]} == {"COF-1", "TEA-1"}


def test_a_cash_sale_goes_through_the_service_and_gives_change(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web, open_shift
):
    client = web(cast_a["cashier"])
    response = post_json(client, f"/pos/{stores_a[0].pk}/sales/", sale_body(coffee, 2, "cash", "20"))
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["total"] == "9.00" and answer["change_due"] == "11.00"
    assert stock_of(tenant_a, stores_a[0], coffee) == 8 == ledger_sum(tenant_a, stores_a[0], coffee)
    with as_tenant(tenant_a):
        sale = Sale.objects.get(pk=answer["id"])
        assert sale.cashier == cast_a["cashier"] and sale.tax_total == Decimal("1.11")
        logged = AccessEvent.objects.filter(path=f"/pos/{stores_a[0].pk}/sales/", method="POST").get()
        assert logged.store_id == stores_a[0].pk and logged.user_id == cast_a["cashier"].pk
    receipt = get(client, answer["receipt_url"])
    assert receipt.status_code == 200
    assert b"#1" in receipt.content and b"11.00" in receipt.content


def test_a_card_payment_is_recorded_with_its_reference(cast_a, stores_a, coffee, tenant_a, as_tenant, web):
    body = sale_body(coffee, 1, "card", "4.50")
    body["payments"][0]["reference"] = "auth 123456"
    response = post_json(web(cast_a["cashier"]), f"/pos/{stores_a[0].pk}/sales/", body)
    assert response.status_code == 201
    with as_tenant(tenant_a):
        payment = Sale.objects.get(pk=response.json()["id"]).payments.get()
        assert (payment.method, payment.amount, payment.reference) == ("card", Decimal("4.50"), "auth 123456")


def test_another_tenants_store_answers_404(cast_a, stores_b, web):
    client = web(cast_a["owner"])
    assert get(client, f"/pos/{stores_b[0].pk}/").status_code == 404
    assert (
        post_json(client, f"/pos/{stores_b[0].pk}/sales/", {"lines": [], "payments": []}).status_code == 404
    )


def test_another_tenants_product_is_refused_and_nothing_is_sold(
    cast_a, stores_a, bobs_product, tenant_a, as_tenant, web
):
    response = post_json(web(cast_a["cashier"]), f"/pos/{stores_a[0].pk}/sales/", sale_body(bobs_product))
    assert response.status_code == 400
    assert response.json()["fields"]["lines"] == "Line 1: no such product."
    assert sales_of(tenant_a, as_tenant) == 0


def test_a_cashier_cannot_sell_in_another_store(cast_a, stores_a, coffee, tenant_a, as_tenant, web):
    client = web(cast_a["cashier"])
    assert get(client, f"/pos/{stores_a[1].pk}/").status_code == 403
    assert post_json(client, f"/pos/{stores_a[1].pk}/sales/", sale_body(coffee)).status_code == 403
    assert sales_of(tenant_a, as_tenant) == 0


def test_an_auditor_has_no_register(cast_a, web):
    assert get(web(cast_a["auditor"]), "/pos/").status_code == 403


def test_bad_sales_are_refused_with_a_reason_and_change_nothing(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web
):
    client = web(cast_a["cashier"])
    url = f"/pos/{stores_a[0].pk}/sales/"
    cases = [
        (sale_body(coffee, 0), "lines", "quantity must be 1 to 9999"),
        (sale_body(coffee, 1, "cash", "1.00"), "payments", "do not cover the total"),
        (sale_body(coffee, 1, "cheque", "4.50"), "payments", "cash, card or voucher"),
        (sale_body(coffee, 1, "cash", "NaN"), "payments", "enter an amount"),
        ({"lines": [], "payments": []}, "lines", "between 1 and 200 lines"),
        ([1, 2], "body", "JSON object"),
    ]
    for body, field, text in cases:
        response = post_json(client, url, body)
        assert response.status_code == 400, body
        assert text in response.json()["fields"][field], response.json()
    not_json = client.post(url, "{", content_type="application/json", secure=True)
    assert not_json.status_code == 400 and not_json.json()["code"] == "invalid"
    assert sales_of(tenant_a, as_tenant) == 0
    assert stock_of(tenant_a, stores_a[0], coffee) == 10


def test_selling_more_than_the_store_holds_answers_409(cast_a, stores_a, coffee, tenant_a, as_tenant, web):
    response = post_json(web(cast_a["cashier"]), f"/pos/{stores_a[0].pk}/sales/", sale_body(coffee, 11))
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    assert sales_of(tenant_a, as_tenant) == 0


def test_a_post_without_the_csrf_token_is_refused(cast_a, stores_a, coffee, tenant_a, as_tenant, web):
    client = web(cast_a["cashier"])
    client.handler.enforce_csrf_checks = True
    assert post_json(client, f"/pos/{stores_a[0].pk}/sales/", sale_body(coffee)).status_code == 403
    assert sales_of(tenant_a, as_tenant) == 0


def _sold(client, store, product, quantity=2):
    body = sale_body(product, quantity, "card", str(product.price * quantity))
    response = post_json(client, f"/pos/{store.pk}/sales/", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_a_store_manager_refunds_from_the_receipt(cast_a, stores_a, coffee, tenant_a, as_tenant, web):
    sale = _sold(web(cast_a["cashier"]), stores_a[0], coffee, 3)
    manager = web(cast_a["store_manager"])
    receipt = get(manager, sale["receipt_url"])
    with as_tenant(tenant_a):
        line = Sale.objects.get(pk=sale["id"]).lines.get()
    assert f'name="line-{line.pk}"'.encode() in receipt.content
    response = manager.post(
        f"{sale['receipt_url']}refund/",
        {f"line-{line.pk}": "2", "reason": "damaged", "restock": "on"},
        secure=True,
    )
    assert response.status_code == 302 and response["Location"] == sale["receipt_url"]
    assert stock_of(tenant_a, stores_a[0], coffee) == 9 == ledger_sum(tenant_a, stores_a[0], coffee)
    with as_tenant(tenant_a):
        refund = Refund.objects.get(sale_id=sale["id"])
        assert (refund.total, refund.reason, refund.actor) == (
            Decimal("9.00"),
            "damaged",
            cast_a["store_manager"],
        )
        assert Sale.objects.get(pk=sale["id"]).status == "partially_refunded"


def test_a_cashier_cannot_refund_alone(cast_a, stores_a, coffee, tenant_a, as_tenant, web):
    client = web(cast_a["cashier"])
    sale = _sold(client, stores_a[0], coffee)
    assert b'name="approver"' in get(client, sale["receipt_url"]).content  # a manager must approve
    with as_tenant(tenant_a):
        line = Sale.objects.get(pk=sale["id"]).lines.get()
    response = client.post(f"{sale['receipt_url']}refund/", {f"line-{line.pk}": "1"}, secure=True)
    assert response.status_code == 403
    with as_tenant(tenant_a):
        assert not Refund.objects.exists()


def test_refunding_more_than_was_sold_is_refused_and_changes_nothing(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web
):
    sale = _sold(web(cast_a["cashier"]), stores_a[0], coffee, 1)
    with as_tenant(tenant_a):
        line = Sale.objects.get(pk=sale["id"]).lines.get()
    manager = web(cast_a["store_manager"])
    for value, text in (("5", b"1 refundable"), ("x", b"whole number"), ("0", b"Choose what to refund")):
        response = manager.post(f"{sale['receipt_url']}refund/", {f"line-{line.pk}": value}, secure=True)
        assert response.status_code == 400 and text in response.content
    with as_tenant(tenant_a):
        assert not Refund.objects.exists()
    assert stock_of(tenant_a, stores_a[0], coffee) == 9


def test_a_receipt_is_found_by_number_only_in_its_store(cast_a, stores_a, coffee, web):
    owner = web(cast_a["owner"])
    sale = _sold(owner, stores_a[0], coffee)
    found = get(owner, f"/pos/{stores_a[0].pk}/receipts/?number=1")
    assert found["Location"] == sale["receipt_url"]
    elsewhere = get(owner, f"/pos/{stores_a[1].pk}/receipts/?number=1")
    assert elsewhere["Location"] == f"/pos/{stores_a[1].pk}/"
    assert get(owner, f"/pos/{stores_a[1].pk}/sales/{sale['id']}/").status_code == 404


def test_another_tenants_sale_answers_404(cast_a, stores_a, tenant_b, stores_b, bobs_product, web):
    from tests.conftest import make_user

    bob_cashier = make_user(tenant_b, "bea", "cashier", [stores_b[0]])
    bob_sale = post_json(
        web(bob_cashier, host="bob-chain.localhost"),
        f"/pos/{stores_b[0].pk}/sales/",
        sale_body(bobs_product, 1, "card", "1.00"),
    ).json()
    owner = web(cast_a["owner"])
    assert get(owner, f"/pos/{stores_a[0].pk}/sales/{bob_sale['id']}/").status_code == 404
    assert get(owner, bob_sale["receipt_url"]).status_code == 404


def test_the_platform_host_has_no_register(cast_a, web):
    assert get(web(host="127.0.0.1"), "/pos/").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(stores_a, web):
    response = get(web(), f"/pos/{stores_a[0].pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_a_line_naming_no_product_is_refused_and_changes_nothing(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web
):
    client = web(cast_a["cashier"])
    for product in ("not-a-uuid", "\x00", "9" * 400, str(uuid.uuid4())):
        body = {
            "lines": [{"product": product, "quantity": 1}],
            "payments": [{"method": "cash", "amount": "9.00"}],
        }
        response = post_json(client, f"/pos/{stores_a[0].pk}/sales/", body)
        assert response.status_code in (400, 404), (product, response.status_code)
        assert response.json()["code"] in ("invalid", "not_found")
    assert sales_of(tenant_a, as_tenant) == 0
    assert stock_of(tenant_a, stores_a[0], coffee) == 10
