from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from inventory.errors import InsufficientStock
from inventory.models import Category, Refund, Sale, SaleLine, StockMovement, Supplier
from inventory.services.catalogue import category_create, category_update, supplier_create, supplier_update
from inventory.services.customers import customer_create
from inventory.services.sales import (
    PaymentInput,
    RefundLineInput,
    SaleLineInput,
    sale_create,
    sale_inputs,
    sale_refund,
)
from inventory.services.stock import stock_adjust, stock_count, stock_receive, stock_transfer
from tenants.models import Store
from tests.inventory.conftest import ledger_sum, product_make, stock_of, stock_put


def sell(tenant, as_tenant, store, actor, *lines, pay=None, **kwargs):
    with as_tenant(tenant):
        items = [SaleLineInput(product=product, quantity=quantity) for product, quantity in lines]
        total = sum(product.price * quantity for product, quantity in lines)
        payments = [PaymentInput(method="card", amount=total if pay is None else Decimal(pay))]
        return sale_create(store=store, lines=items, payments=payments, actor=actor, **kwargs)


def test_a_sale_records_lines_payments_totals_and_stock(tenant_a, stores_a, cast_a, coffee, tea, as_tenant):
    sale = sell(tenant_a, as_tenant, stores_a[0], cast_a["cashier"], (coffee, 2), (tea, 1))
    with as_tenant(tenant_a):
        assert sale.receipt_number == 1
        assert sale.total == Decimal("11.99")
        # Prices include tax: 9.00 at 14 % holds 1.11, 2.99 at 7 % holds 0.20.
        assert sale.tax_total == Decimal("1.31")
        assert sale.subtotal == Decimal("10.68")
        assert sorted(SaleLine.objects.filter(sale=sale).values_list("sku", "quantity")) == [
            ("COF-1", 2),
            ("TEA-1", 1),
        ]
        assert [p.amount for p in sale.payments.all()] == [Decimal("11.99")]
        assert StockMovement.objects.filter(sale=sale).count() == 2
    assert stock_of(tenant_a, stores_a[0], coffee) == 8
    assert stock_of(tenant_a, stores_a[0], tea) == 4
    again = sell(tenant_a, as_tenant, stores_a[0], cast_a["cashier"], (coffee, 1))
    assert again.receipt_number == 2


def test_receipt_numbers_are_counted_per_store(tenant_a, stores_a, cast_a, coffee, as_tenant):
    stock_put(tenant_a, stores_a[1], coffee, 5)
    first = sell(tenant_a, as_tenant, stores_a[0], cast_a["owner"], (coffee, 1))
    other = sell(tenant_a, as_tenant, stores_a[1], cast_a["owner"], (coffee, 1))
    assert (first.receipt_number, other.receipt_number) == (1, 1)


def test_a_sale_over_the_stock_changes_nothing(tenant_a, stores_a, cast_a, coffee, tea, as_tenant):
    with pytest.raises(InsufficientStock):
        sell(tenant_a, as_tenant, stores_a[0], cast_a["cashier"], (tea, 1), (coffee, 11))
    with as_tenant(tenant_a):
        assert not Sale.objects.exists()
        assert not StockMovement.objects.filter(kind="sale").exists()
    assert stock_of(tenant_a, stores_a[0], coffee) == 10
    assert stock_of(tenant_a, stores_a[0], tea) == 5


def test_a_store_that_allows_negative_stock_sells_below_zero(tenant_a, stores_a, cast_a, coffee, as_tenant):
    with as_tenant(tenant_a):
        Store.objects.filter(pk=stores_a[0].pk).update(allow_negative_stock=True)
        store = Store.objects.get(pk=stores_a[0].pk)
    sell(tenant_a, as_tenant, store, cast_a["owner"], (coffee, 12))
    assert stock_of(tenant_a, store, coffee) == -2
    assert ledger_sum(tenant_a, store, coffee) == -2


