"""The back office at a store's size: a stocktake of 5,000 products, a 200-line delivery, the
reorder list of 5,000 stock levels. Wall time and statements for each step, in a database of
its own (created and dropped here), through the services as the API and the pages call them."""

import os
import time
from decimal import Decimal

PRODUCTS = 5_000
ORDER_LINES = 200


def _setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    os.environ["KASSA_TEST_DB_NAME"] = f"bench_backoffice_{os.getpid()}"
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # setup speed only
    return setup_databases(verbosity=0, interactive=False, aliases={"owner", "default"})


def _teardown(config):
    from django.db import connections
    from django.test.utils import teardown_databases

    from auditlog import writer

    writer.close_all()
    connections.close_all()
    teardown_databases(config, verbosity=0)


def _measure(name: str, work):
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connections["default"]) as captured:
        started = time.perf_counter()
        result = work()
        took = time.perf_counter() - started
    print(f"{name}: {took * 1000:.0f} ms, {len(captured.captured_queries)} statements")
    return result


def main() -> None:
    config = _setup()
    try:
        _run()
    finally:
        _teardown(config)


def _run():
    from django.db import transaction

    from backoffice.selectors import reorder_suggestions
    from backoffice.services.purchasing import (
        OrderLineInput,
        ReceiveLineInput,
        purchase_order_create,
        purchase_order_order,
        purchase_order_receive,
    )
    from backoffice.services.stocktakes import CountInput, stocktake_count, stocktake_finish, stocktake_start
    from inventory.models import Product, StockLevel
    from inventory.services.catalogue import supplier_create
    from lifecycle.services.onboarding import tenant_create
    from tenants.context import tenant_context
    from tenants.models import Store

    tenant, owner = tenant_create(
        slug="bench",
        name="Bench",
        region="local",
        owner_username="owner",
        owner_password="bench-password-1234",
    )
    with tenant_context(tenant):
        store = Store.objects.create(name="Bench store")
        supplier = supplier_create(actor=None, name="Bench supplier")
        Product.objects.bulk_create(
            [
                Product(
                    tenant_id=tenant.pk,
                    sku=f"P-{n:05d}",
                    barcode=f"64{n:011d}",
                    name=f"Product {n}",
                    price=Decimal("2.50"),
                    cost=Decimal("1.00"),
                    supplier=supplier,
                )
                for n in range(PRODUCTS)
            ],
            batch_size=2000,
        )
        products = list(Product.objects.order_by("sku"))
        StockLevel.objects.bulk_create(
            [
                StockLevel(
                    tenant_id=tenant.pk,
                    store=store,
                    product=p,
                    quantity=20,
                    reorder_point=25 if n % 10 == 0 else 5,
                    reorder_quantity=24,
                )
                for n, p in enumerate(products)
            ],
            batch_size=2000,
        )
        print(f"{PRODUCTS:,} products, one store")

        stocktake = _measure(
            f"stocktake_start ({PRODUCTS:,} lines frozen)",
            lambda: stocktake_start(store=store, actor=owner),
        )
        counts = [CountInput(product=p, counted=19 if n % 10 == 0 else 20) for n, p in enumerate(products)]
        for size in (50, 5_000):
            _measure(
                f"stocktake_count ({size:,} counts in one request)",
                lambda size=size: transaction.atomic()(stocktake_count)(
                    stocktake=stocktake, counts=counts[:size], actor=owner
                ),
            )
        _measure(
            f"stocktake_finish ({PRODUCTS // 10:,} differences written)",
            lambda: stocktake_finish(stocktake=stocktake, actor=owner),
        )

        lines = [
            OrderLineInput(product=p, quantity=10, unit_cost=Decimal("1.20")) for p in products[:ORDER_LINES]
        ]
        order = _measure(
            f"purchase_order_create ({ORDER_LINES} lines)",
            lambda: purchase_order_create(supplier=supplier, store=store, lines=lines, actor=owner),
        )
        purchase_order_order(order=order, actor=owner)
        receipt = [ReceiveLineInput(line=line, quantity=10) for line in order.lines.all()]
        _measure(
            f"purchase_order_receive ({ORDER_LINES} lines, moving-average cost)",
            lambda: purchase_order_receive(order=order, lines=receipt, actor=owner),
        )
        groups = _measure(
            f"reorder_suggestions ({PRODUCTS:,} stock levels)",
            lambda: reorder_suggestions(store=store),
        )
        print(f"  {sum(len(g.rows) for g in groups)} products to order")


if __name__ == "__main__":
    main()
