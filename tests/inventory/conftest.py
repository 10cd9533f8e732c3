"""Fixtures of the inventory tests: a small catalogue in Alice's chain, and one in Bob's."""

from decimal import Decimal

import pytest

from inventory.models import StockLevel, StockMovement
from inventory.services.stock import stock_receive
from tenants.context import tenant_context
from tests.factories import ProductFactory


def product_make(tenant, sku: str, price: str = "4.50", tax_rate: str = "14.00", **fields):
    return ProductFactory(tenant=tenant, sku=sku, price=Decimal(price), tax_rate=Decimal(tax_rate), **fields)


def stock_put(tenant, store, product, quantity: int):
    with tenant_context(tenant):
        return stock_receive(store=store, product=product, quantity=quantity, actor=None)


def stock_of(tenant, store, product) -> int:
    with tenant_context(tenant):
        row = StockLevel.objects.filter(store=store, product=product).first()
        return row.quantity if row else 0


def sale_post(client, store, product, quantity: int = 1, cash: str = "20.00") -> str:
    """A cash sale of one product through the API; its id."""
    answer = client.post(
        "/api/v1/sales/",
        {
            "store": str(store.pk),
            "lines": [{"product": str(product.pk), "quantity": quantity}],
            "payments": [{"method": "cash", "amount": cash}],
        },
    )
    assert answer.status_code == 201, answer.content
    return answer.json()["id"]


def ledger_sum(tenant, store, product) -> int:
    with tenant_context(tenant):
        return sum(
            StockMovement.objects.filter(store=store, product=product).values_list("quantity", flat=True)
        )


@pytest.fixture
def coffee(tenant_a, stores_a):
    product = product_make(tenant_a, "COF-1", "4.50", "14.00", barcode="4000000000017")
    stock_put(tenant_a, stores_a[0], product, 10)
    return product


@pytest.fixture
def tea(tenant_a, stores_a):
    product = product_make(tenant_a, "TEA-1", "2.99", "7.00")
    stock_put(tenant_a, stores_a[0], product, 5)
    return product


@pytest.fixture
def bobs_product(tenant_b, stores_b):
    product = product_make(tenant_b, "BOB-1", "1.00", "0")
    stock_put(tenant_b, stores_b[0], product, 3)
    return product


REGISTER = "1"


def shift_open_for(tenant, store, user=None, register: str = REGISTER, opening_float: str = "100.00"):
    """An open shift on `register` of `store` (opened by `user`, by default the tenant's owner)."""
    from accounts.models import User
    from inventory.services.shifts import shift_open

    with tenant_context(tenant):
        opener = user or User.objects.filter(assignments__role__builtin="owner").first()
        return shift_open(store=store, register=register, opening_float=Decimal(opening_float), actor=opener)


@pytest.fixture
def open_shift(tenant_a, stores_a, cast_a):
    """Register 1 of Alice's first store is open (a cash sale needs it), with a 100.00 float."""
    return shift_open_for(tenant_a, stores_a[0], cast_a["owner"])


@pytest.fixture
def open_shift_b(tenant_b, stores_b, cast_b):
    return shift_open_for(tenant_b, stores_b[0], cast_b["owner"])
