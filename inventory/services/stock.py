"""Stock: receive, adjust, count and transfer, reorder settings, and the ledger's one write.

`StockLevel.quantity` is a cached sum of the store's movements of the product: it changes
only through `movement_apply`, under the row lock of `inventory.locks.stock_rows_lock`.

Receiving at a unit cost moves the product's cost to the moving average (`cost_average`).
A transfer is either instant (`stock_transfer`, for corrections) or in two steps with the
goods in transit between them (`stock_transfer_send` at the source, `stock_transfer_arrive`
at the destination, used by backoffice transfers): while in transit the units are in neither
store's stock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import ADJUST_STOCK, RECEIVE_STOCK, TRANSFER_STOCK
from inventory import events
from inventory.errors import InsufficientStock
from inventory.locks import stock_rows_lock
from inventory.models import Product, StockLevel, StockMovement, Supplier
from inventory.services._rules import positive, require
from tenants.models import Store
from tenants.rows import prepared, rows_insert

CENT = Decimal("0.01")


@dataclass(frozen=True)
class StockItem:
    """One product and a number of units (received, sent or arriving), with a unit cost for receipts."""

    product: Product
    quantity: int
    unit_cost: Decimal | None = None


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


LEVELS_UPDATE_SQL = prepared(
    "UPDATE inventory_stocklevel AS s SET quantity = s.quantity + c.delta "
    "FROM unnest(%s::uuid[], %s::int[]) AS c(id, delta) WHERE s.id = c.id"
)


def movements_apply_many(
    *, changes, kind: str, actor, reason: str = "", emit: bool = True, **extra
) -> list[StockMovement]:
    """The batch form of `movement_apply` for locked rows: `changes` is `[(row, store, product, delta)]`
    with one row each. One UPDATE of the levels, one INSERT of the movements, one outbox statement
    (unless `emit` is false: then the caller sends `stock.changed` with its own events); no stock
    check (counts set what is there; a sale checks under the same locks first). `extra` goes on
    every movement (`sale=`). For this package's services."""
    if not changes:
        return []
    tenant_id = changes[0][0].tenant_id
    with connection.cursor() as cursor:
        # The rows are locked already (inventory.locks, in primary-key order): no new lock here.
        cursor.execute(LEVELS_UPDATE_SQL, [[row.pk for row, *_ in changes], [delta for *_, delta in changes]])
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
                **extra,
            )
        )
    rows_insert(StockMovement, movements)
    if emit:
        events.stocks_changed(movements)
    return movements


def cost_average(*, on_hand: int, cost: Decimal, quantity: int, unit_cost: Decimal) -> Decimal:
    """The moving-average unit cost after receiving `quantity` at `unit_cost`.

    (on_hand x cost + quantity x unit_cost) / (on_hand + quantity), in Decimal, rounded half up
    to the cent. `on_hand` is the chain's stock before the receipt; none (or less than none)
    leaves nothing to average with, so the new cost is the unit cost.
    """
    if on_hand <= 0:
        return unit_cost.quantize(CENT, rounding=ROUND_HALF_UP)
    total = Decimal(on_hand) * cost + Decimal(quantity) * unit_cost
    return (total / Decimal(on_hand + quantity)).quantize(CENT, rounding=ROUND_HALF_UP)


def _items_check(items: Sequence[StockItem]) -> None:
    if not items:
        raise ValidationError({"lines": _("Name at least one product.")})
    for item in items:
        positive(item.quantity)
        if item.unit_cost is not None and (not item.unit_cost.is_finite() or item.unit_cost < 0):
            raise ValidationError({"unit_cost": _("The unit cost cannot be negative.")})


@transaction.atomic
def stock_receive_items(
    *,
    store: Store,
    items: Sequence[StockItem],
    actor,
    supplier: Supplier | None = None,
    reason: str = "",
) -> list[StockMovement]:
    """Receive several products into a store at once: one `receive` movement each.

    Items with a unit cost move their product's cost to the moving average (`cost_average`);
    the products are locked (in primary-key order, after the stock rows) so concurrent
    receipts of a product in different stores average one after the other.
    """
    require(actor, RECEIVE_STOCK, store)
    _items_check(items)
    rows = stock_rows_lock(pairs=[(store.pk, item.product.pk) for item in items])
    costed = sorted({item.product.pk for item in items if item.unit_cost is not None})
    products: dict = {}
    on_hand: dict = {}
    if costed:
        products = {
            p.pk: p
            for p in Product.objects.filter(pk__in=costed).order_by("pk").select_for_update(of=("self",))
        }
        on_hand = dict(
            StockLevel.objects.filter(product_id__in=costed)
            .values("product_id")
            .annotate(total=Sum("quantity"))
            .values_list("product_id", "total")
        )
    movements = []
    for item in items:
        movements.append(
            movement_apply(
                row=rows[(store.pk, item.product.pk)],
                store=store,
                product=item.product,
                kind=StockMovement.Kind.RECEIVE,
                delta=item.quantity,
                actor=actor,
                unit_cost=item.unit_cost,
                supplier=supplier,
                reason=reason,
            )
        )
        if item.unit_cost is not None:
            product = products[item.product.pk]
            held = on_hand.get(product.pk) or 0
            product.cost = cost_average(
                on_hand=held, cost=product.cost, quantity=item.quantity, unit_cost=item.unit_cost
            )
            on_hand[product.pk] = held + item.quantity
            item.product.cost = product.cost
    now = timezone.now()
    for product in products.values():
        product.updated_at = now  # (bulk_update skips auto_now)
    Product.objects.bulk_update(list(products.values()), ["cost", "updated_at"])
    return movements


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
    """Receive one product (see `stock_receive_items`)."""
    item = StockItem(product=product, quantity=quantity, unit_cost=unit_cost)
    return stock_receive_items(store=store, items=[item], actor=actor, supplier=supplier, reason=reason)[0]


