"""The day at the register, as services: discounts within a ceiling or approved, tenders that cover
the total, cash only in an open shift, refunds and returns with their tenders, and Z reports that
equal their shift's sales, refunds and cash movements, stored for good."""

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction

from accounts.approvals import DISCOUNT, REFUND, RETURN, Approval
from inventory.errors import DiscountAboveLimit, NoOpenShift, ShiftAlreadyOpen, ShiftClosed
from inventory.models import CashMovement, Refund, RefundPayment, Sale, SaleTax, Shift, ShiftReport
from inventory.selectors import in_local_day, shift_figures
from inventory.services.pricing import Discount
from inventory.services.sales import (
    PaymentInput,
    RefundLineInput,
    ReturnLineInput,
    SaleLineInput,
    return_create,
    sale_create,
    sale_refund,
)
from inventory.services.shifts import shift_cash_move, shift_close, shift_open
from tenants.timezones import day_bounds
from tests.inventory.conftest import ledger_sum, product_make, stock_of, stock_put


def card(amount) -> list[PaymentInput]:
    return [PaymentInput(method="card", amount=Decimal(amount))]


def cash(amount) -> list[PaymentInput]:
    return [PaymentInput(method="cash", amount=Decimal(amount))]


def test_a_cashier_gives_a_discount_up_to_the_roles_ceiling(tenant_a, stores_a, cast_a, coffee, as_tenant):
    with as_tenant(tenant_a):
        sale = sale_create(
            store=stores_a[0],
            lines=[
                SaleLineInput(
                    product=coffee, quantity=2, discount=Discount(percent=Decimal("10"), reason="dent")
                )
            ],
            payments=card("8.10"),
            actor=cast_a["cashier"],
        )
        line = sale.lines.get()
        assert (line.list_total, line.discount, line.line_total) == (
            Decimal("9.00"),
            Decimal("0.90"),
            Decimal("8.10"),
        )
        assert (sale.total, sale.discount_total, sale.approved_by) == (Decimal("8.10"), Decimal("0.90"), None)
        assert line.discount_reason == "dent"


def test_above_the_ceiling_a_sale_needs_an_approver_who_may_give_it(
    tenant_a, stores_a, cast_a, coffee, as_tenant
):
    lines = [
        SaleLineInput(product=coffee, quantity=1, discount=Discount(percent=Decimal("15"), reason="old"))
    ]
    with as_tenant(tenant_a):
        with pytest.raises(DiscountAboveLimit):
            sale_create(store=stores_a[0], lines=lines, payments=card("3.82"), actor=cast_a["cashier"])
        another_cashier = Approval(user=cast_a["cashier"], purpose=DISCOUNT)
        with pytest.raises(DiscountAboveLimit, match="may not approve"):
            sale_create(
                store=stores_a[0],
                lines=lines,
                payments=card("3.82"),
                actor=cast_a["cashier"],
                approval=another_cashier,
            )
        assert not Sale.objects.exists()
        approved = sale_create(
            store=stores_a[0],
            lines=lines,
            payments=card("3.82"),
            actor=cast_a["cashier"],
            approval=Approval(user=cast_a["store_manager"], purpose=DISCOUNT),
        )
        assert approved.approved_by == cast_a["store_manager"] and approved.total == Decimal("3.82")
    assert stock_of(tenant_a, stores_a[0], coffee) == 9


def test_a_role_without_give_discount_needs_an_approval_for_any_discount(
    tenant_a, stores_a, cast_a, coffee, as_tenant
):
    with as_tenant(tenant_a):
        from accounts.models import Role

        cashier_role = Role.objects.get(builtin="cashier")
        cashier_role.permissions = [p for p in cashier_role.permissions if p != "give_discount"]
        cashier_role.save(update_fields=["permissions"])
        with pytest.raises(DiscountAboveLimit, match="no discounts"):
            sale_create(
                store=stores_a[0],
                lines=[SaleLineInput(product=coffee, quantity=1)],
                discount=Discount(amount=Decimal("0.01"), reason="round down"),
                payments=card("4.49"),
                actor=cast_a["cashier"],
            )


