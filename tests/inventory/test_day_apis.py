"""The API of the day at the register: discounts and approvals, tenders, refunds and returns, shifts
with X and Z reports. Every endpoint: another tenant's object 404, a lacking permission 403, bad
input 400 in the documented shape, and a refused request changes nothing."""

import uuid
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from auditlog.models import SignInEvent
from inventory.models import CashMovement, Refund, Sale, Shift, ShiftReport, StockMovement
from tests.inventory.conftest import REGISTER, shift_open_for, stock_of, stock_put

ROLES = ["owner", "store_manager", "cashier", "integrator", "auditor"]
READERS = ROLES  # shifts and their reports: manage_shifts or view_sales
SHIFT_STAFF = ["owner", "store_manager", "cashier"]


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and isinstance(body["detail"], str), body
    return body


def state(tenant, as_tenant) -> tuple:
    with as_tenant(tenant):
        return (
            Sale.objects.count(),
            Refund.objects.count(),
            Shift.objects.count(),
            Shift.objects.filter(status="open").count(),
            CashMovement.objects.count(),
            ShiftReport.objects.count(),
            StockMovement.objects.count(),
        )


def sale(store, product, quantity=1, method="card", amount=None, **extra) -> dict:
    return {
        "store": str(store.pk),
        "lines": [{"product": str(product.pk), "quantity": quantity, **extra.pop("line", {})}],
        "payments": [{"method": method, "amount": amount or str(product.price * quantity)}],
        **extra,
    }


# (method, path, body, roles allowed): {shift} is an open shift of Alice's first store.
ENDPOINTS = [
    ("get", "/api/v1/shifts/", None, READERS),
    ("post", "/api/v1/shifts/", "open", SHIFT_STAFF),
    ("get", "/api/v1/shifts/{shift}/", None, READERS),
    ("get", "/api/v1/shifts/{shift}/report/", None, READERS),
    (
        "post",
        "/api/v1/shifts/{shift}/cash/",
        {"kind": "pay_in", "amount": "5.00", "reason": "coins"},
        SHIFT_STAFF,
    ),
    ("post", "/api/v1/shifts/{shift}/close/", {"counted_cash": "100.00"}, SHIFT_STAFF),
    ("post", "/api/v1/returns/", "return", ["owner", "store_manager"]),
    ("get", "/api/v1/reports/sales/", None, ["owner", "store_manager", "integrator", "auditor"]),
    ("get", "/api/v1/reports/tax/", None, ["owner", "store_manager", "integrator", "auditor"]),
    ("get", "/api/v1/reports/stock-value/", None, ["owner", "store_manager", "integrator", "auditor"]),
]


def _body(body, stores, coffee):
    if body == "open":
        return {"store": str(stores[0].pk), "register": "2", "opening_float": "50.00"}
    if body == "return":
        return {
            "store": str(stores[0].pk),
            "lines": [{"product": str(coffee.pk), "quantity": 1}],
            "reason": "no receipt",
            "payments": [{"method": "card", "amount": "4.50"}],
        }
    return body


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
def test_role_is_allowed_or_forbidden_and_a_refusal_changes_nothing(
    api, cast_a, stores_a, coffee, tenant_a, as_tenant, open_shift, role, method, path, body, allowed
):
    before = state(tenant_a, as_tenant)
    response = getattr(api(cast_a[role]), method)(
        path.format(shift=open_shift.pk), _body(body, stores_a, coffee)
    )
    if role in allowed:
        assert response.status_code in (200, 201), response.content
    else:
        assert_error(response, 403, "permission_denied")
        assert state(tenant_a, as_tenant) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [(m, p, b) for m, p, b, _ in ENDPOINTS if "{" in p],
    ids=[p for _, p, _, _ in ENDPOINTS if "{" in p],
)
def test_another_tenants_shift_is_not_found_and_untouched(
    api, cast_a, tenant_b, stores_b, cast_b, as_tenant, method, path, body
):
    bobs = shift_open_for(tenant_b, stores_b[0], cast_b["owner"])
    before = state(tenant_b, as_tenant)
    response = getattr(api(cast_a["owner"]), method)(path.format(shift=bobs.pk), body)
    assert response.json() == {"code": "not_found", "detail": "Not found."}
    assert response.status_code == 404
    assert_error(
        getattr(api(cast_a["owner"]), method)(path.format(shift=uuid.uuid4()), body), 404, "not_found"
    )
    assert state(tenant_b, as_tenant) == before


