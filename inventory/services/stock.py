"""Stock: receive, adjust, count and transfer, reorder points, and the ledger's one write.

`StockLevel.quantity` is a cached sum of the store's movements of the product: it changes
only through `movement_apply`, under the row lock of `inventory.locks.stock_rows_lock`.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F

from accounts.permissions import ADJUST_STOCK, RECEIVE_STOCK, TRANSFER_STOCK
from inventory import events
from inventory.errors import InsufficientStock
from inventory.locks import stock_rows_lock
from inventory.models import Product, StockLevel, StockMovement, Supplier
from inventory.services._rules import positive, require
from tenants.models import Store


def movement_apply(
    *,
    row: StockLevel,
    store: Store,
    product: Product,
    kind: str,
    delta: int,
    actor,
    check_stock: bool = True,
    emit: bool = True,
    **extra,
) -> StockMovement:
    """Apply `delta` to a locked stock row and record the movement that explains it.

    For the services of this package, inside their transaction: it checks no permission. It
    sends `stock.changed` unless `emit` is false: then the caller sends it with its own events
    (one outbox statement for a whole sale).
    """
    balance = row.quantity + delta
    if check_stock and delta < 0 and balance < 0 and not store.allow_negative_stock:
        raise InsufficientStock(product.sku, row.quantity, -delta)
    row.quantity = F("quantity") + delta
    row.save(update_fields=["quantity", "updated_at"])
    row.quantity = balance
    movement = StockMovement.objects.create(
        store=store,
        product=product,
        kind=kind,
        quantity=delta,
        balance_after=balance,
        actor=actor,
        **extra,
    )
    if emit:
        events.stock_changed(movement)  # every change of stock, whatever service made it
    return movement


def movements_apply_many(*, changes, kind: str, actor, reason: str = "") -> list[StockMovement]:
    """The batch form of `movement_apply` for locked rows: `changes` is `[(row, store, product, delta)]`
    with one row each. One UPDATE of the levels, one INSERT of the movements, one outbox statement;
    no stock check (for counts, which set what is there). For this package's services."""
    if not changes:
        return []
    tenant_id = changes[0][0].tenant_id
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_stocklevel AS s SET quantity = s.quantity + c.delta "
            "FROM unnest(%s::uuid[], %s::int[]) AS c(id, delta) WHERE s.id = c.id",
            [[row.pk for row, *_ in changes], [delta for *_, delta in changes]],
        )
    movements = []
    for row, store, product, delta in changes:
        row.quantity += delta
        movements.append(
            StockMovement(
                tenant_id=tenant_id,
                store=store,
                product=product,
                kind=kind,
                quantity=delta,
                balance_after=row.quantity,
                actor=actor,
                reason=reason,
            )
        )
    StockMovement.objects.bulk_create(movements)
    events.stocks_changed(movements)
    return movements


@transaction.atomic
def stock_receive(
    *,
    store: Store,
    product: Product,
    quantity: int,
    actor,
    unit_cost: Decimal | None = None,
    supplier: Supplier | None = None,
    reason: str = "",
) -> StockMovement:
    require(actor, RECEIVE_STOCK, store)
    positive(quantity)
    row = stock_rows_lock(pairs=[(store.pk, product.pk)])[(store.pk, product.pk)]
    return movement_apply(
        row=row,
        store=store,
        product=product,
        kind=StockMovement.Kind.RECEIVE,
        delta=quantity,
        actor=actor,
        unit_cost=unit_cost,
        supplier=supplier,
        reason=reason,
    )


@transaction.atomic
def stock_adjust(*, store: Store, product: Product, quantity: int, reason: str, actor) -> StockMovement:
    """Change stock by a signed amount (damage, theft, found goods); the reason is required."""
    require(actor, ADJUST_STOCK, store)
    if not isinstance(quantity, int) or quantity == 0:
        raise ValidationError({"quantity": "Must be a non-zero whole number."})
    if not reason.strip():
        raise ValidationError({"reason": "An adjustment needs a reason."})
    row = stock_rows_lock(pairs=[(store.pk, product.pk)])[(store.pk, product.pk)]
    return movement_apply(
        row=row,
        store=store,
        product=product,
        kind=StockMovement.Kind.ADJUST,
        delta=quantity,
        actor=actor,
        reason=reason,
    )


@transaction.atomic
def stock_count(*, store: Store, product: Product, counted: int, actor, reason: str = "") -> StockMovement:
    """Record a physical count: the movement is whatever brings the level to `counted`."""
    require(actor, ADJUST_STOCK, store)
    if not isinstance(counted, int) or counted < 0:
        raise ValidationError({"quantity": "A count is a whole number, zero or more."})
    row = stock_rows_lock(pairs=[(store.pk, product.pk)])[(store.pk, product.pk)]
    return movement_apply(
        row=row,
        store=store,
        product=product,
        kind=StockMovement.Kind.COUNT,
        delta=counted - row.quantity,
        actor=actor,
        reason=reason or "count",
        check_stock=False,
    )


@transaction.atomic
def stock_transfer(
    *, from_store: Store, to_store: Store, product: Product, quantity: int, actor, reason: str = ""
) -> tuple[StockMovement, StockMovement]:
    require(actor, TRANSFER_STOCK, from_store)
    positive(quantity)
    if from_store.pk == to_store.pk:
        raise ValidationError({"to_store": "A transfer needs two different stores."})
    rows = stock_rows_lock(pairs=[(from_store.pk, product.pk), (to_store.pk, product.pk)])
    transfer_id = uuid.uuid4()
    out = movement_apply(
        emit=False,
        row=rows[(from_store.pk, product.pk)],
        store=from_store,
        product=product,
        kind=StockMovement.Kind.TRANSFER_OUT,
        delta=-quantity,
        actor=actor,
        reason=reason,
        transfer_id=transfer_id,
    )
    into = movement_apply(
        emit=False,
        row=rows[(to_store.pk, product.pk)],
        store=to_store,
        product=product,
        kind=StockMovement.Kind.TRANSFER_IN,
        delta=quantity,
        actor=actor,
        reason=reason,
        transfer_id=transfer_id,
    )
    events.stocks_changed([out, into])
    return out, into


@transaction.atomic
def stock_reorder_point_set(*, store: Store, product: Product, reorder_point: int, actor) -> StockLevel:
    require(actor, ADJUST_STOCK, store)
    if not isinstance(reorder_point, int) or reorder_point < 0:
        raise ValidationError({"reorder_point": "Must be a whole number, zero or more."})
    row = stock_rows_lock(pairs=[(store.pk, product.pk)])[(store.pk, product.pk)]
    row.reorder_point = reorder_point
    row.save(update_fields=["reorder_point", "updated_at"])
    return row