def test_tenders_cover_the_total_and_only_cash_gives_change(
    tenant_a, stores_a, cast_a, coffee, tea, as_tenant, open_shift
):
    lines = [SaleLineInput(product=coffee, quantity=1), SaleLineInput(product=tea, quantity=1)]  # 7.49
    with as_tenant(tenant_a):
        with pytest.raises(ValidationError, match="do not cover"):
            sale_create(store=stores_a[0], lines=lines, payments=card("7.48"), actor=cast_a["cashier"])
        with pytest.raises(ValidationError, match="Only cash"):
            sale_create(
                store=stores_a[0],
                lines=lines,
                payments=[PaymentInput("voucher", Decimal("5.00")), PaymentInput("card", Decimal("3.00"))],
                actor=cast_a["cashier"],
            )
        split = sale_create(
            store=stores_a[0],
            lines=lines,
            payments=[
                PaymentInput("voucher", Decimal("2.00"), "V-1"),
                PaymentInput("card", Decimal("3.00")),
                PaymentInput("cash", Decimal("5.00")),
            ],
            actor=cast_a["cashier"],
        )
        assert (split.paid, split.change_due, split.shift_id, split.register) == (
            Decimal("10.00"),
            Decimal("2.51"),
            open_shift.pk,
            "1",
        )
        assert Sale.objects.count() == 1


def test_cash_needs_an_open_shift_on_its_register_and_card_does_not(
    tenant_a, stores_a, cast_a, coffee, as_tenant
):
    lines = [SaleLineInput(product=coffee, quantity=1)]
    with as_tenant(tenant_a):
        # A store that has never opened a shift (an integrator's own till) takes cash as before.
        assert (
            sale_create(store=stores_a[0], lines=lines, payments=cash("5.00"), actor=cast_a["cashier"]).shift
            is None
        )
        assert (
            sale_create(store=stores_a[0], lines=lines, payments=card("4.50"), actor=cast_a["cashier"]).shift
            is None
        )
        one = shift_open(
            store=stores_a[0], register="1", opening_float=Decimal("50"), actor=cast_a["cashier"]
        )
        two = shift_open(
            store=stores_a[0], register="2", opening_float=Decimal("50"), actor=cast_a["store_manager"]
        )
        with pytest.raises(NoOpenShift, match="name the register"):
            sale_create(store=stores_a[0], lines=lines, payments=cash("5.00"), actor=cast_a["cashier"])
        with pytest.raises(NoOpenShift, match="'3' has no open shift"):
            sale_create(
                store=stores_a[0], lines=lines, payments=cash("5.00"), actor=cast_a["cashier"], register="3"
            )
        on_two = sale_create(
            store=stores_a[0], lines=lines, payments=cash("5.00"), actor=cast_a["cashier"], register="2"
        )
        assert on_two.shift == two and on_two.register == "2"
        with pytest.raises(ShiftAlreadyOpen):
            shift_open(store=stores_a[0], register="1", opening_float=Decimal("0"), actor=cast_a["owner"])
        shift_close(shift=one, counted_cash=Decimal("50"), actor=cast_a["cashier"])
        assert (
            sale_create(store=stores_a[0], lines=lines, payments=cash("4.50"), actor=cast_a["cashier"]).shift
            == two
        )
        shift_close(shift=two, counted_cash=Decimal("54.50"), actor=cast_a["store_manager"])
        # Once the store runs shifts, cash needs an open one, even when none is open.
        with pytest.raises(NoOpenShift, match="No shift is open"):
            sale_create(store=stores_a[0], lines=lines, payments=cash("5.00"), actor=cast_a["cashier"])
    assert stock_of(tenant_a, stores_a[0], coffee) == 6


