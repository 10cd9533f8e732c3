"""Lock stock rows in one global order (primary key), so concurrent writers never deadlock."""

from collections.abc import Iterable
from uuid import UUID

from django.db.models import Q

from inventory.models import StockLevel
from tenants.context import require_tenant_id


def stock_rows_lock(*, pairs: Iterable[tuple[UUID, UUID]]) -> dict[tuple[UUID, UUID], StockLevel]:
    """Lock the stock rows of these (store id, product id) pairs, creating missing ones at 0.

    Must run inside a transaction; the rows stay locked until it ends.
    """
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    tenant_id = require_tenant_id()
    # ON CONFLICT DO NOTHING: a concurrent creator of the same row is not an error.
    StockLevel.objects.bulk_create(
        [StockLevel(tenant_id=tenant_id, store_id=s, product_id=p) for s, p in wanted],
        ignore_conflicts=True,
    )
    match = Q()
    for store_id, product_id in wanted:
        match |= Q(store_id=store_id, product_id=product_id)
    rows = StockLevel.objects.filter(match).order_by("pk").select_for_update(of=("self",))
    return {(row.store_id, row.product_id): row for row in rows}
