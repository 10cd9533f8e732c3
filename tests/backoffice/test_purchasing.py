"""Purchase orders: states, deliveries against the ledger, over-receiving, moving-average cost."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from backoffice.models import PurchaseOrder, PurchaseOrderReceipt
from backoffice.services.purchasing import (
    OrderLineInput,
    ReceiveLineInput,
    purchase_order_cancel,
    purchase_order_create,
    purchase_order_order,
    purchase_order_receive,
    purchase_order_update,
)
from core.errors import Conflict
from inventory.models import Product, StockMovement
from inventory.services.stock import cost_average, stock_receive
from tenants.context import tenant_context
from tests.backoffice.conftest import order_make
from tests.inventory.conftest import ledger_sum, stock_of


def receive(tenant, order, quantities: dict, actor=None, note=""):
    """Receive {product: quantity} against `order`."""
    with tenant_context(tenant):
        lines = {line.product_id: line for line in order.lines.all()}
        return purchase_order_receive(
            order=order,
            lines=[ReceiveLineInput(line=lines[p.pk], quantity=q) for p, q in quantities.items()],
            actor=actor,
            note=note,
        )


def status_of(tenant, order) -> str:
    with tenant_context(tenant):
        return PurchaseOrder.objects.get(pk=order.pk).status


def test_three_partial_deliveries_end_received_with_the_ledger_equal_to_the_receipts(
    tenant_a, stores_a, roaster, beans, filters, cast_a
):
    store = stores_a[0]
    order = order_make(tenant_a, store, roaster, [(beans, 30, "3.00"), (filters, 12, "0.50")])
    deliveries = [{beans: 10}, {beans: 15, filters: 5}, {beans: 5, filters: 7}]
    expected_status = ["partially_received", "partially_received", "received"]
    for delivery, status in zip(deliveries, expected_status, strict=True):
        receive(tenant_a, order, delivery, actor=cast_a["store_manager"])
        assert status_of(tenant_a, order) == status

    with tenant_context(tenant_a):
        receipts = PurchaseOrderReceipt.objects.filter(order=order).prefetch_related("lines__movement")
        assert receipts.count() == 3
        received = {beans.pk: 0, filters.pk: 0}
        for receipt in receipts:
            assert receipt.received_by == cast_a["store_manager"]
            for line in receipt.lines.all():
                received[line.line.product_id] += line.quantity
                assert line.movement.kind == "receive" and line.movement.quantity == line.quantity
                assert line.movement.supplier_id == roaster.pk
        movements = StockMovement.objects.filter(kind="receive", reason=f"PO {order.number}")
        by_product = {p: sum(m.quantity for m in movements if m.product_id == p) for p in received}
        assert by_product == received == {beans.pk: 30, filters.pk: 12}
        assert {m.unit_cost for m in movements if m.product_id == beans.pk} == {Decimal("3.00")}
        assert all(line.received == line.quantity for line in order.lines.all())
        assert PurchaseOrder.objects.get(pk=order.pk).closed_at is not None
    assert stock_of(tenant_a, store, beans) == 40 == ledger_sum(tenant_a, store, beans)
    assert stock_of(tenant_a, store, filters) == 16 == ledger_sum(tenant_a, store, filters)


def test_over_receiving_is_refused_and_changes_nothing(tenant_a, stores_a, roaster, beans, filters):
    order = order_make(tenant_a, stores_a[0], roaster, [(beans, 5, "3.00"), (filters, 5, "0.50")])
    receive(tenant_a, order, {beans: 3})
    with pytest.raises(ValidationError) as refused:
        receive(tenant_a, order, {beans: 3, filters: 1})
    assert "BEAN-1: 3 received, 2 outstanding" in str(refused.value)
    assert stock_of(tenant_a, stores_a[0], beans) == 13
    assert stock_of(tenant_a, stores_a[0], filters) == 4
    assert status_of(tenant_a, order) == "partially_received"
    with tenant_context(tenant_a):
        assert PurchaseOrderReceipt.objects.filter(order=order).count() == 1
        assert sorted(order.lines.values_list("received", flat=True)) == [0, 3]


def test_the_same_line_twice_in_one_delivery_counts_as_one(tenant_a, stores_a, roaster, beans):
    order = order_make(tenant_a, stores_a[0], roaster, [(beans, 5, "3.00")])
    with tenant_context(tenant_a):
        line = order.lines.get()
        with pytest.raises(ValidationError):
            purchase_order_receive(
                order=order,
                lines=[ReceiveLineInput(line=line, quantity=3), ReceiveLineInput(line=line, quantity=3)],
                actor=None,
            )
    assert stock_of(tenant_a, stores_a[0], beans) == 10


def test_moving_average_cost_is_weighted_by_the_chains_stock(tenant_a, stores_a, roaster, beans):
    # 10 on hand at 2.00; 30 arrive at 3.00: (10 x 2.00 + 30 x 3.00) / 40 = 2.75.
    order = order_make(tenant_a, stores_a[0], roaster, [(beans, 30, "3.00")])
    receive(tenant_a, order, {beans: 30})
    with tenant_context(tenant_a):
        assert Product.objects.get(pk=beans.pk).cost == Decimal("2.75")
    # The other store holds none, but the chain holds 40 at 2.75; 10 arrive there at 1.00:
    # (40 x 2.75 + 10 x 1.00) / 50 = 2.40.
    harbour = order_make(tenant_a, stores_a[1], roaster, [(beans, 10, "1.00")])
    receive(tenant_a, harbour, {beans: 10})
    with tenant_context(tenant_a):
        assert Product.objects.get(pk=beans.pk).cost == Decimal("2.40")


def test_cost_average_rounds_half_up_to_the_cent_and_restarts_from_no_stock():
    assert cost_average(on_hand=1, cost=Decimal("1.00"), quantity=1, unit_cost=Decimal("1.01")) == Decimal(
        "1.01"
    )
    assert cost_average(on_hand=2, cost=Decimal("1.00"), quantity=1, unit_cost=Decimal("1.01")) == Decimal(
        "1.00"
    )
    assert cost_average(on_hand=3, cost=Decimal("0.10"), quantity=7, unit_cost=Decimal("0.25")) == Decimal(
        "0.21"
    )
    assert cost_average(on_hand=0, cost=Decimal("9.99"), quantity=4, unit_cost=Decimal("1.50")) == Decimal(
        "1.50"
    )
    assert cost_average(on_hand=-5, cost=Decimal("9.99"), quantity=4, unit_cost=Decimal("1.50")) == Decimal(
        "1.50"
    )


def test_a_plain_receipt_with_a_cost_averages_too_and_one_without_leaves_the_cost(tenant_a, stores_a, beans):
    with tenant_context(tenant_a):
        stock_receive(store=stores_a[0], product=beans, quantity=10, actor=None, unit_cost=Decimal("4.00"))
        assert Product.objects.get(pk=beans.pk).cost == Decimal("3.00")
        stock_receive(store=stores_a[0], product=beans, quantity=10, actor=None)
        assert Product.objects.get(pk=beans.pk).cost == Decimal("3.00")


def test_states_draft_ordered_received_or_cancelled(tenant_a, stores_a, roaster, beans, filters):
    with tenant_context(tenant_a):
        empty = purchase_order_create(supplier=roaster, store=stores_a[0], lines=[], actor=None)
        assert empty.status == "draft" and empty.number == 1
        with pytest.raises(ValidationError):
            purchase_order_order(order=empty, actor=None)  # nothing to order
        purchase_order_update(
            order=empty,
            actor=None,
            lines=[OrderLineInput(product=beans, quantity=4), OrderLineInput(product=filters, quantity=2)],
        )
        assert {line.product_id: line.unit_cost for line in empty.lines.all()} == {
            beans.pk: Decimal("2.00"),  # the product's cost when none is given
            filters.pk: Decimal("0.00"),
        }
    draft = order_make(tenant_a, stores_a[0], roaster, [(beans, 5, "3.00")], ordered=False)
    with pytest.raises(Conflict):
        receive(tenant_a, draft, {beans: 1})  # a draft is not received
    with tenant_context(tenant_a):
        ordered = purchase_order_order(order=draft, actor=None)
        assert ordered.status == "ordered" and ordered.ordered_at is not None
        with pytest.raises(Conflict):
            purchase_order_update(order=ordered, actor=None, notes="too late")
        with pytest.raises(Conflict):
            purchase_order_order(order=ordered, actor=None)
    receive(tenant_a, draft, {beans: 2})
    with tenant_context(tenant_a):
        cancelled = purchase_order_cancel(order=draft, actor=None)
        assert cancelled.status == "cancelled"
        with pytest.raises(Conflict):
            purchase_order_cancel(order=draft, actor=None)
    with pytest.raises(Conflict):
        receive(tenant_a, draft, {beans: 1})
    assert stock_of(tenant_a, stores_a[0], beans) == 12  # what arrived before cancelling stays


def test_duplicate_products_and_bad_quantities_are_refused(tenant_a, stores_a, roaster, beans):
    with tenant_context(tenant_a):
        for lines in (
            [OrderLineInput(product=beans, quantity=1), OrderLineInput(product=beans, quantity=2)],
            [OrderLineInput(product=beans, quantity=0)],
            [OrderLineInput(product=beans, quantity=10**9)],
            [OrderLineInput(product=beans, quantity=1, unit_cost=Decimal("-1"))],
            [OrderLineInput(product=beans, quantity=1, unit_cost=Decimal("NaN"))],
        ):
            with pytest.raises(ValidationError):
                purchase_order_create(supplier=roaster, store=stores_a[0], lines=lines, actor=None)
        assert not PurchaseOrder.objects.exists()


def test_purchasing_needs_manage_purchasing_and_receiving_receive_stock_in_the_store(
    tenant_a, stores_a, roaster, beans, cast_a
):
    harbour = stores_a[1]  # the store manager and the cashier work in the first store only
    with tenant_context(tenant_a):
        with pytest.raises(PermissionDenied):
            purchase_order_create(supplier=roaster, store=harbour, lines=[], actor=cast_a["store_manager"])
        with pytest.raises(PermissionDenied):
            purchase_order_create(supplier=roaster, store=stores_a[0], lines=[], actor=cast_a["cashier"])
        mine = purchase_order_create(
            supplier=roaster, store=stores_a[0], lines=[], actor=cast_a["store_manager"]
        )
        assert mine.created_by == cast_a["store_manager"]
    order = order_make(tenant_a, harbour, roaster, [(beans, 5, "3.00")])
    with pytest.raises(PermissionDenied):
        receive(tenant_a, order, {beans: 5}, actor=cast_a["store_manager"])
    with tenant_context(tenant_a), pytest.raises(PermissionDenied):
        purchase_order_cancel(order=order, actor=cast_a["store_manager"])
    assert stock_of(tenant_a, harbour, beans) == 0
    assert status_of(tenant_a, order) == "ordered"


def test_numbers_count_per_chain(tenant_a, tenant_b, stores_a, stores_b, roaster, bobs_supplier, beans):
    first = order_make(tenant_a, stores_a[0], roaster, [(beans, 1, "1.00")], ordered=False)
    second = order_make(tenant_a, stores_a[1], roaster, [(beans, 1, "1.00")], ordered=False)
    with tenant_context(tenant_b):
        bobs = purchase_order_create(supplier=bobs_supplier, store=stores_b[0], lines=[], actor=None)
    assert (first.number, second.number, bobs.number) == (1, 2, 1)
