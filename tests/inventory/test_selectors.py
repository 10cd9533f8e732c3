"""The register's reads: the tenant's store by id, the stores open to a user, a store's sales."""

import uuid
from decimal import Decimal

import pytest

from core.errors import NotFound
from inventory import selectors
from inventory.services.catalogue import store_update
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create


def test_a_store_is_found_in_the_tenant_only(tenant_a, stores_a, stores_b, as_tenant):
    with as_tenant(tenant_a):
        assert selectors.store_get(store_id=stores_a[1].pk) == stores_a[1]
        for store_id in (stores_b[0].pk, uuid.uuid4()):
            with pytest.raises(NotFound):
                selectors.store_get(store_id=store_id)


def test_the_stores_open_to_a_user_are_active_and_theirs(tenant_a, stores_a, cast_a, as_tenant):
    with as_tenant(tenant_a):
        assert list(selectors.stores_open_to(user=cast_a["owner"], permission="sell")) == [
            stores_a[1],  # Harbour, then Main street: by name
            stores_a[0],
        ]
        assert list(selectors.stores_open_to(user=cast_a["cashier"], permission="sell")) == [stores_a[0]]
        assert list(selectors.stores_open_to(user=cast_a["auditor"], permission="sell")) == []
        store_update(store=stores_a[1], actor=None, active=False)
        assert list(selectors.stores_open_to(user=cast_a["owner"], permission="sell")) == [stores_a[0]]


def test_a_stores_sales_are_read_in_that_store_only(tenant_a, stores_a, coffee, as_tenant):
    with as_tenant(tenant_a):
        sale = sale_create(
            store=stores_a[0],
            lines=[SaleLineInput(product=coffee, quantity=2)],
            payments=[PaymentInput(method="card", amount=Decimal("9.00"))],
            actor=None,
        )
        assert selectors.store_sale_get(store=stores_a[0], sale_id=sale.pk) == sale
        with pytest.raises(NotFound):
            selectors.store_sale_get(store=stores_a[1], sale_id=sale.pk)
        number = sale.receipt_number
        assert selectors.store_sale_by_receipt_number(store=stores_a[0], receipt_number=number) == sale
        assert selectors.store_sale_by_receipt_number(store=stores_a[1], receipt_number=number) is None
        assert list(selectors.store_sales_recent(store=stores_a[0], limit=8)) == [sale]
        assert selectors.stock_quantities(store=stores_a[0], products=[coffee]) == {coffee.pk: 8}
        assert selectors.stock_quantities(store=stores_a[1], products=[coffee]) == {}


@pytest.mark.parametrize("not_an_id", ["not-a-uuid", "1' OR '1'='1", "\x00", "9" * 400])
def test_something_that_is_not_an_id_is_not_found(tenant_a, coffee, as_tenant, not_an_id):
    with as_tenant(tenant_a):
        with pytest.raises(NotFound):
            selectors.product_get(product_id=not_an_id)
        with pytest.raises(NotFound):
            selectors.store_get(store_id=not_an_id)
