"""The register's day: one sale per basket whatever the retries, discounts with a manager's
approval, customers, shifts with X and Z reports, returns, refunds approved by a manager, the
session announced and renewed without losing the basket, and receipts in local time."""

import json
import time
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from auditlog.models import SignInEvent
from inventory.models import CashMovement, Refund, Sale, Shift, ShiftReport
from inventory.services.customers import customer_create
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
from tests.conftest import PASSWORD, make_user
from tests.inventory.conftest import stock_of, stock_put


def post_json(client, path, body, **headers):
    return client.post(
        path,
        json.dumps(body),
        content_type="application/json",
        secure=True,
        HTTP_ACCEPT="application/json",
        **headers,
    )


def get(client, path, **extra):
    return client.get(path, secure=True, **extra)


def basket(product, quantity=1, method="card", amount=None, **extra):
    return {
        "lines": [{"product": str(product.pk), "quantity": quantity, **extra.pop("line", {})}],
        "payments": [{"method": method, "amount": amount or str(product.price * quantity)}],
        **extra,
    }


def counts(tenant, as_tenant):
    with as_tenant(tenant):
        return (
            Sale.objects.count(),
            Refund.objects.count(),
            Shift.objects.count(),
            CashMovement.objects.count(),
            ShiftReport.objects.count(),
        )


def test_the_baskets_idempotency_key_makes_one_sale_of_any_number_of_retries(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web
):
    client = web(cast_a["cashier"])
    url = f"/pos/{stores_a[0].pk}/sales/"
    first = post_json(client, url, basket(coffee, 2), HTTP_IDEMPOTENCY_KEY="basket-a")
    retry = post_json(client, url, basket(coffee, 2), HTTP_IDEMPOTENCY_KEY="basket-a")
    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true" and retry.json() == first.json()
    other = post_json(client, url, basket(coffee, 3), HTTP_IDEMPOTENCY_KEY="basket-a")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert counts(tenant_a, as_tenant)[0] == 1
    assert stock_of(tenant_a, stores_a[0], coffee) == 8


def test_a_discount_above_the_cashiers_limit_needs_a_managers_password_and_is_logged(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web
):
    client = web(cast_a["cashier"])
    url = f"/pos/{stores_a[0].pk}/sales/"
    body = basket(coffee, 1, amount="3.60", line={"discount": {"percent": "20", "reason": "scratched"}})
    refused = post_json(client, url, body)
    assert refused.status_code == 403 and refused.json()["code"] == "discount_above_limit"
    wrong = post_json(
        client, url, {**body, "approved_by": {"username": "sam", "password": "wrong-password-1"}}
    )
    assert wrong.status_code == 403 and "Wrong username or password" in wrong.json()["detail"]
    assert counts(tenant_a, as_tenant)[0] == 0
    approved = post_json(client, url, {**body, "approved_by": {"username": "SAM", "password": PASSWORD}})
    assert approved.status_code == 201, approved.content
    with as_tenant(tenant_a):
        sale = Sale.objects.get()
        assert sale.approved_by == cast_a["store_manager"] and sale.total == Decimal("3.60")
        events = list(SignInEvent.objects.filter(user_id=cast_a["store_manager"].pk).order_by("id"))
        assert [(e.kind, e.outcome, e.reason, e.channel) for e in events] == [
            ("approval", "failure", "bad_password", "web"),
            ("approval", "success", "approve_discount", "web"),
        ]
    receipt = get(client, f"/pos/{stores_a[0].pk}/sales/{sale.pk}/")
    assert b"Discount approved by sam" in receipt.content and b"scratched" in receipt.content


def test_customers_are_found_by_exact_email_phone_or_customer_number(
    cast_a, stores_a, tenant_a, tenant_b, as_tenant, web
):
    with as_tenant(tenant_a):
        carol = customer_create(actor=None, name="Carol", email="carol@example.com", phone="+358 40 123 4567")
    with as_tenant(tenant_b):
        customer_create(actor=None, name="Bob's Carol", email="carol@example.com")
    client = web(cast_a["cashier"])
    url = f"/pos/{stores_a[0].pk}/customers/?q="
    number = carol.pk.hex[:8].upper()
    for query in ("Carol@Example.com", "+358401234567", number, str(carol.pk)):
        found = get(client, url + quote(query)).json()["results"]
        assert [(c["id"], c["name"], c["number"]) for c in found] == [(str(carol.pk), "Carol", number)], query
    for query in ("carol", "example.com", "0000000000", "", "x" * 10_000, "\x00"):
        assert get(client, url + quote(query)).json()["results"] == [], query