@transaction.atomic
def stock_adjust(*, store: Store, product: Product, quantity: int, reason: str, actor) -> StockMovement:
    """Change stock by a signed amount (damage, theft, found goods); the reason is required."""
    require(actor, ADJUST_STOCK, store)
    if not isinstance(quantity, int) or quantity == 0:
        raise ValidationError({"quantity": _("Must be a non-zero whole number.")})
    if not reason.strip():
        raise ValidationError({"reason": _("An adjustment needs a reason.")})
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
        raise ValidationError({"quantity": _("A count is a whole number, zero or more.")})
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
def stock_count_differences(
    *, store: Store, differences: Sequence[tuple[Product, int]], actor, reason: str
) -> list[StockMovement]:
    """Write one `count` movement per non-zero difference found by a stocktake (`counted - expected`).

    The difference is applied to the stock as it is now, so sales made after the count stay
    counted once.
    """
    require(actor, ADJUST_STOCK, store)
    wanted = [(product, delta) for product, delta in differences if delta]
    rows = stock_rows_lock(pairs=[(store.pk, product.pk) for product, _delta in wanted])
    return [
        movement_apply(
            row=rows[(store.pk, product.pk)],
            store=store,
            product=product,
            kind=StockMovement.Kind.COUNT,
            delta=delta,
            actor=actor,
            reason=reason,
            check_stock=False,
        )
        for product, delta in wanted
    ]


@transaction.atomic
def stock_transfer(
    *, from_store: Store, to_store: Store, product: Product, quantity: int, actor, reason: str = ""
) -> tuple[StockMovement, StockMovement]:
    """Move stock between two stores at once (a correction; goods on the road use a transfer in transit)."""
    require(actor, TRANSFER_STOCK, from_store)
    positive(quantity)
    if from_store.pk == to_store.pk:
        raise ValidationError({"to_store": _("A transfer needs two different stores.")})
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
def stock_transfer_send(
    *, store: Store, items: Sequence[StockItem], transfer_id: uuid.UUID, actor, reason: str = ""
) -> list[StockMovement]:
    """Send stock out of `store` into transit: `transfer_out` movements; needs `transfer_stock` here only."""
    require(actor, TRANSFER_STOCK, store)
    _items_check(items)
    rows = stock_rows_lock(pairs=[(store.pk, item.product.pk) for item in items])
    return [
        movement_apply(
            row=rows[(store.pk, item.product.pk)],
            store=store,
            product=item.product,
            kind=StockMovement.Kind.TRANSFER_OUT,
            delta=-item.quantity,
            actor=actor,
            reason=reason,
            transfer_id=transfer_id,
        )
        for item in items
    ]


@transaction.atomic
def stock_transfer_arrive(
    *, store: Store, items: Sequence[StockItem], transfer_id: uuid.UUID, actor, reason: str = ""
) -> list[StockMovement]:
    """Take stock in transit into `store`: `transfer_in` movements; needs `receive_stock` in `store`."""
    require(actor, RECEIVE_STOCK, store)
    items = [item for item in items if item.quantity]
    rows = stock_rows_lock(pairs=[(store.pk, item.product.pk) for item in items])
    return [
        movement_apply(
            row=rows[(store.pk, item.product.pk)],
            store=store,
            product=item.product,
            kind=StockMovement.Kind.TRANSFER_IN,
            delta=item.quantity,
            actor=actor,
            reason=reason,
            transfer_id=transfer_id,
        )
        for item in items
    ]


@transaction.atomic
def stock_reorder_set(
    *,
    store: Store,
    product: Product,
    actor,
    reorder_point: int | None = None,
    reorder_quantity: int | None = None,
) -> StockLevel:
    """Set a product's reorder point and/or reorder quantity in a store (None: unchanged)."""
    require(actor, ADJUST_STOCK, store)
    changed = []
    for name, value in (("reorder_point", reorder_point), ("reorder_quantity", reorder_quantity)):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
            raise ValidationError({name: _("Must be a whole number from 0 to 1,000,000.")})
        changed.append((name, value))
    row = stock_rows_lock(pairs=[(store.pk, product.pk)])[(store.pk, product.pk)]
    for name, value in changed:
        setattr(row, name, value)
    if changed:
        row.save(update_fields=[name for name, _value in changed] + ["updated_at"])
    return row


def stock_reorder_point_set(*, store: Store, product: Product, reorder_point: int, actor) -> StockLevel:
    return stock_reorder_set(store=store, product=product, reorder_point=reorder_point, actor=actor)
