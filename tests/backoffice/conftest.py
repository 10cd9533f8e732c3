"""Fixtures of the back-office tests: a supplier and two products in Alice's chain, one of Bob's."""

from decimal import Decimal

import pytest

from backoffice.services.purchasing import OrderLineInput, purchase_order_create, purchase_order_order
from inventory.services.catalogue import product_update, supplier_create
from tenants.context import tenant_context
from tests.inventory.conftest import product_make, stock_put


def order_make(tenant, store, supplier, lines, *, ordered=True, actor=None):
    """A purchase order of `lines` [(product, quantity, unit_cost)], ordered unless told."""
    with tenant_context(tenant):
        order = purchase_order_create(
            supplier=supplier,
            store=store,
            lines=[OrderLineInput(product=p, quantity=q, unit_cost=Decimal(c)) for p, q, c in lines],
            actor=actor,
        )
        if ordered:
            order = purchase_order_order(order=order, actor=actor)
        return order


@pytest.fixture
def roaster(tenant_a):
    with tenant_context(tenant_a):
        return supplier_create(actor=None, name="Roastery Oy")


@pytest.fixture
def beans(tenant_a, stores_a, roaster):
    """Coffee beans: 10 in the first store at a cost of 2.00, from the roastery."""
    product = product_make(tenant_a, "BEAN-1", "9.90", "14.00", barcode="6400000000011", supplier=roaster)
    with tenant_context(tenant_a):
        product_update(product=product, actor=None, cost=Decimal("2.00"))
    stock_put(tenant_a, stores_a[0], product, 10)
    return product


@pytest.fixture
def filters(tenant_a, stores_a, roaster):
    """Coffee filters: 4 in the first store, no cost yet."""
    product = product_make(tenant_a, "FLT-1", "2.50", "24.00", barcode="6400000000028", supplier=roaster)
    stock_put(tenant_a, stores_a[0], product, 4)
    return product


@pytest.fixture
def bobs_supplier(tenant_b):
    with tenant_context(tenant_b):
        return supplier_create(actor=None, name="Bob's wholesaler")
