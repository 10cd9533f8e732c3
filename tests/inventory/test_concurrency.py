"""Real parallel connections against committed data: no oversell, no deadlock."""

import threading
from decimal import Decimal

from django.db import connection, transaction

from inventory.errors import InsufficientStock
from inventory.models import Sale, StockMovement
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
from inventory.services.stock import stock_transfer
from tenants.context import tenant_context
from tests.conftest import transactional
from tests.inventory.conftest import ledger_sum, product_make, stock_of, stock_put


def run_in_threads(count: int, work):
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index):
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as error:  # collected and asserted on by the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@transactional
def test_twenty_simultaneous_sales_of_ten_in_stock_sell_exactly_ten(tenant_a, stores_a, cast_a):
    store = stores_a[0]
    product = product_make(tenant_a, "HOT-1", "2.00", "0")
    stock_put(tenant_a, store, product, 10)

    def sell(_):
        with tenant_context(tenant_a), transaction.atomic():
            return sale_create(
                store=store,
                lines=[SaleLineInput(product=product, quantity=1)],
                payments=[PaymentInput(method="card", amount=Decimal("2.00"))],
                actor=cast_a["cashier"],
            )

    results = run_in_threads(20, sell)
    sold = [r for r in results if isinstance(r, Sale)]
    refused = [r for r in results if isinstance(r, InsufficientStock)]
    assert len(sold) == 10, results
    assert len(refused) == 10, results
    assert stock_of(tenant_a, store, product) == 0 == ledger_sum(tenant_a, store, product)
    assert sorted(s.receipt_number for s in sold) == list(range(1, 11))
    with tenant_context(tenant_a):
        assert StockMovement.objects.filter(kind="sale").count() == 10


@transactional
def test_crossing_multi_line_sales_and_transfers_do_not_deadlock(tenant_a, stores_a, cast_a):
    first, second = product_make(tenant_a, "X-1", "1.00", "0"), product_make(tenant_a, "X-2", "1.00", "0")
    for store in stores_a:
        for product in (first, second):
            stock_put(tenant_a, store, product, 100)

    def work(index):
        with tenant_context(tenant_a), transaction.atomic():
            if index % 2:
                order = (first, second) if index % 4 == 1 else (second, first)
                return sale_create(
                    store=stores_a[0],
                    lines=[SaleLineInput(product=p, quantity=1) for p in order],
                    payments=[PaymentInput(method="card", amount=Decimal("2.00"))],
                    actor=cast_a["owner"],
                )
            source, target = (stores_a[0], stores_a[1]) if index % 4 == 0 else (stores_a[1], stores_a[0])
            return stock_transfer(
                from_store=source, to_store=target, product=first, quantity=1, actor=cast_a["owner"]
            )

    results = run_in_threads(16, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    for store in stores_a:
        for product in (first, second):
            assert stock_of(tenant_a, store, product) == ledger_sum(tenant_a, store, product)
    assert stock_of(tenant_a, stores_a[0], second) == 92
    assert stock_of(tenant_a, stores_a[0], first) + stock_of(tenant_a, stores_a[1], first) == 192