def test_another_tenants_store_or_product_in_a_body_is_invalid(
    api, cast_a, stores_b, bobs_product, stores_a, coffee, tenant_b, as_tenant
):
    client = api(cast_a["owner"])
    before = state(tenant_b, as_tenant)
    opened = client.post(
        "/api/v1/shifts/", {"store": str(stores_b[0].pk), "register": "1", "opening_float": "1"}
    )
    assert "store" in assert_error(opened, 400, "invalid")["fields"]
    back = client.post(
        "/api/v1/returns/",
        {
            "store": str(stores_a[0].pk),
            "lines": [{"product": str(bobs_product.pk), "quantity": 1}],
            "reason": "x",
            "payments": [{"method": "card", "amount": "1.00"}],
        },
    )
    assert "lines" in assert_error(back, 400, "invalid")["fields"]
    report = client.get(f"/api/v1/reports/sales/?store={stores_b[0].pk}")
    assert "store" in assert_error(report, 400, "invalid")["fields"]
    assert state(tenant_b, as_tenant) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/shifts/", {"register": "", "opening_float": "1"}, "register"),
        ("/api/v1/shifts/", {"register": "1", "opening_float": "-1"}, "opening_float"),
        ("/api/v1/shifts/", {"register": "1", "opening_float": "1e40"}, "opening_float"),
        ("/api/v1/shifts/", {"register": "x" * 10_000, "opening_float": "1"}, "register"),
        ("/api/v1/shifts/", {"register": "1\x00", "opening_float": "1"}, "register"),
        ("/api/v1/shifts/{shift}/cash/", {"kind": "steal", "amount": "5", "reason": "x"}, "kind"),
        ("/api/v1/shifts/{shift}/cash/", {"kind": "pay_in", "amount": "0", "reason": "x"}, "amount"),
        ("/api/v1/shifts/{shift}/cash/", {"kind": "pay_out", "amount": "NaN", "reason": "x"}, "amount"),
        ("/api/v1/shifts/{shift}/cash/", {"kind": "pay_out", "amount": "1", "reason": ""}, "reason"),
        ("/api/v1/shifts/{shift}/close/", {"counted_cash": "lots"}, "counted_cash"),
        ("/api/v1/returns/", {"lines": [], "reason": "x", "payments": []}, "lines"),
        ("/api/v1/returns/", "return-no-reason", "reason"),
        ("/api/v1/returns/", "return-short", "payments"),
        ("/api/v1/returns/", "return-zero", "lines"),
        ("/api/v1/sales/", "sale-150-percent", "lines"),
        ("/api/v1/sales/", "sale-both", "discount"),
        ("/api/v1/sales/", "sale-amount-over", "lines"),
        ("/api/v1/sales/", "sale-approver-without-password", "approved_by"),
        ("/api/v1/sales/", "sale-long-register", "register"),
    ],
)
def test_bad_input_is_400_with_its_field_and_changes_nothing(
    api, cast_a, stores_a, coffee, tenant_a, as_tenant, open_shift, path, body, field
):
    store = str(stores_a[0].pk)
    line = [{"product": str(coffee.pk), "quantity": 1}]
    card = [{"method": "card", "amount": "4.50"}]
    bodies = {
        "return-no-reason": {"store": store, "lines": line, "reason": "", "payments": card},
        "return-short": {
            "store": store,
            "lines": line,
            "reason": "x",
            "payments": [{"method": "card", "amount": "1"}],
        },
        "return-zero": {
            "store": store,
            "lines": [{"product": str(coffee.pk), "quantity": 0}],
            "reason": "x",
            "payments": card,
        },
        "sale-150-percent": sale(stores_a[0], coffee, line={"discount": {"percent": "150", "reason": "x"}}),
        "sale-both": sale(stores_a[0], coffee, discount={"percent": "5", "amount": "1.00"}),
        "sale-amount-over": sale(stores_a[0], coffee, amount="0.01", line={"discount": {"amount": "9.00"}}),
        "sale-approver-without-password": sale(
            stores_a[0], coffee, line={"discount": {"percent": "50"}}, approved_by={"username": "sam"}
        ),
        "sale-long-register": sale(stores_a[0], coffee, register="r" * 10_000),
    }
    if isinstance(body, str):
        body = bodies[body]
    elif path == "/api/v1/shifts/":
        body = {"store": store, **body}
    before = state(tenant_a, as_tenant)
    answer = assert_error(api(cast_a["owner"]).post(path.format(shift=open_shift.pk), body), 400, "invalid")
    assert field in answer["fields"], answer
    assert state(tenant_a, as_tenant) == before
    assert stock_of(tenant_a, stores_a[0], coffee) == 10