def test_a_sale_names_its_customer(cast_a, stores_a, coffee, tenant_a, as_tenant, web):
    with as_tenant(tenant_a):
        carol = customer_create(actor=None, name="Carol", email="carol@example.com")
    answer = post_json(
        web(cast_a["cashier"]), f"/pos/{stores_a[0].pk}/sales/", basket(coffee, customer=str(carol.pk))
    )
    assert answer.status_code == 201
    with as_tenant(tenant_a):
        assert Sale.objects.get().customer == carol


def test_a_shift_is_opened_used_and_closed_at_the_register(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web
):
    client = web(cast_a["cashier"])
    base = f"/pos/{stores_a[0].pk}"
    assert b"No open shift" in get(client, f"{base}/").content
    opened = client.post(f"{base}/shifts/", {"register": "front", "opening_float": "150,00"}, secure=True)
    assert opened.status_code == 302 and opened["Location"] == f"{base}/"
    page = get(client, f"{base}/")
    assert b"Register front open" in page.content and b'"register": "front"' in page.content
    sold = post_json(client, f"{base}/sales/", basket(coffee, 2, "cash", "20.00", register="front"))
    assert sold.status_code == 201 and sold.json()["change_due"] == "11.00"
    with as_tenant(tenant_a):
        shift = Shift.objects.get()
    x = get(client, f"{base}/shifts/{shift.pk}/")
    assert b"X report" in x.content and b"159.00" in x.content  # 150 + 9
    moved = client.post(
        f"{base}/shifts/{shift.pk}/cash/",
        {"kind": "pay_out", "amount": "4.00", "reason": "milk"},
        secure=True,
    )
    assert moved.status_code == 302
    closed = client.post(f"{base}/shifts/{shift.pk}/close/", {"counted_cash": "155.00"}, secure=True)
    assert closed.status_code == 302
    z = get(client, closed["Location"])
    assert b"Z report" in z.content and b'id="report-over-short">0.00' in z.content
    with as_tenant(tenant_a):
        report = ShiftReport.objects.get(shift=shift).data
        assert (report["sales"], report["expected_cash"], report["counted_cash"]) == (
            "9.00",
            "155.00",
            "155.00",
        )
    assert b"cash-move-form" not in z.content  # nothing more goes into a closed shift
    assert (
        post_json(client, f"{base}/sales/", basket(coffee, 1, "cash", "5.00")).json()["code"]
        == "no_open_shift"
    )


def test_bad_shift_input_is_400_and_changes_nothing(cast_a, stores_a, tenant_a, as_tenant, web, open_shift):
    client = web(cast_a["cashier"])
    base = f"/pos/{stores_a[0].pk}"
    before = counts(tenant_a, as_tenant)
    for data in (
        {"register": "2", "opening_float": "lots"},
        {"register": "", "opening_float": "1"},
        {"register": "2", "opening_float": "-5"},
        {"register": "x" * 10_000, "opening_float": "1"},
    ):
        assert client.post(f"{base}/shifts/", data, secure=True).status_code == 400, data
    assert (
        client.post(f"{base}/shifts/", {"register": "1", "opening_float": "1"}, secure=True).status_code
        == 409
    )
    for data in (
        {"kind": "pay_in", "amount": "0", "reason": "x"},
        {"kind": "rob", "amount": "1", "reason": "x"},
        {"kind": "pay_in", "amount": "1", "reason": ""},
        {"kind": "pay_in", "amount": "1e99", "reason": "x"},
    ):
        assert client.post(f"{base}/shifts/{open_shift.pk}/cash/", data, secure=True).status_code == 400, data
    assert (
        client.post(f"{base}/shifts/{open_shift.pk}/close/", {"counted_cash": ""}, secure=True).status_code
        == 400
    )
    assert counts(tenant_a, as_tenant) == before


def test_shift_pages_need_the_shift_permission_in_that_store(
    cast_a, stores_a, tenant_a, as_tenant, web, open_shift
):
    other = f"/pos/{stores_a[1].pk}"
    cashier = web(cast_a["cashier"])
    assert (
        cashier.post(f"{other}/shifts/", {"register": "1", "opening_float": "1"}, secure=True).status_code
        == 403
    )
    assert get(cashier, f"{other}/shifts/{open_shift.pk}/").status_code == 403
    integrator = web(cast_a["integrator"])
    before = counts(tenant_a, as_tenant)
    base = f"/pos/{stores_a[0].pk}"
    assert (
        integrator.post(
            f"{base}/shifts/{open_shift.pk}/close/", {"counted_cash": "1"}, secure=True
        ).status_code
        == 403
    )
    assert (
        integrator.post(
            f"{base}/shifts/{open_shift.pk}/cash/",
            {"kind": "pay_in", "amount": "1", "reason": "x"},
            secure=True,
        ).status_code
        == 403
    )
    assert counts(tenant_a, as_tenant) == before
    assert get(web(cast_a["auditor"]), f"{base}/shifts/{open_shift.pk}/").status_code == 200  # reads it