def test_refunds_record_their_tenders_card_first_by_default(
    tenant_a, stores_a, cast_a, coffee, as_tenant, open_shift
):
    with as_tenant(tenant_a):
        sale = sale_create(
            store=stores_a[0],
            lines=[SaleLineInput(product=coffee, quantity=4)],  # 18.00
            payments=[
                PaymentInput("cash", Decimal("10.00")),
                PaymentInput("card", Decimal("10.00")),
            ],  # 2.00 change
            actor=cast_a["cashier"],
        )
        line = sale.lines.get()
        first = sale_refund(
            sale=sale, lines=[RefundLineInput(sale_line=line, quantity=3)], actor=cast_a["store_manager"]
        )
        assert [(p.method, p.amount) for p in first.payments.all()] == [
            ("card", Decimal("10.00")),
            ("cash", Decimal("3.50")),
        ]
        rest = sale_refund(sale=sale, actor=cast_a["store_manager"])
        assert [(p.method, p.amount) for p in rest.payments.all()] == [("cash", Decimal("4.50"))]
        assert first.shift == rest.shift == open_shift
        with pytest.raises(ValidationError, match="must equal"):
            again = sale_create(
                store=stores_a[0],
                lines=[SaleLineInput(product=coffee, quantity=1)],
                payments=card("4.50"),
                actor=None,
            )
            sale_refund(sale=again, actor=cast_a["owner"], payments=card("4.00"))


def test_the_refunds_of_a_sale_give_back_exactly_its_tax_per_rate(tenant_a, stores_a, cast_a, as_tenant):
    odd = product_make(tenant_a, "ODD-3", "0.10", "24.00")
    stock_put(tenant_a, stores_a[0], odd, 30)
    with as_tenant(tenant_a):
        sale = sale_create(
            store=stores_a[0],
            lines=[SaleLineInput(product=odd, quantity=10)],
            payments=card("1.00"),
            actor=None,
        )
        line = sale.lines.get()
        taxes = [
            sale_refund(
                sale=sale, lines=[RefundLineInput(sale_line=line, quantity=1)], actor=cast_a["owner"]
            ).tax_total
            for _ in range(10)
        ]
        assert SaleTax.objects.get(sale=sale).tax == Decimal("0.19") == sum(taxes)


def test_a_cashier_refunds_once_with_a_managers_approval(tenant_a, stores_a, cast_a, coffee, as_tenant):
    with as_tenant(tenant_a):
        sale = sale_create(
            store=stores_a[0],
            lines=[SaleLineInput(product=coffee, quantity=2)],
            payments=card("9.00"),
            actor=None,
        )
        line = sale.lines.get()
        with pytest.raises(PermissionDenied):
            sale_refund(
                sale=sale, lines=[RefundLineInput(sale_line=line, quantity=1)], actor=cast_a["cashier"]
            )
        with pytest.raises(PermissionDenied, match="may not approve"):
            sale_refund(
                sale=sale,
                lines=[RefundLineInput(sale_line=line, quantity=1)],
                actor=cast_a["cashier"],
                approval=Approval(user=cast_a["auditor"], purpose=REFUND),
            )
        assert not Refund.objects.exists()
        refund = sale_refund(
            sale=sale,
            lines=[RefundLineInput(sale_line=line, quantity=1)],
            actor=cast_a["cashier"],
            approval=Approval(user=cast_a["store_manager"], purpose=REFUND),
        )
        assert (refund.actor, refund.approved_by) == (cast_a["cashier"], cast_a["store_manager"])
        with pytest.raises(PermissionDenied):  # the approval was for that refund only
            sale_refund(sale=sale, actor=cast_a["cashier"])


def test_a_return_without_a_receipt_needs_its_permission_a_reason_and_exact_money_back(
    tenant_a, stores_a, cast_a, coffee, as_tenant
):
    lines = [ReturnLineInput(product=coffee, quantity=2)]
    with as_tenant(tenant_a):
        with pytest.raises(PermissionDenied):
            return_create(
                store=stores_a[0], actor=cast_a["cashier"], lines=lines, reason="gift", payments=card("9.00")
            )
        with pytest.raises(ValidationError, match="without a receipt"):
            return_create(
                store=stores_a[0],
                actor=cast_a["store_manager"],
                lines=lines,
                reason=" ",
                payments=card("9.00"),
            )
        with pytest.raises(ValidationError, match="must equal"):
            return_create(
                store=stores_a[0],
                actor=cast_a["store_manager"],
                lines=lines,
                reason="gift",
                payments=card("8.00"),
            )
        closed = shift_open(
            store=stores_a[0], register="9", opening_float=Decimal("0"), actor=cast_a["store_manager"]
        )
        shift_close(shift=closed, counted_cash=Decimal("0"), actor=cast_a["store_manager"])
        with pytest.raises(NoOpenShift):  # the store runs shifts and none is open
            return_create(
                store=stores_a[0],
                actor=cast_a["store_manager"],
                lines=lines,
                reason="gift",
                payments=cash("9.00"),
            )
        assert not Refund.objects.exists()
        back = return_create(
            store=stores_a[0],
            actor=cast_a["cashier"],
            lines=lines,
            reason="gift, no receipt",
            payments=card("9.00"),
            approval=Approval(user=cast_a["store_manager"], purpose=RETURN),
        )
        assert (back.sale, back.total, back.approved_by) == (None, Decimal("9.00"), cast_a["store_manager"])
        assert back.lines.get().product == coffee
        assert [(t.rate, t.tax) for t in back.taxes.all()] == [(Decimal("14.00"), Decimal("1.11"))]
    assert stock_of(tenant_a, stores_a[0], coffee) == 12 == ledger_sum(tenant_a, stores_a[0], coffee)