def test_a_sale_shows_list_price_discount_net_and_tax_per_rate(api, cast_a, stores_a, coffee, tea):
    body = {
        "store": str(stores_a[0].pk),
        "lines": [
            {"product": str(coffee.pk), "quantity": 2, "discount": {"percent": "10.00", "reason": "dented"}},
            {"product": str(tea.pk), "quantity": 1},
        ],
        "discount": {"amount": "0.50", "reason": "loyal"},
        "payments": [{"method": "card", "amount": "10.59"}],
    }
    answer = api(cast_a["store_manager"]).post("/api/v1/sales/", body)
    assert answer.status_code == 201, answer.content
    sold = answer.json()
    first, second = sold["lines"]
    # 0.50 over 8.10 and 2.99 by the largest remainder: 36.52 and 13.48 cents -> 0.37 and 0.13.
    assert (first["unit_price"], first["list_total"], first["discount"]) == ("4.50", "9.00", "1.27")
    assert first["basket_discount"] == "0.37" and second["basket_discount"] == "0.13"
    assert Decimal(first["net"]) == Decimal(first["line_total"]) - Decimal(first["line_tax"])
    assert sold["total"] == "10.59" and sold["discount_total"] == "1.40"
    assert sold["discount"] == {"percent": None, "amount": "0.50", "reason": "loyal"}
    assert [(t["rate"], t["gross"]) for t in sold["taxes"]] == [("7.00", "2.86"), ("14.00", "7.73")]
    for tax in sold["taxes"]:
        assert Decimal(tax["net"]) + Decimal(tax["tax"]) == Decimal(tax["gross"])