def test_payments_must_cover_the_total_and_only_cash_gives_change(
    tenant_a, stores_a, cast_a, coffee, as_tenant, open_shift
):
    with pytest.raises(ValidationError):
        sell(tenant_a, as_tenant, stores_a[0], cast_a["owner"], (coffee, 1), pay="4.00")
    with pytest.raises(ValidationError), as_tenant(tenant_a):
        sale_create(
            store=stores_a[0],
            lines=[SaleLineInput(product=coffee, quantity=1)],
            payments=[PaymentInput(method="card", amount=Decimal("5.00"))],
            actor=cast_a["owner"],
        )
    with as_tenant(tenant_a):
        sale = sale_create(
            store=stores_a[0],
            lines=[SaleLineInput(product=coffee, quantity=1)],
            payments=[PaymentInput(method="cash", amount=Decimal("5.00"))],
            actor=cast_a["owner"],
        )
    assert sale.change_due == Decimal("0.50")
    assert stock_of(tenant_a, stores_a[0], coffee) == 9


def test_cashier_cannot_sell_in_another_store(tenant_a, stores_a, cast_a, coffee, as_tenant):
    stock_put(tenant_a, stores_a[1], coffee, 5)
    with pytest.raises(PermissionDenied):
        sell(tenant_a, as_tenant, stores_a[1], cast_a["cashier"], (coffee, 1))
    assert stock_of(tenant_a, stores_a[1], coffee) == 5


def test_a_whole_refund_restocks_and_marks_the_sale_refunded(
    tenant_a, stores_a, cast_a, coffee, tea, as_tenant
):
    sale = sell(tenant_a, as_tenant, stores_a[0], cast_a["cashier"], (coffee, 3), (tea, 2))
    with as_tenant(tenant_a):
        refund = sale_refund(sale=sale, actor=cast_a["store_manager"], reason="unhappy")
        sale.refresh_from_db()
        assert refund.total == sale.total == sale.refunded_total
        assert sale.status == Sale.Status.REFUNDED
        assert StockMovement.objects.filter(refund=refund).count() == 2
        with pytest.raises(Exception, match="Nothing is left"):
            sale_refund(sale=sale, actor=cast_a["store_manager"])
    assert stock_of(tenant_a, stores_a[0], coffee) == 10
    assert stock_of(tenant_a, stores_a[0], tea) == 5


def test_partial_refunds_never_return_more_than_was_paid(tenant_a, stores_a, cast_a, as_tenant):
    odd = product_make(tenant_a, "ODD-1", "3.33", "19.00")
    stock_put(tenant_a, stores_a[0], odd, 3)
    sale = sell(tenant_a, as_tenant, stores_a[0], cast_a["owner"], (odd, 3))
    with as_tenant(tenant_a):
        line = SaleLine.objects.get(sale=sale)
        totals = []
        for _ in range(3):
            refund = sale_refund(
                sale=sale,
                lines=[RefundLineInput(sale_line=line, quantity=1)],
                actor=cast_a["owner"],
                restock=False,
            )
            totals.append(refund.total)
            sale.refresh_from_db()
        assert sum(totals) == sale.total == Decimal("9.99")
        assert sale.status == Sale.Status.REFUNDED
        with pytest.raises(Exception, match=r"Nothing is left|refundable"):
            sale_refund(sale=sale, lines=[RefundLineInput(sale_line=line, quantity=1)], actor=cast_a["owner"])
    # Not restocked: the goods were damaged.
    assert stock_of(tenant_a, stores_a[0], odd) == 0


def test_a_partial_refund_leaves_the_rest_refundable(tenant_a, stores_a, cast_a, coffee, as_tenant):
    sale = sell(tenant_a, as_tenant, stores_a[0], cast_a["owner"], (coffee, 4))
    with as_tenant(tenant_a):
        line = SaleLine.objects.get(sale=sale)
        with pytest.raises(ValidationError):
            sale_refund(sale=sale, lines=[RefundLineInput(sale_line=line, quantity=5)], actor=cast_a["owner"])
        sale_refund(sale=sale, lines=[RefundLineInput(sale_line=line, quantity=1)], actor=cast_a["owner"])
        sale.refresh_from_db()
        assert sale.status == Sale.Status.PARTIALLY_REFUNDED
        assert sale.refunded_total == Decimal("4.50")
    assert stock_of(tenant_a, stores_a[0], coffee) == 7


