"""What the inventory services tell webhooks (integrations.events), in the API's shapes.

Each payload is the object as the API shows it (`tests/integrations` compares them): products and
sales by the very functions the API answers with (inventory.shapes), the rest built here from the
model. Customers are sent as ids only: their contact data stays in its encrypted columns and is
read with the API.
"""

from __future__ import annotations

from integrations.events import event_emit, events_emit
from inventory import shapes


def products_changed(products) -> None:
    events_emit(("product.changed", shapes.product_shape(product)) for product in products)


def customer_changed(customer) -> None:
    event_emit(
        "customer.changed",
        {
            "id": str(customer.pk),
            "external_id": customer.external_id,
            "updated_at": shapes.timestamp(customer.updated_at),
            "erased_at": shapes.timestamp(customer.erased_at),
        },
    )


def _stock_payload(movement) -> dict:
    return {
        "store": str(movement.store_id),
        "product": str(movement.product_id),
        "sku": movement.product.sku,
        "quantity": movement.balance_after,
        "change": movement.quantity,
        "kind": movement.kind,
        "movement": str(movement.pk),
        "created_at": shapes.timestamp(movement.created_at),
    }


def stock_changed(movement) -> None:
    event_emit("stock.changed", _stock_payload(movement))


def stocks_changed(movements) -> None:
    events_emit(("stock.changed", _stock_payload(movement)) for movement in movements)


def sale_created(sale, lines, payments, taxes, movements=()) -> None:
    """The sale and the stock it moved: one outbox statement."""
    events_emit(
        [("sale.created", shapes.sale_shape(sale, lines, payments, taxes))]
        + [("stock.changed", _stock_payload(movement)) for movement in movements]
    )


def sale_refunded(refund, lines, payments, taxes, movements=()) -> None:
    """The refund (or a return without a receipt: `sale` null) as `GET /api/v1/refunds/` shows it,
    and the stock it put back: one outbox statement."""
    refunded = (
        "sale.refunded",
        {
            "id": str(refund.pk),
            "sale": shapes.ident(refund.sale_id),
            "store": str(refund.store_id),
            "reason": refund.reason,
            "restock": refund.restock,
            "total": shapes.money(refund.total),
            "tax_total": shapes.money(refund.tax_total),
            "taxes": shapes.taxes_shape(taxes),
            "lines": [
                {
                    "sale_line": shapes.ident(line.sale_line_id),
                    "product": shapes.ident(line.product_id),
                    "sku": line.sku,
                    "name": line.name,
                    "tax_rate": shapes.money(line.tax_rate),
                    "quantity": line.quantity,
                    "amount": shapes.money(line.amount),
                    "tax": shapes.money(line.tax),
                }
                for line in lines
            ],
            "payments": shapes.payments_shape(payments),
            "register": refund.register,
            "shift": shapes.ident(refund.shift_id),
            "approved_by": shapes.ident(refund.approved_by_id),
            "created_at": shapes.timestamp(refund.created_at),
            "updated_at": shapes.timestamp(refund.updated_at),
        },
    )
    events_emit([refunded] + [("stock.changed", _stock_payload(movement)) for movement in movements])
