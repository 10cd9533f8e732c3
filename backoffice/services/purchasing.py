"""Purchase orders: draft → ordered → partially received → received, or cancelled.

Receiving writes `receive` movements at the line's unit cost through
`inventory.services.stock.stock_receive_items`, which also moves each product's cost to the
moving average. The order row is locked first, then its lines, then the stock rows (in
primary-key order), so two deliveries of one order never both take the last units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import MANAGE_PURCHASING, RECEIVE_STOCK
from backoffice.models import PurchaseOrder, PurchaseOrderLine, PurchaseOrderReceipt, PurchaseOrderReceiptLine
from backoffice.services._bulk import rows_update
from backoffice.services._numbers import number_next
from core.errors import Conflict
from inventory.models import Product, Supplier
from inventory.services._rules import require
from inventory.services.stock import StockItem, stock_receive_items
from tenants.models import Store

MAX_LINES = 1000
MAX_QUANTITY = 1_000_000
MAX_UNIT_COST = Decimal("1000000")


@dataclass(frozen=True)
class OrderLineInput:
    product: Product
    quantity: int
    unit_cost: Decimal | None = None  # None: the product's current cost


@dataclass(frozen=True)
class ReceiveLineInput:
    line: PurchaseOrderLine
    quantity: int


def _lines_check(lines: Sequence[OrderLineInput]) -> None:
    if len(lines) > MAX_LINES:
        raise ValidationError({"lines": _("At most %(n)d lines.") % {"n": MAX_LINES}})
    seen = set()
    for index, line in enumerate(lines, start=1):
        if not isinstance(line.quantity, int) or not 0 < line.quantity <= MAX_QUANTITY:
            raise ValidationError(
                {"lines": _("Line %(n)d: the quantity must be 1 to 1,000,000.") % {"n": index}}
            )
        cost = line.unit_cost
        if cost is not None and (not cost.is_finite() or cost < 0 or cost >= MAX_UNIT_COST):
            raise ValidationError({"lines": _("Line %(n)d: the unit cost must be 0 or more.") % {"n": index}})
        if line.product.pk in seen:
            raise ValidationError(
                {
                    "lines": _("Line %(n)d: %(sku)s is on the order twice.")
                    % {"n": index, "sku": line.product.sku}
                }
            )
        seen.add(line.product.pk)


def _lines_write(order: PurchaseOrder, lines: Sequence[OrderLineInput]) -> None:
    PurchaseOrderLine.objects.bulk_create(
        [
            PurchaseOrderLine(
                tenant_id=order.tenant_id,
                order=order,
                product=line.product,
                quantity=line.quantity,
                unit_cost=line.product.cost if line.unit_cost is None else line.unit_cost,
            )
            for line in lines
        ]
    )


def _lock(order: PurchaseOrder) -> PurchaseOrder:
    return (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("store", "supplier")
        .get(pk=order.pk)
    )


@transaction.atomic
def purchase_order_create(
    *,
    supplier: Supplier,
    store: Store,
    lines: Sequence[OrderLineInput],
    actor,
    notes: str = "",
    expected_on: date | None = None,
) -> PurchaseOrder:
    """A draft order for `store` (needs `manage_purchasing` there); it may start without lines."""
    require(actor, MANAGE_PURCHASING, store)
    _lines_check(lines)
    order = PurchaseOrder.objects.create(
        number=number_next("purchase_order"),
        supplier=supplier,
        store=store,
        notes=notes,
        expected_on=expected_on,
        created_by=actor,
    )
    _lines_write(order, lines)
    return order


@transaction.atomic
def purchase_order_update(
    *,
    order: PurchaseOrder,
    actor,
    lines: Sequence[OrderLineInput] | None = None,
    supplier: Supplier | None = None,
    notes: str | None = None,
    expected_on: date | None = None,
) -> PurchaseOrder:
    """Change a draft: its lines (all replaced when given), supplier, notes or expected date."""
    require(actor, MANAGE_PURCHASING, order.store)
    order = _lock(order)
    if order.status != PurchaseOrder.Status.DRAFT:
        raise Conflict(
            _("Only a draft can be changed; this order is %(status)s.")
            % {"status": order.get_status_display()}
        )
    changed = []
    if supplier is not None:
        order.supplier = supplier
        changed.append("supplier")
    if notes is not None:
        order.notes = notes
        changed.append("notes")
    if expected_on is not None:
        order.expected_on = expected_on
        changed.append("expected_on")
    if lines is not None:
        _lines_check(lines)
        order.lines.all().delete()
        _lines_write(order, lines)
    order.save(update_fields=[*changed, "updated_at"])
    return order


@transaction.atomic
def purchase_order_order(*, order: PurchaseOrder, actor) -> PurchaseOrder:
    """Send a draft to the supplier: it becomes `ordered` and can be received."""
    require(actor, MANAGE_PURCHASING, order.store)
    order = _lock(order)
    if order.status != PurchaseOrder.Status.DRAFT:
        raise Conflict(
            _("Only a draft can be ordered; this order is %(status)s.")
            % {"status": order.get_status_display()}
        )
    if not order.lines.exists():
        raise ValidationError({"lines": _("An order needs at least one line.")})
    order.status = PurchaseOrder.Status.ORDERED
    order.ordered_at = timezone.now()
    order.save(update_fields=["status", "ordered_at", "updated_at"])
    return order


@transaction.atomic
def purchase_order_cancel(*, order: PurchaseOrder, actor) -> PurchaseOrder:
    """Cancel an open order; what was already received stays received, the rest is no longer expected."""
    require(actor, MANAGE_PURCHASING, order.store)
    order = _lock(order)
    if order.status not in PurchaseOrder.OPEN:
        raise Conflict(
            _("This order is %(status)s: it cannot be cancelled.") % {"status": order.get_status_display()}
        )
    order.status = PurchaseOrder.Status.CANCELLED
    order.closed_at = timezone.now()
    order.save(update_fields=["status", "closed_at", "updated_at"])
    return order


@transaction.atomic
def purchase_order_receive(
    *, order: PurchaseOrder, lines: Sequence[ReceiveLineInput], actor, note: str = ""
) -> PurchaseOrderReceipt:
    """Receive a delivery: `receive` movements at each line's cost; more than is outstanding is refused.

    The order becomes `partially_received`, or `received` once every line has arrived in full.
    """
    require(actor, RECEIVE_STOCK, order.store)
    order = _lock(order)
    if order.status not in PurchaseOrder.RECEIVABLE:
        raise Conflict(
            _("This order is %(status)s: only an ordered purchase order can be received.")
            % {"status": order.get_status_display()}
        )
    if not lines:
        raise ValidationError({"lines": _("Receive at least one line.")})
    locked = {
        line.pk: line
        for line in PurchaseOrderLine.objects.filter(order=order)
        .select_related("product")
        .order_by("pk")
        .select_for_update(of=("self",))
    }
    wanted: dict = {}
    for item in lines:
        line = locked.get(item.line.pk)
        if line is None:
            raise ValidationError(
                {"lines": _("Not a line of this order: %(line)s.") % {"line": item.line.pk}}
            )
        if not isinstance(item.quantity, int) or not 0 < item.quantity <= MAX_QUANTITY:
            raise ValidationError({"lines": _("%(sku)s: receive 1 or more.") % {"sku": line.product.sku}})
        wanted[line.pk] = wanted.get(line.pk, 0) + item.quantity
    over = [
        _("%(sku)s: %(wanted)d received, %(left)d outstanding")
        % {"sku": locked[pk].product.sku, "wanted": quantity, "left": locked[pk].outstanding}
        for pk, quantity in wanted.items()
        if quantity > locked[pk].outstanding
    ]
    if over:
        raise ValidationError(
            {"lines": [_("More than was ordered: %(lines)s.") % {"lines": "; ".join(over)}]}
        )
    receipt = PurchaseOrderReceipt.objects.create(order=order, note=note[:500], received_by=actor)
    received = [locked[pk] for pk in wanted]
    movements = stock_receive_items(
        store=order.store,
        items=[
            StockItem(product=line.product, quantity=wanted[line.pk], unit_cost=line.unit_cost)
            for line in received
        ],
        actor=actor,
        supplier=order.supplier,
        reason=f"PO {order.number}",  # stored: the same words whoever receives
    )
    for line in received:
        line.received += wanted[line.pk]
    rows_update(PurchaseOrderLine, received, ["received"])
    PurchaseOrderReceiptLine.objects.bulk_create(
        [
            PurchaseOrderReceiptLine(
                tenant_id=order.tenant_id,
                receipt=receipt,
                line=line,
                quantity=wanted[line.pk],
                movement=movement,
            )
            for line, movement in zip(received, movements, strict=True)
        ]
    )
    complete = all(line.received == line.quantity for line in locked.values())
    order.status = PurchaseOrder.Status.RECEIVED if complete else PurchaseOrder.Status.PARTIALLY_RECEIVED
    fields = ["status", "updated_at"]
    if complete:
        order.closed_at = timezone.now()
        fields.append("closed_at")
    order.save(update_fields=fields)
    return receipt