def test_cashier_cannot_refund(tenant_a, stores_a, cast_a, coffee, as_tenant):
    sale = sell(tenant_a, as_tenant, stores_a[0], cast_a["cashier"], (coffee, 1))
    with pytest.raises(PermissionDenied), as_tenant(tenant_a):
        sale_refund(sale=sale, actor=cast_a["cashier"])
    with as_tenant(tenant_a):
        assert not Refund.objects.exists()


def test_receive_adds_stock_with_cost_and_supplier(tenant_a, stores_a, cast_a, coffee, as_tenant):
    with as_tenant(tenant_a):
        supplier = supplier_create(actor=cast_a["owner"], name="Beans Ltd")
        movement = stock_receive(
            store=stores_a[0],
            product=coffee,
            quantity=7,
            unit_cost=Decimal("1.20"),
            supplier=supplier,
            actor=cast_a["store_manager"],
        )
        assert (movement.kind, movement.quantity, movement.balance_after) == ("receive", 7, 17)
        assert movement.supplier == supplier
        with pytest.raises(ValidationError):
            stock_receive(store=stores_a[0], product=coffee, quantity=0, actor=cast_a["owner"])
        with pytest.raises(PermissionDenied):
            stock_receive(store=stores_a[1], product=coffee, quantity=1, actor=cast_a["store_manager"])
    assert stock_of(tenant_a, stores_a[0], coffee) == 17
    assert stock_of(tenant_a, stores_a[1], coffee) == 0


def test_adjust_needs_a_reason_and_respects_negative_stock(tenant_a, stores_a, cast_a, coffee, as_tenant):
    with as_tenant(tenant_a):
        with pytest.raises(ValidationError):
            stock_adjust(store=stores_a[0], product=coffee, quantity=-1, reason=" ", actor=cast_a["owner"])
        movement = stock_adjust(
            store=stores_a[0], product=coffee, quantity=-3, reason="broken", actor=cast_a["owner"]
        )
        assert (movement.kind, movement.reason, movement.balance_after) == ("adjust", "broken", 7)
        with pytest.raises(InsufficientStock):
            stock_adjust(store=stores_a[0], product=coffee, quantity=-8, reason="lost", actor=cast_a["owner"])
        with pytest.raises(PermissionDenied):
            stock_adjust(
                store=stores_a[0], product=coffee, quantity=1, reason="found", actor=cast_a["cashier"]
            )
    assert stock_of(tenant_a, stores_a[0], coffee) == 7


def test_count_sets_the_level_through_a_movement(tenant_a, stores_a, cast_a, coffee, as_tenant):
    with as_tenant(tenant_a):
        movement = stock_count(store=stores_a[0], product=coffee, counted=6, actor=cast_a["owner"])
    assert (movement.kind, movement.quantity) == ("count", -4)
    assert stock_of(tenant_a, stores_a[0], coffee) == 6 == ledger_sum(tenant_a, stores_a[0], coffee)


def test_transfer_moves_stock_between_stores_as_a_pair(tenant_a, stores_a, cast_a, coffee, as_tenant):
    with as_tenant(tenant_a):
        out, into = stock_transfer(
            from_store=stores_a[0],
            to_store=stores_a[1],
            product=coffee,
            quantity=4,
            actor=cast_a["store_manager"],
        )
        assert (out.kind, out.quantity, into.kind, into.quantity) == ("transfer_out", -4, "transfer_in", 4)
        assert out.transfer_id == into.transfer_id
        with pytest.raises(InsufficientStock):
            stock_transfer(
                from_store=stores_a[0],
                to_store=stores_a[1],
                product=coffee,
                quantity=7,
                actor=cast_a["owner"],
            )
        with pytest.raises(ValidationError):
            stock_transfer(
                from_store=stores_a[0],
                to_store=stores_a[0],
                product=coffee,
                quantity=1,
                actor=cast_a["owner"],
            )
        with pytest.raises(PermissionDenied):
            stock_transfer(
                from_store=stores_a[1],
                to_store=stores_a[0],
                product=coffee,
                quantity=1,
                actor=cast_a["store_manager"],
            )
    assert stock_of(tenant_a, stores_a[0], coffee) == 6
    assert stock_of(tenant_a, stores_a[1], coffee) == 4


