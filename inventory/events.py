"""What the inventory services tell webhooks (integrations.events), in the API's shapes.

Each payload is the object as the API shows it (`tests/integrations` compares them), built here
from the model because domain code does not use the API's serializers. Customers are sent as ids
only: their contact data stays in its encrypted columns and is read with the API.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from integrations.events import event_emit, events_emit


def _money(value) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _id(value) -> str | None:
    return None if value is None else str(value)


def product_payload(product) -> dict:
    return {
        "id": str(product.pk),
        "sku": product.sku,
        "barcode": product.barcode,
        "name": product.name,
        "description": product.description,
        "category": _id(product.category_id),
        "supplier": _id(product.supplier_id),
        "price": _money(product.price),
        "cost": _money(product.cost),
        "tax_rate": _money(product.tax_rate),
        "active": product.active,
        "external_id": product.external_id,
        "created_at": _time(product.created_at),
        "updated_at": _time(product.updated_at),
    }


def products_changed(products) -> None:
    events_emit(("product.changed", product_payload(product)) for product in products)


def customer_changed(customer) -> None:
    event_emit(
        "customer.changed",
        {
            "id": str(customer.pk),
            "external_id": customer.external_id,
            "updated_at": _time(customer.updated_at),
            "erased_at": _time(customer.erased_at),
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
        "created_at": _time(movement.created_at),
    }


def stock_changed(movement) -> None:
    event_emit("stock.changed", _stock_payload(movement))


def stocks_changed(movements) -> None:
    events_emit(("stock.changed", _stock_payload(movement)) for movement in movements)


def _taxes(rows) -> list[dict]:
    return [
        {"rate": _money(row.rate), "net": _money(row.net), "tax": _money(row.tax), "gross": _money(row.gross)}
        for row in sorted(rows, key=lambda row: row.rate)
    ]


def _payments(rows) -> list[dict]:
    return [{"method": p.method, "amount": _money(p.amount), "reference": p.reference} for p in rows]


def sale_payload(sale, lines, payments, taxes) -> dict:
    """The sale as `GET /api/v1/sales/{id}/` shows it (inventory.serializers.SaleOut)."""
    discount = None
    if sale.basket_discount_percent is not None or sale.basket_discount_amount is not None:
        discount = {
            "percent": _money(sale.basket_discount_percent),
            "amount": _money(sale.basket_discount_amount),
            "reason": sale.basket_discount_reason,
        }
    return {
        "id": str(sale.pk),
        "store": str(sale.store_id),
        "receipt_number": sale.receipt_number,
        "status": sale.status,
        "customer": _id(sale.customer_id),
        "cashier": _id(sale.cashier_id),
        "register": sale.register,
        "shift": _id(sale.shift_id),
        "currency": sale.currency,
        "subtotal": _money(sale.subtotal),
        "tax_total": _money(sale.tax_total),
        "total": _money(sale.total),
        "taxes": _taxes(taxes),
        "discount_total": _money(sale.discount_total),
        "discount": discount,
        "approved_by": _id(sale.approved_by_id),
        "paid": _money(sale.paid),
        "change_due": _money(sale.change_due),
        "refunded_total": _money(sale.refunded_total),
        "lines": [
            {
                "id": str(line.pk),
                "product": str(line.product_id),
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "tax_rate": _money(line.tax_rate),
                "list_total": _money(line.list_total),
                "discount": _money(line.discount),
                "basket_discount": _money(line.basket_discount),
                "discount_percent": _money(line.discount_percent),
                "discount_amount": _money(line.discount_amount),
                "discount_reason": line.discount_reason,
                "line_total": _money(line.line_total),
                "line_tax": _money(line.line_tax),
                "net": _money(line.line_total - line.line_tax),
                "refunded_quantity": line.refunded_quantity,
            }
            for line in sorted(lines, key=lambda line: (line.position, line.sku))
        ],
        "payments": _payments(payments),
        "created_at": _time(sale.created_at),
        "updated_at": _time(sale.updated_at),
    }


def sale_created(sale, lines, payments, taxes, movements=()) -> None:
    """The sale and the stock it moved: one outbox statement."""
    events_emit(
        [("sale.created", sale_payload(sale, lines, payments, taxes))]
        + [("stock.changed", _stock_payload(movement)) for movement in movements]
    )


def sale_refunded(refund, lines, payments, taxes, movements=()) -> None:
    """The refund (or a return without a receipt: `sale` null) as `GET /api/v1/refunds/` shows it,
    and the stock it put back: one outbox statement."""
    refunded = (
        "sale.refunded",
        {
            "id": str(refund.pk),
            "sale": _id(refund.sale_id),
            "store": str(refund.store_id),
            "reason": refund.reason,
            "restock": refund.restock,
            "total": _money(refund.total),
            "tax_total": _money(refund.tax_total),
            "taxes": _taxes(taxes),
            "lines": [
                {
                    "sale_line": _id(line.sale_line_id),
                    "product": _id(line.product_id),
                    "sku": line.sku,
                    "name": line.name,
                    "tax_rate": _money(line.tax_rate),
                    "quantity": line.quantity,
                    "amount": _money(line.amount),
                    "tax": _money(line.tax),
                }
                for line in lines
            ],
            "payments": _payments(payments),
            "register": refund.register,
            "shift": _id(refund.shift_id),
            "approved_by": _id(refund.approved_by_id),
            "created_at": _time(refund.created_at),
            "updated_at": _time(refund.updated_at),
        },
    )
    events_emit([refunded] + [("stock.changed", _stock_payload(movement)) for movement in movements])
