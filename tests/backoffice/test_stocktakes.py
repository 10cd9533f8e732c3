"""Stocktakes: frozen expectations, counts that move with sales, one count movement per difference."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from backoffice.models import Stocktake, StocktakeCount, StocktakeLine
from backoffice.services.stocktakes import (
    CountInput,
    stocktake_cancel,
    stocktake_count,
    stocktake_finish,
    stocktake_start,
)
from core.errors import Conflict
from inventory.models import StockMovement
from inventory.services.catalogue import category_create, product_update
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
from tenants.context import tenant_context
from tests.inventory.conftest import ledger_sum, product_make, stock_of, stock_put


def sell(tenant, store, product, quantity, actor=None):
    with tenant_context(tenant):
        return sale_create(
            store=store,
            lines=[SaleLineInput(product=product, quantity=quantity)],
            payments=[PaymentInput(method="card", amount=product.price * quantity)],
            actor=actor,
        )


def count(tenant, stocktake, counts: dict, actor=None):
    with tenant_context(tenant):
        return stocktake_count(
            stocktake=stocktake,
            counts=[CountInput(product=p, counted=n) for p, n in counts.items()],
            actor=actor,
        )


def line_of(tenant, stocktake, product) -> StocktakeLine:
    with tenant_context(tenant):
        return StocktakeLine.objects.select_related("movement").get(stocktake=stocktake, product=product)


def test_a_stocktake_with_sales_during_the_count_gives_the_right_differences(
    tenant_a, stores_a, beans, filters, cast_a
):
    store = stores_a[0]
    with tenant_context(tenant_a):
        stocktake = stocktake_start(store=store, actor=cast_a["store_manager"])
    assert line_of(tenant_a, stocktake, beans).expected == 10
    # Two beans are sold before anyone counts them: the shelf holds 8, and 8 are counted.
    sell(tenant_a, store, beans, 2)
    count(tenant_a, stocktake, {beans: 8}, actor=cast_a["cashier"])
    # Filters: counted 3 (one is missing), then one is sold after the count.
    count(tenant_a, stocktake, {filters: 3}, actor=cast_a["store_manager"])
    sell(tenant_a, store, filters, 1)
    assert stock_of(tenant_a, store, filters) == 3

    with tenant_context(tenant_a):
        finished = stocktake_finish(stocktake=stocktake, actor=cast_a["store_manager"])
    beans_line, filters_line = line_of(tenant_a, stocktake, beans), line_of(tenant_a, stocktake, filters)
    assert (beans_line.expected, beans_line.stock_at_count, beans_line.counted, beans_line.difference) == (
        10,
        8,
        8,
        0,
    )
    assert beans_line.movement is None  # no difference, no movement
    assert (filters_line.expected, filters_line.stock_at_count, filters_line.difference) == (4, 4, -1)
    assert filters_line.movement.kind == "count" and filters_line.movement.quantity == -1
    # Stock after: beans as counted (no movement); filters counted 3, then 1 sold: 2.
    assert stock_of(tenant_a, store, beans) == 8 == ledger_sum(tenant_a, store, beans)
    assert stock_of(tenant_a, store, filters) == 2 == ledger_sum(tenant_a, store, filters)
    assert finished.status == "finished" and finished.finished_by == cast_a["store_manager"]
    assert finished.variance_quantity == -1
    with tenant_context(tenant_a):
        assert StockMovement.objects.filter(kind="count").count() == 1


def test_the_variance_report_values_differences_at_cost(tenant_a, stores_a, beans, filters):
    store = stores_a[0]
    with tenant_context(tenant_a):
        product_update(product=filters, actor=None, cost=Decimal("0.35"))
        stocktake = stocktake_start(store=store, actor=None)
    count(tenant_a, stocktake, {beans: 13, filters: 1})  # 3 beans found at 2.00; 3 filters missing at 0.35
    with tenant_context(tenant_a):
        finished = stocktake_finish(stocktake=stocktake, actor=None)
    assert finished.variance_quantity == 0
    assert finished.variance_value == Decimal("4.95")  # 6.00 - 1.05
    assert finished.shrinkage_value == Decimal("1.05")
    assert line_of(tenant_a, stocktake, filters).unit_cost == Decimal("0.35")


def test_the_last_count_wins_and_every_count_is_kept_with_who_and_when(tenant_a, stores_a, beans, cast_a):
    with tenant_context(tenant_a):
        stocktake = stocktake_start(store=stores_a[0], actor=None)
    count(tenant_a, stocktake, {beans: 7}, actor=cast_a["cashier"])
    count(tenant_a, stocktake, {beans: 9}, actor=cast_a["store_manager"])
    line = line_of(tenant_a, stocktake, beans)
    assert (
        line.counted == 9 and line.counted_by_id == cast_a["store_manager"].pk and line.counted_at is not None
    )
    with tenant_context(tenant_a):
        history = list(StocktakeCount.objects.filter(line=line).values_list("counted", "counted_by"))
    assert history == [(7, cast_a["cashier"].pk), (9, cast_a["store_manager"].pk)]
    # Within one request, too, the last count of a product wins.
    with tenant_context(tenant_a):
        stocktake_count(
            stocktake=stocktake,
            counts=[CountInput(product=beans, counted=4), CountInput(product=beans, counted=5)],
            actor=None,
        )
    assert line_of(tenant_a, stocktake, beans).counted == 5


def test_uncounted_products_keep_their_stock_or_are_counted_as_none(tenant_a, stores_a, beans, filters):
    store = stores_a[0]
    with tenant_context(tenant_a):
        kept = stocktake_start(store=store, actor=None)
        stocktake_finish(stocktake=kept, actor=None)
    assert stock_of(tenant_a, store, beans) == 10 and line_of(tenant_a, kept, beans).difference is None
    with tenant_context(tenant_a):
        count_only_beans = stocktake_start(store=store, actor=None)
    count(tenant_a, count_only_beans, {beans: 10})
    with tenant_context(tenant_a):
        stocktake_finish(stocktake=count_only_beans, actor=None, uncounted="zero")
    assert stock_of(tenant_a, store, filters) == 0 == ledger_sum(tenant_a, store, filters)
    assert line_of(tenant_a, count_only_beans, filters).difference == -4


def test_a_category_stocktake_covers_its_subcategories_and_refuses_other_products(
    tenant_a, stores_a, beans, filters
):
    with tenant_context(tenant_a):
        drinks = category_create(actor=None, name="Drinks")
        coffee = category_create(actor=None, name="Coffee", parent=drinks)
        product_update(product=beans, actor=None, category=coffee)
        stocktake = stocktake_start(store=stores_a[0], actor=None, category=drinks)
        assert list(stocktake.lines.values_list("product_id", flat=True)) == [beans.pk]
    with pytest.raises(ValidationError) as refused:
        count(tenant_a, stocktake, {filters: 1})
    assert "FLT-1" in str(refused.value)


def test_all_products_means_the_active_ones_and_the_inactive_ones_still_in_stock(tenant_a, stores_a, beans):
    gone = product_make(tenant_a, "OLD-1", "1.00")
    leftover = product_make(tenant_a, "OLD-2", "1.00")
    stock_put(tenant_a, stores_a[0], leftover, 2)
    with tenant_context(tenant_a):
        product_update(product=gone, actor=None, active=False)
        product_update(product=leftover, actor=None, active=False)
        stocktake = stocktake_start(store=stores_a[0], actor=None)
        skus = set(stocktake.lines.values_list("product__sku", flat=True))
    assert skus == {"BEAN-1", "OLD-2"}


def test_one_stocktake_at_a_time_per_store_and_none_after_finishing(tenant_a, stores_a, beans, cast_a):
    with tenant_context(tenant_a):
        first = stocktake_start(store=stores_a[0], actor=None)
        with pytest.raises(Conflict):
            stocktake_start(store=stores_a[0], actor=None)
        other_store = stocktake_start(store=stores_a[1], actor=None)  # another store may count meanwhile
        stocktake_cancel(stocktake=other_store, actor=None)
        stocktake_finish(stocktake=first, actor=None)
        with pytest.raises(Conflict):
            stocktake_finish(stocktake=first, actor=None)
    with pytest.raises(Conflict):
        count(tenant_a, first, {beans: 1})
    with tenant_context(tenant_a):
        assert stocktake_start(store=stores_a[0], actor=None).number == 3


def test_counting_needs_count_stock_and_finishing_adjust_stock_in_the_store(
    tenant_a, stores_a, beans, cast_a
):
    with tenant_context(tenant_a):
        with pytest.raises(PermissionDenied):
            stocktake_start(store=stores_a[0], actor=cast_a["cashier"])
        harbour = stocktake_start(store=stores_a[1], actor=None)
        mine = stocktake_start(store=stores_a[0], actor=cast_a["store_manager"])
    with pytest.raises(PermissionDenied):
        count(tenant_a, harbour, {beans: 1}, actor=cast_a["cashier"])  # not the cashier's store
    with pytest.raises(PermissionDenied):
        count(tenant_a, mine, {beans: 1}, actor=cast_a["auditor"])
    count(tenant_a, mine, {beans: 9}, actor=cast_a["cashier"])
    with tenant_context(tenant_a), pytest.raises(PermissionDenied):
        stocktake_finish(stocktake=mine, actor=cast_a["cashier"])
    assert stock_of(tenant_a, stores_a[0], beans) == 10
    with tenant_context(tenant_a):
        assert Stocktake.objects.get(pk=mine.pk).status == "counting"


def test_bad_counts_are_refused(tenant_a, stores_a, beans):
    with tenant_context(tenant_a):
        stocktake = stocktake_start(store=stores_a[0], actor=None)
    for bad in (-1, 10**8, True, "3"):
        with pytest.raises(ValidationError):
            count(tenant_a, stocktake, {beans: bad})
    assert line_of(tenant_a, stocktake, beans).counted is None