def test_a_shift_of_another_store_is_not_found_under_this_store(cast_a, stores_a, tenant_a, web):
    from tests.inventory.conftest import shift_open_for

    elsewhere = shift_open_for(tenant_a, stores_a[1], cast_a["owner"])
    assert get(web(cast_a["owner"]), f"/pos/{stores_a[0].pk}/shifts/{elsewhere.pk}/").status_code == 404


def test_goods_come_back_without_a_receipt_with_a_managers_approval(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web
):
    client = web(cast_a["cashier"])
    url = f"/pos/{stores_a[0].pk}/returns/"
    assert b'name="approver"' in get(client, url).content
    data = {"code-0": "4000000000017", "quantity-0": "2", "reason": "gift", "method": "card"}
    assert client.post(url, data, secure=True).status_code == 403
    for bad, status in (
        ({**data, "code-0": "nothing"}, 400),
        ({**data, "quantity-0": "0"}, 400),
        ({**data, "method": ""}, 400),
        ({**data, "reason": ""}, 400),
    ):
        assert (
            client.post(
                url, {**bad, "approver": "sam", "approver_password": PASSWORD}, secure=True
            ).status_code
            == status
        )
    assert counts(tenant_a, as_tenant)[1] == 0 and stock_of(tenant_a, stores_a[0], coffee) == 10
    done = client.post(url, {**data, "approver": "sam", "approver_password": PASSWORD}, secure=True)
    assert done.status_code == 302
    with as_tenant(tenant_a):
        back = Refund.objects.get()
        assert (back.sale, back.total, back.approved_by, back.reason) == (
            None,
            Decimal("9.00"),
            cast_a["store_manager"],
            "gift",
        )
    assert stock_of(tenant_a, stores_a[0], coffee) == 12


def test_a_cashier_refunds_from_the_receipt_with_a_managers_approval(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web, open_shift
):
    client = web(cast_a["cashier"])
    sold = post_json(client, f"/pos/{stores_a[0].pk}/sales/", basket(coffee, 2, "cash", "10.00")).json()
    receipt = f"/pos/{stores_a[0].pk}/sales/{sold['id']}/"
    with as_tenant(tenant_a):
        line = Sale.objects.get().lines.get()
    form = {f"line-{line.pk}": "1", "method": "cash", "approver": "sam", "approver_password": "wrong-1234567"}
    assert client.post(f"{receipt}refund/", form, secure=True).status_code == 403
    done = client.post(f"{receipt}refund/", {**form, "approver_password": PASSWORD}, secure=True)
    assert done.status_code == 302
    with as_tenant(tenant_a):
        refund = Refund.objects.get()
        assert (refund.approved_by, refund.shift, refund.total) == (
            cast_a["store_manager"],
            open_shift,
            Decimal("4.50"),
        )
        assert [(p.method, p.amount) for p in refund.payments.all()] == [("cash", Decimal("4.50"))]
        assert (
            SignInEvent.objects.filter(username="sam", kind="approval", reason="approve_refund").count() == 1
        )