def test_a_z_report_equals_its_shifts_sales_refunds_and_cash_movements(
    tenant_a, stores_a, cast_a, coffee, tea, as_tenant
):
    with as_tenant(tenant_a):
        shift = shift_open(
            store=stores_a[0], register="A", opening_float=Decimal("150.00"), actor=cast_a["cashier"]
        )
        sales = [
            sale_create(
                store=stores_a[0],
                lines=[
                    SaleLineInput(
                        product=coffee, quantity=2, discount=Discount(percent=Decimal("10"), reason="r")
                    )
                ],
                payments=cash("10.00"),
                actor=cast_a["cashier"],
            ),
            sale_create(
                store=stores_a[0],
                lines=[SaleLineInput(product=tea, quantity=1), SaleLineInput(product=coffee, quantity=1)],
                payments=[PaymentInput("card", Decimal("5.00")), PaymentInput("cash", Decimal("5.00"))],
                actor=cast_a["cashier"],
            ),
        ]
        refund = sale_refund(sale=sales[0], actor=cast_a["store_manager"], tender_method="cash")
        shift_cash_move(
            shift=shift, kind="pay_in", amount=Decimal("20.00"), reason="change", actor=cast_a["cashier"]
        )
        shift_cash_move(
            shift=shift, kind="pay_out", amount=Decimal("7.50"), reason="milk", actor=cast_a["cashier"]
        )
        x = shift_figures(shift=shift)
        report = shift_close(shift=shift, counted_cash=Decimal("160.00"), actor=cast_a["cashier"])
        z = report.data
        total = sum((s.total for s in sales), Decimal(0))
        cash_in = sum(
            (p.amount for s in sales for p in s.payments.all() if p.method == "cash"), Decimal(0)
        ) - sum((s.change_due for s in sales), Decimal(0))
        cash_back = sum(
            (p.amount for p in RefundPayment.objects.filter(refund=refund, method="cash")), Decimal(0)
        )
        expected = Decimal("150.00") + cash_in - cash_back + Decimal("20.00") - Decimal("7.50")
        assert (z["kind"], x["kind"]) == ("Z", "X")
        assert Decimal(z["sales"]) == total == Decimal("15.59") and z["sales_count"] == 2
        assert Decimal(z["refunds"]) == refund.total and Decimal(z["discounts"]) == Decimal("0.90")
        assert Decimal(z["expected_cash"]) == expected == Decimal(x["expected_cash"])
        assert Decimal(z["counted_cash"]) - Decimal(z["expected_cash"]) == Decimal(z["over_short"])
        assert sum(Decimal(t["gross"]) for t in z["taxes"]) == total - refund.total
        sold_tax = sum((t.tax for s in sales for t in s.taxes.all()), Decimal(0))
        assert sum(Decimal(t["tax"]) for t in z["taxes"]) == sold_tax - refund.tax_total
        tenders = {t["method"]: t for t in z["tenders"]}
        assert Decimal(tenders["card"]["net"]) == Decimal("5.00")
        assert Decimal(tenders["cash"]["net"]) == cash_in - cash_back
        assert [m["kind"] for m in z["cash_movements"]] == ["pay_in", "pay_out"]
        shift.refresh_from_db()
        assert shift.status == "closed" and ShiftReport.objects.get(shift=shift).data == z
        with pytest.raises(ShiftClosed):
            shift_cash_move(
                shift=shift, kind="pay_in", amount=Decimal("1"), reason="late", actor=cast_a["cashier"]
            )
        with pytest.raises(ShiftClosed):
            shift_close(shift=shift, counted_cash=Decimal("0"), actor=cast_a["cashier"])
        assert CashMovement.objects.filter(shift=shift).count() == 2


