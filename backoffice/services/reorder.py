"""The reorder list turned into draft purchase orders, one per supplier, in one step."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, transaction

from accounts.permissions import MANAGE_PURCHASING
from backoffice.models import PurchaseOrder
from backoffice.selectors import reorder_suggestions
from backoffice.services.purchasing import OrderLineInput, purchase_order_create
from inventory.models import Supplier
from inventory.services._rules import require
from tenants.models import Store


@transaction.atomic
def reorder_orders_create(
    *, store: Store, actor, suppliers: Sequence[Supplier] | None = None
) -> list[PurchaseOrder]:
    """A draft purchase order per supplier with what the reorder list suggests (all suppliers, or these).

    Two people doing this at once get one set of orders: the second waits, then finds the
    first's drafts counted as on order and nothing left to suggest.
    """
    require(actor, MANAGE_PURCHASING, store)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"kassa:reorder:{store.pk}"])
    wanted = {supplier.pk for supplier in suppliers} if suppliers is not None else None
    orders = []
    for group in reorder_suggestions(store=store):
        supplier = group.supplier
        if supplier is None or (wanted is not None and supplier.pk not in wanted):
            continue
        lines = [
            OrderLineInput(product=row.product, quantity=row.suggested, unit_cost=row.product.cost)
            for row in group.rows
        ]
        orders.append(purchase_order_create(supplier=supplier, store=store, lines=lines, actor=actor))
    return orders
