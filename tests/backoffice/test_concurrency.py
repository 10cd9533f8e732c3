"""Real parallel connections against committed data: deliveries, counts and arrivals at once."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from backoffice.models import PurchaseOrder, PurchaseOrderReceipt, StocktakeCount, StocktakeLine, Transfer
from backoffice.services.purchasing import ReceiveLineInput, purchase_order_receive
from backoffice.services.stocktakes import CountInput, stocktake_count, stocktake_finish, stocktake_start
from backoffice.services.transfers import transfer_receive
from core.errors import Conflict
from inventory.models import Product
from tenants.context import tenant_context
from tests.backoffice.conftest import order_make
from tests.backoffice.test_transfers import send
from tests.conftest import transactional
from tests.inventory.conftest import ledger_sum, product_make, stock_of, stock_put
from tests.inventory.test_concurrency import run_in_threads


@transactional
def test_simultaneous_deliveries_of_the_last_units_receive_them_once(tenant_a, stores_a, roaster, beans):
    order = order_make(tenant_a, stores_a[0], roaster, [(beans, 10, "3.00")])
    with tenant_context(tenant_a):
        line = order.lines.get()

    def deliver(_):
        with tenant_context(tenant_a), transaction.atomic():
            return purchase_order_receive(
                order=order, lines=[ReceiveLineInput(line=line, quantity=4)], actor=None
            )

    results = run_in_threads(6, deliver)
    received = [r for r in results if isinstance(r, PurchaseOrderReceipt)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(received) == 2 and len(refused) == 4, results  # 4 + 4 of 10; a third 4 would be over
    assert stock_of(tenant_a, stores_a[0], beans) == 18 == ledger_sum(tenant_a, stores_a[0], beans)
    with tenant_context(tenant_a):
        assert order.lines.get().received == 8
        assert PurchaseOrder.objects.get(pk=order.pk).status == "partially_received"
        assert PurchaseOrderReceipt.objects.count() == 2


@transactional
def test_crossing_deliveries_of_two_orders_do_not_deadlock_and_average_the_cost_in_turn(
    tenant_a, stores_a, roaster, beans, filters
):
    orders = [
        order_make(tenant_a, stores_a[index % 2], roaster, [(beans, 5, "4.00"), (filters, 5, "1.00")])
        for index in range(8)
    ]

    def deliver(index):
        order = orders[index]
        with tenant_context(tenant_a), transaction.atomic():
            lines = list(order.lines.all())
            if index % 2:
                lines.reverse()  # the other order of lines: locks are still taken in key order
            return purchase_order_receive(
                order=order, lines=[ReceiveLineInput(line=line, quantity=5) for line in lines], actor=None
            )

    results = run_in_threads(8, deliver)
    assert all(isinstance(r, PurchaseOrderReceipt) for r in results), results
    assert stock_of(tenant_a, stores_a[0], beans) == 30 and stock_of(tenant_a, stores_a[1], beans) == 20
    with tenant_context(tenant_a):
        # Each delivery averaged with what the one before left: 10 at 2.00, then 8 x 5 at 4.00.
        # Whatever the order, the result is the same to the cent here, as every unit cost is 4.00.
        cost = Product.objects.get(pk=beans.pk).cost
    expected = Decimal("2.00")
    held = 10
    for _ in range(8):
        expected = ((held * expected + 5 * Decimal("4.00")) / (held + 5)).quantize(Decimal("0.01"))
        held += 5
    assert cost == expected


@transactional
def test_several_staff_count_at_once_and_the_last_count_of_each_product_wins(tenant_a, stores_a, cast_a):
    store = stores_a[0]
    products = [product_make(tenant_a, f"C-{n}", "1.00", "0") for n in range(6)]
    for product in products:
        stock_put(tenant_a, store, product, 5)
    with tenant_context(tenant_a):
        stocktake = stocktake_start(store=store, actor=None)
    counters = [cast_a["owner"], cast_a["store_manager"], cast_a["cashier"]]

    def count(index):
        # Each counter counts every product, in a different order, several times.
        order = products if index % 2 else list(reversed(products))
        with tenant_context(tenant_a):
            for attempt in range(3):
                with transaction.atomic():
                    stocktake_count(
                        stocktake=stocktake,
                        counts=[CountInput(product=p, counted=index * 10 + attempt) for p in order],
                        actor=counters[index % 3],
                    )
        return index

    results = run_in_threads(6, count)
    assert sorted(results) == list(range(6)), results
    with tenant_context(tenant_a):
        for line in StocktakeLine.objects.filter(stocktake=stocktake):
            last = StocktakeCount.objects.filter(line=line).order_by("-id").first()
            assert StocktakeCount.objects.filter(line=line).count() == 18
            assert (line.counted, line.counted_by_id, line.counted_at is not None) == (
                last.counted,
                last.counted_by_id,
                True,
            )


@transactional
def test_a_finish_waits_for_a_count_in_progress_includes_it_and_later_counts_are_refused(
    tenant_a, stores_a, beans
):
    import threading

    with tenant_context(tenant_a):
        stocktake = stocktake_start(store=stores_a[0], actor=None)
    counted, release, finished = threading.Event(), threading.Event(), threading.Event()

    def work(index):
        with tenant_context(tenant_a), transaction.atomic():
            if index == 0:  # a count that holds its transaction open
                stocktake_count(
                    stocktake=stocktake, counts=[CountInput(product=beans, counted=7)], actor=None
                )
                counted.set()
                assert release.wait(30)
                return "counted"
            assert counted.wait(30)
            result = stocktake_finish(stocktake=stocktake, actor=None)
            finished.set()
            return result

    results: list = []
    both = threading.Thread(target=lambda: results.extend(run_in_threads(2, work)))
    both.start()
    assert counted.wait(30)
    assert not finished.wait(1.0)  # the finish waits for the count's transaction
    release.set()
    both.join(60)
    assert results[0] == "counted" and results[1].status == "finished", results
    with tenant_context(tenant_a):
        line = StocktakeLine.objects.get(stocktake=stocktake)
    assert (line.counted, line.difference) == (7, -3)
    assert stock_of(tenant_a, stores_a[0], beans) == 7 == ledger_sum(tenant_a, stores_a[0], beans)
    with tenant_context(tenant_a), pytest.raises(Conflict):
        stocktake_count(stocktake=stocktake, counts=[CountInput(product=beans, counted=1)], actor=None)


@transactional
def test_a_transfer_received_at_once_by_several_arrives_once(tenant_a, stores_a, beans):
    transfer = send(tenant_a, stores_a[0], stores_a[1], {beans: 6})

    def receive(_):
        with tenant_context(tenant_a), transaction.atomic():
            return transfer_receive(transfer=transfer, actor=None)

    results = run_in_threads(5, receive)
    assert len([r for r in results if isinstance(r, Transfer)]) == 1, results
    assert len([r for r in results if isinstance(r, Conflict)]) == 4, results
    assert stock_of(tenant_a, stores_a[1], beans) == 6 == ledger_sum(tenant_a, stores_a[1], beans)
