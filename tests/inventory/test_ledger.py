"""The ledger is the truth: after any sequence of operations, each stock level is the sum of its movements."""

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.errors import InsufficientStock
from inventory.models import Product, Sale, SaleLine, StockLevel, StockMovement
from inventory.services.catalogue import product_create
from inventory.services.sales import PaymentInput, RefundLineInput, SaleLineInput, sale_create, sale_refund
from inventory.services.stock import stock_adjust, stock_count, stock_receive, stock_transfer

operation = st.one_of(
    st.tuples(st.just("receive"), st.integers(0, 1), st.integers(0, 1), st.integers(1, 20)),
    st.tuples(st.just("adjust"), st.integers(0, 1), st.integers(0, 1), st.integers(-15, 15).filter(bool)),
    st.tuples(st.just("count"), st.integers(0, 1), st.integers(0, 1), st.integers(0, 30)),
    st.tuples(st.just("transfer"), st.integers(0, 1), st.integers(0, 1), st.integers(1, 15)),
    st.tuples(st.just("sale"), st.integers(0, 1), st.integers(0, 1), st.integers(1, 10)),
    st.tuples(st.just("refund"), st.integers(0, 1), st.integers(0, 1), st.integers(0, 1)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, min_size=1, max_size=25))
def test_stock_levels_always_equal_the_sum_of_their_movements(
    tenant_a, stores_a, cast_a, as_tenant, operations
):
    owner = cast_a["owner"]
    with as_tenant(tenant_a):
        products = [
            product_create(actor=None, sku=sku, name=sku, price=Decimal("1.25"))
            if not (existing := Product.objects.filter(sku=sku).first())
            else existing
            for sku in ("P0", "P1")
        ]
        for kind, store_index, product_index, amount in operations:
            store, product = stores_a[store_index], products[product_index]
            try:
                if kind == "receive":
                    stock_receive(store=store, product=product, quantity=amount, actor=owner)
                elif kind == "adjust":
                    stock_adjust(store=store, product=product, quantity=amount, reason="test", actor=owner)
                elif kind == "count":
                    stock_count(store=store, product=product, counted=amount, actor=owner)
                elif kind == "transfer":
                    stock_transfer(
                        from_store=store,
                        to_store=stores_a[1 - store_index],
                        product=product,
                        quantity=amount,
                        actor=owner,
                    )
                elif kind == "sale":
                    sale_create(
                        store=store,
                        lines=[SaleLineInput(product=product, quantity=amount)],
                        payments=[PaymentInput(method="card", amount=product.price * amount)],
                        actor=owner,
                    )
                else:
                    sale = Sale.objects.exclude(status=Sale.Status.REFUNDED).order_by("created_at").first()
                    if sale is not None:
                        line = SaleLine.objects.filter(sale=sale).first()
                        sale_refund(
                            sale=sale,
                            lines=[RefundLineInput(sale_line=line, quantity=1)],
                            restock=bool(amount),
                            actor=owner,
                        )
            except InsufficientStock:
                pass
        for level in StockLevel.objects.all():
            movements = StockMovement.objects.filter(store=level.store, product=level.product)
            assert level.quantity == sum(m.quantity for m in movements)
            assert level.quantity >= 0  # neither store allows negative stock
