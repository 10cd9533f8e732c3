"""The product and the sale as the API shows them, built by hand: one function for each.

`GET`/`POST` answers (inventory.serializers, whose declared fields stay the schema and the input
rules) and the webhooks' payloads (inventory.events) both come from here, so the two cannot
differ. By hand because DRF builds and copies every field object per serializer instance: for a
product list page that was a quarter of the request's CPU (bench/RESULTS.md, "Issue 17, fourth
pass"). tests/inventory/test_shapes.py holds each function equal to what DRF would render from
the serializer's fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal


def money(value) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, "Z" for its offset: as DRF renders it (the API's time zone is UTC)."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def ident(value) -> str | None:
    return None if value is None else str(value)


def product_shape(product) -> dict:
    return {
        "id": str(product.pk),
        "sku": product.sku,
        "barcode": product.barcode,
        "name": product.name,
        "description": product.description,
        "category": ident(product.category_id),
        "supplier": ident(product.supplier_id),
        "price": money(product.price),
        "cost": money(product.cost),
        "tax_rate": money(product.tax_rate),
        "active": product.active,
        "external_id": product.external_id,
        "created_at": timestamp(product.created_at),
        "updated_at": timestamp(product.updated_at),
    }


def taxes_shape(rows) -> list[dict]:
    return [
        {"rate": money(row.rate), "net": money(row.net), "tax": money(row.tax), "gross": money(row.gross)}
        for row in sorted(rows, key=lambda row: row.rate)
    ]


def payments_shape(rows) -> list[dict]:
    return [{"method": p.method, "amount": money(p.amount), "reference": p.reference} for p in rows]


def sale_shape(sale, lines, payments, taxes) -> dict:
    """The sale with the lines, payments and taxes given (inventory.serializers.SaleOut)."""
    discount = None
    if sale.basket_discount_percent is not None or sale.basket_discount_amount is not None:
        discount = {
            "percent": money(sale.basket_discount_percent),
            "amount": money(sale.basket_discount_amount),
            "reason": sale.basket_discount_reason,
        }
    return {
        "id": str(sale.pk),
        "store": str(sale.store_id),
        "receipt_number": sale.receipt_number,
        "status": sale.status,
        "customer": ident(sale.customer_id),
        "cashier": ident(sale.cashier_id),
        "register": sale.register,
        "shift": ident(sale.shift_id),
        "currency": sale.currency,
        "subtotal": money(sale.subtotal),
        "tax_total": money(sale.tax_total),
        "total": money(sale.total),
        "taxes": taxes_shape(taxes),
        "discount_total": money(sale.discount_total),
        "discount": discount,
        "approved_by": ident(sale.approved_by_id),
        "paid": money(sale.paid),
        "change_due": money(sale.change_due),
        "refunded_total": money(sale.refunded_total),
        "lines": [
            {
                "id": str(line.pk),
                "product": str(line.product_id),
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price),
                "tax_rate": money(line.tax_rate),
                "list_total": money(line.list_total),
                "discount": money(line.discount),
                "basket_discount": money(line.basket_discount),
                "discount_percent": money(line.discount_percent),
                "discount_amount": money(line.discount_amount),
                "discount_reason": line.discount_reason,
                "line_total": money(line.line_total),
                "line_tax": money(line.line_tax),
                "net": money(line.line_total - line.line_tax),
                "refunded_quantity": line.refunded_quantity,
            }
            for line in sorted(lines, key=lambda line: (line.position, line.sku))
        ],
        "payments": payments_shape(payments),
        "created_at": timestamp(sale.created_at),
        "updated_at": timestamp(sale.updated_at),
    }
