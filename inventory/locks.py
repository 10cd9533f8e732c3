"""Lock stock rows in one global order (primary key), so concurrent writers never deadlock."""

from collections.abc import Iterable
from uuid import UUID

from django.db import connection

from inventory.models import StockLevel
from tenants.context import require_tenant_id
from tenants.rows import prepared

_PAIRS = "(store_id, product_id) IN (SELECT * FROM unnest(%s::uuid[], %s::uuid[]))"
_COLUMNS = ", ".join(field.column for field in StockLevel._meta.concrete_fields)
# Prepared once per connection (tenants.rows.prepared): the columns spelled out.
PRESENT_SQL = prepared(
    f"SELECT store_id, product_id FROM inventory_stocklevel WHERE tenant_id = %s AND {_PAIRS}"  # noqa: S608
)
LOCK_SQL = prepared(
    f"SELECT {_COLUMNS} FROM inventory_stocklevel WHERE tenant_id = %s AND {_PAIRS} ORDER BY id FOR UPDATE"  # noqa: S608
)


def stock_rows_lock(*, pairs: Iterable[tuple[UUID, UUID]]) -> dict[tuple[UUID, UUID], StockLevel]:
    """Lock the stock rows of these (store id, product id) pairs, creating missing ones at 0.

    Must run inside a transaction; the rows stay locked until it ends.
    """
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    tenant_id = require_tenant_id()
    stores, products = [s for s, _ in wanted], [p for _, p in wanted]
    with connection.cursor() as cursor:
        cursor.execute(PRESENT_SQL, [tenant_id, stores, products])
        present = set(cursor.fetchall())
    missing = [pair for pair in wanted if pair not in present]
    if missing:
        # ON CONFLICT DO NOTHING: a concurrent creator of the same row is not an error.
        StockLevel.objects.bulk_create(
            [StockLevel(tenant_id=tenant_id, store_id=s, product_id=p) for s, p in missing],
            ignore_conflicts=True,
        )
    rows = StockLevel.objects.raw(LOCK_SQL, [tenant_id, stores, products])
    return {(row.store_id, row.product_id): row for row in rows}