def test_the_session_is_announced_extended_and_renewed_without_a_redirect(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web
):
    client = web(cast_a["cashier"])
    base = f"/pos/{stores_a[0].pk}"
    page = get(client, f"{base}/")
    left = int(page["Kassa-Session-Expires-In"])
    assert 890 <= left <= 900  # the cashier's role: 15 minutes idle
    with time_machine.travel(timezone.now() + timedelta(minutes=14), tick=False):
        extended = post_json(client, f"{base}/session/", {})
        assert extended.status_code == 200 and extended.json()["expires_in"] >= 899
    with time_machine.travel(timezone.now() + timedelta(minutes=14 + 16), tick=False):
        ended = get(client, f"{base}/products/?q=COF-1", HTTP_ACCEPT="application/json")
        assert ended.status_code == 401 and ended.json()["code"] == "session_expired"
        again = get(client, f"{base}/products/?q=COF-1", HTTP_ACCEPT="application/json")
        assert again.status_code == 401 and again.json()["code"] == "not_authenticated"
        wrong = post_json(client, f"{base}/signin/", {"username": "cody", "password": "not-it-1234567"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
        signed = post_json(client, f"{base}/signin/", {"username": "cody", "password": PASSWORD})
        assert signed.status_code == 200, signed.content
        assert signed.json()["username"] == "cody" and signed.json()["csrf"]
        sold = post_json(client, f"{base}/sales/", basket(coffee))
        assert sold.status_code == 201
    with as_tenant(tenant_a):
        outcomes = list(SignInEvent.objects.filter(username="cody").values_list("outcome", "reason"))
        assert ("failure", "bad_password") in outcomes


def test_signing_in_again_needs_the_sell_permission_in_that_store(cast_a, stores_a, web):
    client = web()
    refused = post_json(client, f"/pos/{stores_a[1].pk}/signin/", {"username": "cody", "password": PASSWORD})
    assert refused.status_code == 403
    assert post_json(client, f"/pos/{stores_a[1].pk}/signin/", [1]).status_code == 400
    assert post_json(client, f"/pos/{stores_a[1].pk}/signin/", {"username": 5}).status_code == 400


def test_the_lookup_delay_for_the_browser_tests_is_never_on_in_production(cast_a, stores_a, coffee, web):
    client = web(cast_a["cashier"])
    url = f"/pos/{stores_a[0].pk}/products/?q=COF-1"
    with override_settings(KASSA_POS_TEST_DELAY_MS=300):
        started = time.monotonic()
        assert get(client, url).status_code == 200
        assert time.monotonic() - started >= 0.3
        with override_settings(PRODUCTION=True):
            started = time.monotonic()
            get(client, url)
            assert time.monotonic() - started < 0.3


def test_a_lookup_shows_what_is_out_of_stock(cast_a, stores_a, coffee, tea, tenant_a, web):
    from tests.inventory.conftest import product_make

    product_make(tenant_a, "GONE-1", "1.00", "14.00", name="Product gone")
    found = get(web(cast_a["cashier"]), f"/pos/{stores_a[0].pk}/products/?q=product").json()["results"]
    assert {r["sku"]: r["out_of_stock"] for r in found} == {"COF-1": False, "TEA-1": False, "GONE-1": True}


def test_the_receipt_shows_vat_per_rate_the_business_id_local_time_and_marks_a_copy(
    cast_a, tenant_a, coffee, tea, as_tenant, web
):
    from inventory.services.catalogue import store_create

    with as_tenant(tenant_a):
        store = store_create(
            actor=None,
            name="Brooklyn",
            time_zone="America/New_York",
            business_id="1234567-8",
            receipt_auto_print=True,
        )
    make_user(tenant_a, "nina", "cashier", [store])
    stock_put(tenant_a, store, coffee, 5)
    stock_put(tenant_a, store, tea, 5)
    late = datetime(2025, 3, 10, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    with time_machine.travel(late, tick=False), as_tenant(tenant_a):
        sale = sale_create(
            store=store,
            lines=[SaleLineInput(product=coffee, quantity=1), SaleLineInput(product=tea, quantity=1)],
            payments=[PaymentInput("card", Decimal("7.49"))],
            actor=None,
        )
    from accounts.models import User

    with as_tenant(tenant_a):
        nina = User.objects.get(username="nina")
    client = web(nina)
    fresh = get(client, f"/pos/{store.pk}/sales/{sale.pk}/?new=1").content.decode()
    assert "Business ID 1234567-8" in fresh and "2025-03-10 23:30" in fresh
    assert 'data-auto-print="true"' in fresh and 'id="copy-mark" hidden' in fresh
    for rate, net, vat in (("7", "2.79", "0.20"), ("14", "3.95", "0.55")):
        assert f'<td>{rate} %</td><td class="num">{net}</td><td class="num">{vat}</td>' in fresh
    again = get(client, f"/pos/{store.pk}/sales/{sale.pk}/").content.decode()
    assert 'id="copy-mark">' in again and "data-auto-print" not in again and "Print a copy" in again


@pytest.mark.parametrize("path", ["customers/?q=x", "returns/", "shifts/"])
def test_the_new_register_pages_refuse_another_store(cast_a, stores_a, web, path):
    assert get(web(cast_a["cashier"]), f"/pos/{stores_a[1].pk}/{path}").status_code == 403


def test_the_register_and_its_reports_speak_finnish(cast_a, stores_a, web, open_shift):
    client = web(cast_a["cashier"], HTTP_ACCEPT_LANGUAGE="fi")
    page = client.get(f"/pos/{stores_a[0].pk}/", secure=True).content.decode()
    assert "Kassa 1 auki" in page and "Alennus koko ostoksesta" in page and "Palautus ilman kuittia" in page
    strings = json.loads(page.split('id="pos-strings" type="application/json">')[1].split("</script>")[0])
    assert strings["session_warning"].startswith("Istuntosi päättyy")  # the script's strings too
    x = client.get(f"/pos/{stores_a[0].pk}/shifts/{open_shift.pk}/", secure=True).content.decode()
    assert "X-raportti" in x and "Laatikossa pitäisi olla" in x
    report = web(cast_a["owner"], HTTP_ACCEPT_LANGUAGE="fi").get("/reports/", secure=True).content.decode()
    assert "Raportit" in report and "Varaston arvo" in report