def test_a_discount_above_the_limit_is_403_unless_a_manager_approves_through_the_sign_in_rules(
    api, cast_a, stores_a, coffee, tenant_a, as_tenant
):
    from tests.conftest import PASSWORD

    client = api(cast_a["cashier"])
    body = sale(
        stores_a[0], coffee, amount="2.25", line={"discount": {"percent": "50", "reason": "last one"}}
    )
    assert_error(client.post("/api/v1/sales/", body), 403, "discount_above_limit")
    wrong = {**body, "approved_by": {"username": "sam", "password": "not-his-password-1"}}
    refused = assert_error(client.post("/api/v1/sales/", wrong), 403, "discount_above_limit")
    assert "Wrong username or password" in refused["detail"]
    peer = make_peer(tenant_a, stores_a)
    not_enough = {**body, "approved_by": {"username": peer.username, "password": PASSWORD}}
    assert (
        "may not approve"
        in assert_error(client.post("/api/v1/sales/", not_enough), 403, "discount_above_limit")["detail"]
    )
    with as_tenant(tenant_a):
        assert not Sale.objects.exists()
        failed = SignInEvent.objects.get(username="sam")  # kept although the sale was refused
        assert (failed.kind, failed.outcome, failed.reason) == ("approval", "failure", "bad_password")
    right = {**body, "approved_by": {"username": "sam", "password": PASSWORD}}
    done = client.post("/api/v1/sales/", right, HTTP_IDEMPOTENCY_KEY="basket-1")
    assert done.status_code == 201, done.content
    again = client.post("/api/v1/sales/", right, HTTP_IDEMPOTENCY_KEY="basket-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    with as_tenant(tenant_a):
        sold = Sale.objects.get()
        assert sold.approved_by == cast_a["store_manager"] and sold.cashier == cast_a["cashier"]
        approvals = SignInEvent.objects.filter(username="sam", outcome="success")
        assert [(e.kind, e.reason) for e in approvals] == [("approval", "approve_discount")]  # not twice
    assert done.json()["approved_by"] == str(cast_a["store_manager"].pk)


def make_peer(tenant, stores):
    from tests.conftest import make_user

    return make_user(tenant, "casey", "cashier", [stores[0]])


def test_failed_approvals_count_towards_the_managers_lockout(
    api, cast_a, stores_a, coffee, tenant_a, as_tenant
):
    from tests.conftest import PASSWORD

    client = api(cast_a["cashier"])
    body = sale(stores_a[0], coffee, amount="2.25", line={"discount": {"percent": "50", "reason": "x"}})
    for _ in range(10):  # the store manager's role locks after 10 failures
        wrong = {**body, "approved_by": {"username": "sam", "password": "guess-1234567"}}
        assert_error(client.post("/api/v1/sales/", wrong), 403, "discount_above_limit")
    right = {**body, "approved_by": {"username": "sam", "password": PASSWORD}}
    locked = assert_error(client.post("/api/v1/sales/", right), 403, "discount_above_limit")
    assert "Too many failed attempts" in locked["detail"]
    with as_tenant(tenant_a):
        assert not Sale.objects.exists()
        assert SignInEvent.objects.filter(username="sam", kind="lockout").count() == 1
    # Sam himself is locked out of signing in too: one counter, whatever the channel.
    assert_error(
        api().post("/api/v1/auth/token/", {"tenant": "alice-chain", "username": "sam", "password": PASSWORD}),
        429,
        "locked_out",
    )


def test_a_shift_through_the_api_from_float_to_z_report(
    api, cast_a, stores_a, coffee, tea, tenant_a, as_tenant
):
    client = api(cast_a["cashier"])
    store = str(stores_a[0].pk)
    opened = client.post("/api/v1/shifts/", {"store": store, "register": "front", "opening_float": "100.00"})
    assert opened.status_code == 201
    shift = opened.json()["id"]
    assert_error(
        client.post("/api/v1/shifts/", {"store": store, "register": "front", "opening_float": "1"}),
        409,
        "shift_already_open",
    )
    first = client.post("/api/v1/sales/", sale(stores_a[0], coffee, 2, "cash", "10.00", register="front"))
    second = client.post("/api/v1/sales/", sale(stores_a[0], tea, 1, "card", "2.99"))  # the only open shift
    assert first.status_code == second.status_code == 201
    assert first.json()["shift"] == second.json()["shift"] == shift and first.json()["change_due"] == "1.00"
    refund = api(cast_a["store_manager"]).post(
        f"/api/v1/sales/{second.json()['id']}/refund/", {"payments": [{"method": "cash", "amount": "2.99"}]}
    )
    assert refund.status_code == 201, refund.content
    assert refund.json()["payments"] == [{"method": "cash", "amount": "2.99", "reference": ""}]
    assert (
        client.post(
            f"/api/v1/shifts/{shift}/cash/", {"kind": "pay_out", "amount": "3.00", "reason": "stamps"}
        ).status_code
        == 201
    )
    x = client.get(f"/api/v1/shifts/{shift}/report/").json()
    assert (x["kind"], x["expected_cash"], x["counted_cash"]) == ("X", "103.01", None)
    closed = client.post(f"/api/v1/shifts/{shift}/close/", {"counted_cash": "103.00"})
    assert closed.status_code == 201
    z = closed.json()
    assert (z["kind"], z["sales"], z["refunds"], z["expected_cash"], z["over_short"]) == (
        "Z",
        "11.99",
        "2.99",
        "103.01",
        "-0.01",
    )
    assert z["opening_float"] == "100.00" and z["pay_outs"] == "3.00" and z["pay_ins"] == "0.00"
    assert sum(Decimal(t["gross"]) for t in z["taxes"]) == Decimal("9.00")
    assert client.get(f"/api/v1/shifts/{shift}/report/").json() == z  # the stored Z report, as it was
    assert_error(client.post(f"/api/v1/shifts/{shift}/close/", {"counted_cash": "0"}), 409, "shift_closed")
    assert_error(
        client.post(f"/api/v1/shifts/{shift}/cash/", {"kind": "pay_in", "amount": "1", "reason": "x"}),
        409,
        "shift_closed",
    )
    assert client.get(f"/api/v1/shifts/?store={store}&status=closed").json()["results"][0]["id"] == shift
    # The store runs shifts now: cash with none open is refused, and nothing is sold.
    with as_tenant(tenant_a):
        sold = Sale.objects.count()
    assert_error(
        client.post("/api/v1/sales/", sale(stores_a[0], coffee, method="cash", amount="5.00")),
        409,
        "no_open_shift",
    )
    with as_tenant(tenant_a):
        assert Sale.objects.count() == sold


def test_a_return_without_a_receipt_through_the_api(api, cast_a, stores_a, coffee, tenant_a, as_tenant):
    from tests.conftest import PASSWORD

    body = {
        "store": str(stores_a[0].pk),
        "lines": [{"product": str(coffee.pk), "quantity": 2}],
        "reason": "a gift",
        "payments": [{"method": "voucher", "amount": "9.00", "reference": "V-77"}],
    }
    assert_error(api(cast_a["cashier"]).post("/api/v1/returns/", body), 403, "permission_denied")
    approved = {**body, "approved_by": {"username": "sam", "password": PASSWORD}}
    back = api(cast_a["cashier"]).post("/api/v1/returns/", approved)
    assert back.status_code == 201, back.content
    answer = back.json()
    assert (
        answer["sale"] is None
        and answer["total"] == "9.00"
        and answer["approved_by"] == str(cast_a["store_manager"].pk)
    )
    assert answer["lines"][0]["sku"] == "COF-1" and answer["payments"][0]["reference"] == "V-77"
    assert stock_of(tenant_a, stores_a[0], coffee) == 12


def test_a_cashier_refunds_once_with_approval_through_the_api(
    api, cast_a, stores_a, coffee, tenant_a, as_tenant
):
    from tests.conftest import PASSWORD

    sold = api(cast_a["cashier"]).post("/api/v1/sales/", sale(stores_a[0], coffee, 2)).json()
    url = f"/api/v1/sales/{sold['id']}/refund/"
    assert_error(api(cast_a["cashier"]).post(url, {}), 403, "permission_denied")
    refunded = api(cast_a["cashier"]).post(url, {"approved_by": {"username": "alice", "password": PASSWORD}})
    assert refunded.status_code == 201, refunded.content
    assert refunded.json()["approved_by"] == str(cast_a["owner"].pk)
    with as_tenant(tenant_a):
        assert Sale.objects.get().status == "refunded"


def test_the_sales_list_filters_by_a_stores_local_day(api, cast_a, tenant_a, coffee, as_tenant):
    from inventory.services.catalogue import store_create

    with as_tenant(tenant_a):
        store = store_create(actor=None, name="Brooklyn", time_zone="America/New_York")
    stock_put(tenant_a, store, coffee, 5)
    with time_machine.travel(datetime(2025, 3, 10, 23, 30, tzinfo=ZoneInfo("America/New_York")), tick=False):
        made = api(cast_a["owner"]).post("/api/v1/sales/", sale(store, coffee)).json()
    assert made["created_at"].startswith("2025-03-11T03:30")  # stored and answered in UTC
    client = api(cast_a["owner"])
    assert [s["id"] for s in client.get("/api/v1/sales/?day=2025-03-10").json()["results"]] == [made["id"]]
    assert client.get("/api/v1/sales/?day=2025-03-11").json()["results"] == []
    report = client.get(f"/api/v1/reports/sales/?since=2025-03-10&until=2025-03-10&store={store.pk}").json()
    assert [(r["key"], r["gross"]) for r in report["rows"]] == [("2025-03-10", "4.50")]


def test_register_defaults_to_the_only_open_shift_even_for_card(api, cast_a, stores_a, coffee, open_shift):
    made = api(cast_a["cashier"]).post("/api/v1/sales/", sale(stores_a[0], coffee)).json()
    assert made["register"] == REGISTER and made["shift"] == str(open_shift.pk)


def test_the_approvers_password_never_reaches_the_api_call_log(
    api, cast_a, stores_a, coffee, tenant_a, as_tenant
):
    from auditlog.models import ApiCall
    from tests.conftest import PASSWORD

    body = sale(stores_a[0], coffee, amount="2.25", line={"discount": {"percent": "50", "reason": "x"}})
    body["approved_by"] = {"username": "sam", "password": PASSWORD}
    done = api(cast_a["cashier"]).post("/api/v1/sales/", body)
    assert done.status_code == 201
    with as_tenant(tenant_a):
        logged = ApiCall.objects.get(request_id=done["X-Request-ID"])
    assert PASSWORD not in logged.request_body and '"username": "sam"' in logged.request_body.replace(
        '":"', '": "'
    )