def test_a_z_report_and_a_closed_shift_cannot_be_changed_even_in_sql(tenant_a, stores_a, cast_a, as_tenant):
    with as_tenant(tenant_a):
        shift = shift_open(
            store=stores_a[0], register="A", opening_float=Decimal("10"), actor=cast_a["cashier"]
        )
        report = shift_close(shift=shift, counted_cash=Decimal("10"), actor=cast_a["cashier"])
        for statement in (
            "UPDATE inventory_shiftreport SET data = '{}' WHERE id = %s",
            "DELETE FROM inventory_shiftreport WHERE id = %s",
            "UPDATE inventory_shift SET counted_cash = 0 WHERE id = %s",
            "DELETE FROM inventory_shift WHERE id = %s",
        ):
            target = report.pk if "shiftreport" in statement else shift.pk
            with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [target])
        assert ShiftReport.objects.get(pk=report.pk).data["counted_cash"] == "10.00"
        assert Shift.objects.get(pk=shift.pk).counted_cash == Decimal("10.00")


def test_the_z_report_is_in_the_change_log(tenant_a, stores_a, cast_a, as_tenant):
    from auditlog.models import ChangeEvent

    with as_tenant(tenant_a):
        shift = shift_open(
            store=stores_a[0], register="A", opening_float=Decimal("10"), actor=cast_a["cashier"]
        )
        report = shift_close(shift=shift, counted_cash=Decimal("12.00"), actor=cast_a["cashier"])
        logged = ChangeEvent.objects.get(model="inventory.shiftreport", object_id=str(report.pk))
        assert logged.operation == "insert" and '"over_short": "2.00"' in str(logged.after).replace("'", '"')


def test_a_sale_at_2330_in_new_york_belongs_to_that_local_day(tenant_a, cast_a, coffee, as_tenant):
    from inventory.services.catalogue import store_create

    with as_tenant(tenant_a):
        store = store_create(actor=None, name="Brooklyn", time_zone="America/New_York")
    stock_put(tenant_a, store, coffee, 5)
    new_york = ZoneInfo("America/New_York")
    from datetime import date, datetime

    with time_machine.travel(datetime(2025, 3, 10, 23, 30, tzinfo=new_york), tick=False), as_tenant(tenant_a):
        sale = sale_create(
            store=store, lines=[SaleLineInput(product=coffee, quantity=1)], payments=card("4.50"), actor=None
        )
    assert sale.created_at.astimezone(ZoneInfo("UTC")).date() == date(2025, 3, 11)  # already tomorrow in UTC
    with as_tenant(tenant_a):
        assert list(in_local_day(queryset=Sale.objects.all(), day=date(2025, 3, 10))) == [sale]
        assert not in_local_day(queryset=Sale.objects.all(), day=date(2025, 3, 11)).exists()
    start, end = day_bounds(date(2025, 3, 9), store)  # the day the clocks went forward: 23 hours
    assert (end - start).total_seconds() == 23 * 3600


def test_a_store_takes_the_chains_time_zone_and_refuses_a_made_up_one(tenant_a, as_tenant):
    from inventory.services.catalogue import store_create, store_update
    from tenants.maintenance import as_maintenance

    tenant_a.time_zone = "Europe/Stockholm"
    with as_maintenance():  # the tenants table is the maintenance role's to write
        tenant_a.save(update_fields=["time_zone"])
    with as_tenant(tenant_a):
        store = store_create(actor=None, name="Gamla stan")
        assert store.time_zone == "Europe/Stockholm"
        with pytest.raises(ValidationError, match="IANA"):
            store_update(store=store, actor=None, time_zone="Mars/Olympus")
        store.refresh_from_db()
        assert store.time_zone == "Europe/Stockholm"