def test_skus_are_unique_per_tenant_only(tenant_a, tenant_b, as_tenant):
    product_make(tenant_a, "SAME")
    product_make(tenant_b, "SAME")
    with pytest.raises(ValidationError):
        product_make(tenant_a, "SAME")


def test_customer_contact_data_is_encrypted_and_found_by_keyed_hash(tenant_a, tenant_b, cast_a, as_tenant):
    from django.db import connection

    from inventory import selectors
    from inventory.models import Customer

    with as_tenant(tenant_a):
        carol = customer_create(
            actor=cast_a["cashier"], name="Carol", email="Carol@Example.com", phone="+49 30 1234"
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT name, email, email_hash FROM inventory_customer WHERE id = %s", [carol.pk])
            name, email, email_hash = cursor.fetchone()
        assert b"Carol" not in bytes(name) and b"xample" not in bytes(email)
        assert len(email_hash) == 64 and "carol" not in email_hash
        found = selectors.customer_find(queryset=Customer.objects.all(), email=" carol@example.COM")
        assert list(found) == [carol]
        assert list(selectors.customer_find(queryset=Customer.objects.all(), phone="+4930 1234")) == [carol]
        hash_a = carol.email_hash
    with as_tenant(tenant_b):
        bob_carol = customer_create(actor=None, email="carol@example.com")
        # Another tenant's key: the same address hashes differently.
        assert bob_carol.email_hash != hash_a


def test_categories_are_created_and_changed_by_product_managers_only(tenant_a, cast_a, as_tenant):
    with as_tenant(tenant_a):
        drinks = category_create(actor=cast_a["store_manager"], name="Drinks")
        tea = category_create(actor=cast_a["owner"], name="Tea")
        category_update(category=tea, actor=cast_a["integrator"], name="Teas", parent=drinks)
        with pytest.raises(PermissionDenied):
            category_create(actor=cast_a["cashier"], name="Sweets")
        with pytest.raises(PermissionDenied):
            category_update(category=tea, actor=cast_a["cashier"], name="Coffee")
        with pytest.raises(ValidationError) as duplicate:
            category_update(category=tea, actor=cast_a["owner"], name="Drinks")
        assert "name" in duplicate.value.message_dict
        with pytest.raises(TypeError):
            category_update(category=tea, actor=cast_a["owner"], tenant_id=None)
        stored = Category.objects.get(pk=tea.pk)
        assert (stored.name, stored.parent_id) == ("Teas", drinks.pk)
        assert Category.objects.count() == 2


def test_suppliers_are_created_and_changed_by_product_managers_only(tenant_a, cast_a, as_tenant):
    with as_tenant(tenant_a):
        beans = supplier_create(actor=cast_a["store_manager"], name="Beans Ltd")
        supplier_create(actor=cast_a["owner"], name="Leaves Ltd")
        supplier_update(supplier=beans, actor=cast_a["owner"], email="orders@beans.example")
        with pytest.raises(PermissionDenied):
            supplier_create(actor=cast_a["cashier"], name="Sweets Ltd")
        with pytest.raises(PermissionDenied):
            supplier_update(supplier=beans, actor=cast_a["auditor"], name="Cheap beans")
        with pytest.raises(ValidationError):
            supplier_update(supplier=beans, actor=cast_a["owner"], name="Leaves Ltd")
        stored = Supplier.objects.get(pk=beans.pk)
        assert (stored.name, stored.email) == ("Beans Ltd", "orders@beans.example")
        assert Supplier.objects.count() == 2


def test_sale_inputs_are_built_from_checked_values(coffee):
    lines, payments = sale_inputs(
        lines=[{"product": coffee, "quantity": 2}],
        payments=[
            {"method": "cash", "amount": Decimal("5")},
            {"method": "card", "amount": 4, "reference": "r"},
        ],
    )
    assert lines == [SaleLineInput(product=coffee, quantity=2)]
    assert payments == [
        PaymentInput(method="cash", amount=Decimal("5"), reference=""),
        PaymentInput(method="card", amount=4, reference="r"),
    ]
