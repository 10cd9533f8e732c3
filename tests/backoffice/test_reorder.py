"""The reorder list: stock, reorder points and open orders, per supplier; drafts in one step."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from backoffice.models import PurchaseOrder
from backoffice.selectors import reorder_quantity_suggested, reorder_suggestions
from backoffice.services.reorder import reorder_orders_create
from inventory.services.catalogue import product_update, supplier_create
from inventory.services.stock import stock_reorder_set
from tenants.context import tenant_context
from tests.backoffice.conftest import order_make
from tests.inventory.conftest import product_make, stock_put


@pytest.mark.parametrize(
    ("position", "point", "quantity", "suggested"),
    [
        (10, 5, 12, 0),  # above the reorder point: nothing
        (5, 5, 12, 12),  # at it: one reorder quantity
        (-20, 5, 12, 36),  # far below: as many as lift it above the point (-20 + 36 = 16 > 5)
        (3, 5, 0, 5),  # no quantity: steps of the reorder point
        (0, 0, 6, 6),  # no point, a quantity: order when it runs out
        (2, 0, 6, 0),
    ],
)
def test_the_suggested_quantity(position, point, quantity, suggested):
    assert (
        reorder_quantity_suggested(position=position, reorder_point=point, reorder_quantity=quantity)
        == suggested
    )


@pytest.fixture
def shelf(tenant_a, stores_a, roaster, beans, filters):
    """Beans 10 (point 12, quantity 24), filters 4 (point 5, quantity 10), tea without a supplier 1 (point 2)."""
    tea = product_make(tenant_a, "TEA-9", "3.00")
    stock_put(tenant_a, stores_a[0], tea, 1)
    with tenant_context(tenant_a):
        product_update(product=filters, actor=None, cost=Decimal("0.40"))
        for product, point, quantity in ((beans, 12, 24), (filters, 5, 10), (tea, 2, 0)):
            stock_reorder_set(
                store=stores_a[0], product=product, reorder_point=point, reorder_quantity=quantity, actor=None
            )
    return {"beans": beans, "filters": filters, "tea": tea}


def test_the_list_groups_by_supplier_and_counts_open_orders(tenant_a, stores_a, roaster, shelf):
    with tenant_context(tenant_a):
        groups = reorder_suggestions(store=stores_a[0])
    assert [group.supplier for group in groups] == [roaster, None]
    rows = {row.product.sku: row for row in groups[0].rows}
    assert (rows["BEAN-1"].quantity, rows["BEAN-1"].on_order, rows["BEAN-1"].suggested) == (10, 0, 24)
    assert rows["FLT-1"].suggested == 10
    assert [row.product.sku for row in groups[1].rows] == ["TEA-9"]
    # Beans on order (open, partly received): 10 + 6 outstanding > 12, so no longer suggested.
    order = order_make(tenant_a, stores_a[0], roaster, [(shelf["beans"], 8, "3.00")])
    with tenant_context(tenant_a):
        from backoffice.services.purchasing import ReceiveLineInput, purchase_order_receive

        purchase_order_receive(
            order=order, lines=[ReceiveLineInput(line=order.lines.get(), quantity=2)], actor=None
        )
        groups = reorder_suggestions(store=stores_a[0])
    assert {row.product.sku for row in groups[0].rows} == {"FLT-1"}
    # Another store's stock and orders do not count.
    with tenant_context(tenant_a):
        assert reorder_suggestions(store=stores_a[1]) == []


def test_the_list_becomes_draft_orders_in_one_step_and_only_once(tenant_a, stores_a, roaster, shelf, cast_a):
    with tenant_context(tenant_a):
        other = supplier_create(actor=None, name="Paper Ltd")
        product_update(product=shelf["filters"], actor=None, supplier=other)
        orders = reorder_orders_create(store=stores_a[0], actor=cast_a["store_manager"])
        assert len(orders) == 2  # the roastery and the paper supplier; tea has none
        lines = {
            (order.supplier.name, line.product.sku): (line.quantity, line.unit_cost)
            for order in orders
            for line in order.lines.select_related("product")
        }
        assert lines == {
            ("Roastery Oy", "BEAN-1"): (24, Decimal("2.00")),
            ("Paper Ltd", "FLT-1"): (10, Decimal("0.40")),
        }
        assert {order.status for order in orders} == {"draft"}
        # Drafts are on order: a second click finds nothing left to order.
        assert reorder_orders_create(store=stores_a[0], actor=cast_a["store_manager"]) == []
        assert PurchaseOrder.objects.count() == 2


def test_one_supplier_only_and_the_permission(tenant_a, stores_a, roaster, shelf, cast_a):
    with tenant_context(tenant_a):
        with pytest.raises(PermissionDenied):
            reorder_orders_create(store=stores_a[0], actor=cast_a["cashier"])
        with pytest.raises(PermissionDenied):
            reorder_orders_create(store=stores_a[1], actor=cast_a["store_manager"])
        orders = reorder_orders_create(store=stores_a[0], actor=None, suppliers=[roaster])
        assert [order.supplier for order in orders] == [roaster]


def test_reorder_settings_need_adjust_stock_and_sane_numbers(tenant_a, stores_a, beans, cast_a):
    with tenant_context(tenant_a):
        with pytest.raises(PermissionDenied):
            stock_reorder_set(store=stores_a[0], product=beans, reorder_point=3, actor=cast_a["cashier"])
        for bad in (-1, 10**7, True, "5"):
            with pytest.raises(ValidationError):
                stock_reorder_set(store=stores_a[0], product=beans, reorder_quantity=bad, actor=None)
        level = stock_reorder_set(
            store=stores_a[0], product=beans, reorder_quantity=6, actor=cast_a["store_manager"]
        )
        assert (level.reorder_point, level.reorder_quantity) == (0, 6)
