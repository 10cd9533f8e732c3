"""Sales and refunds: every line or none, receipt numbers per store, stock moved in the ledger."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils.translation import gettext

from accounts.permissions import REFUND, SELL
from core.errors import Conflict
from inventory import events
from inventory.errors import InsufficientStock
from inventory.locks import stock_rows_lock
from inventory.models import (
    Customer,
    Payment,
    Product,
    ReceiptCounter,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    StockMovement,
)
from inventory.services._rules import money, require
from inventory.services.stock import movement_apply, movements_apply_many
from tenants.context import require_tenant_id
from tenants.models import Store


def currency() -> str:
    return getattr(settings, "KASSA_CURRENCY", "EUR")


@dataclass(frozen=True)
class SaleLineInput:
    product: Product
    quantity: int


@dataclass(frozen=True)
class PaymentInput:
    method: str
    amount: Decimal
    reference: str = ""


@dataclass(frozen=True)
class RefundLineInput:
    sale_line: SaleLine
    quantity: int


def sale_inputs(
    *, lines: Iterable[Mapping], payments: Iterable[Mapping]
) -> tuple[list[SaleLineInput], list[PaymentInput]]:
    """`sale_create`'s lines and payments from checked input (the API's and the register's).

    Lines are `{"product": Product, "quantity": int}`, payments
    `{"method": str, "amount": Decimal, "reference": str (optional)}`.
    """
    return (
        [SaleLineInput(product=line["product"], quantity=line["quantity"]) for line in lines],
        [
            PaymentInput(
                method=payment["method"], amount=payment["amount"], reference=payment.get("reference", "")
            )
            for payment in payments
        ],
    )


def line_tax(line_total: Decimal, tax_rate: Decimal) -> Decimal:
    """The tax contained in a tax-inclusive amount."""
    if not tax_rate:
        return Decimal("0.00")
    return money(line_total * tax_rate / (100 + tax_rate))


def _receipt_number_next(store: Store) -> int:
    """The store's next receipt number; the counter row stays locked until the sale commits."""
    tenant_id = require_tenant_id()
    for _ in range(2):
        with connection.cursor() as cursor:
            # One statement: the increment returns the number it made (and keeps the row locked).
            cursor.execute(
                f"UPDATE {ReceiptCounter._meta.db_table} SET last_number = last_number + 1 "  # noqa: S608
                "WHERE tenant_id = %s AND store_id = %s RETURNING last_number",
                [tenant_id, store.pk],
            )
            row = cursor.fetchone()
        if row is not None:
            return row[0]
        ReceiptCounter.objects.bulk_create(
            [ReceiptCounter(tenant_id=tenant_id, store=store)], ignore_conflicts=True
        )
    raise RuntimeError("the receipt counter could not be made")


def _check_payments(payments: Sequence[PaymentInput], total: Decimal) -> tuple[Decimal, Decimal]:
    methods = set(Payment.Method.values)
    for index, payment in enumerate(payments):
        if payment.method not in methods:
            raise ValidationError(
                {
                    "payments": gettext("Payment %(n)d: unknown method %(method)s.")
                    % {"n": index + 1, "method": repr(payment.method)}
                }
            )
        if money(payment.amount) <= 0:
            raise ValidationError(
                {"payments": gettext("Payment %(n)d: the amount must be positive.") % {"n": index + 1}}
            )
    paid = money(sum((p.amount for p in payments), Decimal(0)))
    if paid < total:
        raise ValidationError(
            {
                "payments": gettext("The payments (%(paid)s) do not cover the total (%(total)s).")
                % {"paid": paid, "total": total}
            }
        )
    change = paid - total
    cash = money(sum((p.amount for p in payments if p.method == Payment.Method.CASH), Decimal(0)))
    if change > cash:
        raise ValidationError({"payments": gettext("Only cash can be overpaid (change is given in cash).")})
    return paid, change


@transaction.atomic
def sale_create(
    *,
    store: Store,
    lines: Sequence[SaleLineInput],
    payments: Sequence[PaymentInput],
    actor,
    customer: Customer | None = None,
) -> Sale:
    """Sell: every line or none. 409 insufficient_stock when the store forbids negative stock."""
    require(actor, SELL, store)
    if not store.active:
        raise ValidationError({"store": gettext("This store is closed.")})
    if not lines:
        raise ValidationError({"lines": gettext("A sale needs at least one line.")})
    quantities: dict = {}
    products: dict = {}
    for index, line in enumerate(lines):
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            raise ValidationError(
                {
                    "lines": gettext("Line %(n)d: the quantity must be a positive whole number.")
                    % {"n": index + 1}
                }
            )
        if not line.product.active:
            raise ValidationError(
                {
                    "lines": gettext("Line %(n)d: %(sku)s is not for sale.")
                    % {"n": index + 1, "sku": line.product.sku}
                }
            )
        quantities[line.product.pk] = quantities.get(line.product.pk, 0) + line.quantity
        products[line.product.pk] = line.product
    if customer is not None and customer.erased_at is not None:
        raise ValidationError({"customer": gettext("This customer was erased.")})

    priced = []
    for line in lines:
        line_total = money(line.product.price * line.quantity)
        priced.append((line, line_total, line_tax(line_total, line.product.tax_rate)))
    total = money(sum((p[1] for p in priced), Decimal(0)))
    tax_total = money(sum((p[2] for p in priced), Decimal(0)))
    rows = stock_rows_lock(pairs=[(store.pk, product_id) for product_id in quantities])
    for product_id, wanted in quantities.items():
        row = rows[(store.pk, product_id)]
        if not store.allow_negative_stock and row.quantity < wanted:
            raise InsufficientStock(products[product_id].sku, row.quantity, wanted)
    # After the stock: goods that are not there are the answer, whatever was paid.
    paid, change = _check_payments(payments, total)

    sale = Sale.objects.create(
        store=store,
        receipt_number=_receipt_number_next(store),
        customer=customer,
        cashier=actor,
        currency=currency(),
        subtotal=total - tax_total,
        tax_total=tax_total,
        total=total,
        paid=paid,
        change_due=change,
    )
    tenant_id = require_tenant_id()
    sale_lines = SaleLine.objects.bulk_create(
        [
            SaleLine(
                tenant_id=tenant_id,
                sale=sale,
                product=line.product,
                sku=line.product.sku,
                name=line.product.name,
                quantity=line.quantity,
                unit_price=line.product.price,
                tax_rate=line.product.tax_rate,
                line_total=line_total,
                line_tax=tax,
            )
            for line, line_total, tax in priced
        ]
    )
    sale_payments = Payment.objects.bulk_create(
        [
            Payment(
                tenant_id=tenant_id, sale=sale, method=p.method, amount=money(p.amount), reference=p.reference
            )
            for p in payments
        ]
    )
    # Every line's stock in one UPDATE and one INSERT (checked above, under the same locks).
    movements = movements_apply_many(
        changes=[
            (rows[(store.pk, product_id)], store, products[product_id], -wanted)
            for product_id, wanted in quantities.items()
        ],
        kind=StockMovement.Kind.SALE,
        actor=actor,
        emit=False,
        sale=sale,
    )
    events.sale_created(sale, sale_lines, sale_payments, movements)
    # What the answer shows, as written: no need to read the lines and payments back.
    sale._prefetched_objects_cache = {"lines": sale_lines, "payments": sale_payments}
    return sale


@transaction.atomic
def sale_refund(
    *,
    sale: Sale,
    actor,
    lines: Sequence[RefundLineInput] | None = None,
    reason: str = "",
    restock: bool = True,
) -> Refund:
    """Refund the whole sale (`lines=None`) or some of its lines; restock the goods if asked."""
    store = sale.store
    require(actor, REFUND, store)
    # The sale row's lock serialises refunds of one sale, so nothing is refunded twice.
    sale = Sale.objects.select_for_update(of=("self",)).get(pk=sale.pk)
    sale_lines = {line.pk: line for line in SaleLine.objects.filter(sale=sale).select_related("product")}
    if lines is None:
        wanted = {pk: line.quantity - line.refunded_quantity for pk, line in sale_lines.items()}
        wanted = {pk: q for pk, q in wanted.items() if q > 0}
    else:
        wanted = {}
        for index, item in enumerate(lines):
            if item.sale_line.pk not in sale_lines:
                raise ValidationError(
                    {"lines": gettext("Line %(n)d is not a line of this sale.") % {"n": index + 1}}
                )
            if not isinstance(item.quantity, int) or item.quantity <= 0:
                raise ValidationError(
                    {
                        "lines": gettext("Line %(n)d: the quantity must be a positive whole number.")
                        % {"n": index + 1}
                    }
                )
            wanted[item.sale_line.pk] = wanted.get(item.sale_line.pk, 0) + item.quantity
    if not wanted:
        raise Conflict(gettext("Nothing is left to refund on this sale."))
    for pk, quantity in wanted.items():
        line = sale_lines[pk]
        if quantity > line.quantity - line.refunded_quantity:
            raise ValidationError(
                {
                    "lines": gettext("%(sku)s: %(asked)d asked, %(left)d refundable.")
                    % {"sku": line.sku, "asked": quantity, "left": line.quantity - line.refunded_quantity}
                }
            )

    amounts = {}
    for pk, quantity in wanted.items():
        line = sale_lines[pk]
        if line.refunded_quantity + quantity == line.quantity:
            # The last units take what is left, so rounding never refunds more than was paid.
            refunded_so_far = money(line.line_total * line.refunded_quantity / line.quantity)
            amount = line.line_total - refunded_so_far
        else:
            amount = money(line.line_total * quantity / line.quantity)
        amounts[pk] = (amount, line_tax(amount, line.tax_rate))
    total = money(sum((a for a, _ in amounts.values()), Decimal(0)))
    refund = Refund.objects.create(
        sale=sale,
        store=store,
        reason=reason,
        restock=restock,
        total=total,
        tax_total=money(sum((t for _, t in amounts.values()), Decimal(0))),
        actor=actor,
    )
    tenant_id = require_tenant_id()
    refund_lines = RefundLine.objects.bulk_create(
        [
            RefundLine(
                tenant_id=tenant_id,
                refund=refund,
                sale_line=sale_lines[pk],
                quantity=quantity,
                amount=amounts[pk][0],
                tax=amounts[pk][1],
            )
            for pk, quantity in wanted.items()
        ]
    )
    for pk, quantity in wanted.items():
        line = sale_lines[pk]
        line.refunded_quantity = F("refunded_quantity") + quantity
        line.save(update_fields=["refunded_quantity"])

    if restock:
        per_product: dict = {}
        for pk, quantity in wanted.items():
            product = sale_lines[pk].product
            per_product[product.pk] = (product, per_product.get(product.pk, (product, 0))[1] + quantity)
        rows = stock_rows_lock(pairs=[(store.pk, product_id) for product_id in per_product])
        movements = [
            movement_apply(
                row=rows[(store.pk, product_id)],
                store=store,
                product=product,
                kind=StockMovement.Kind.REFUND,
                delta=quantity,
                actor=actor,
                sale=sale,
                refund=refund,
                emit=False,
            )
            for product_id, (product, quantity) in per_product.items()
        ]
    else:
        movements = []

    remaining = sum(
        line.quantity - line.refunded_quantity
        for line in SaleLine.objects.filter(sale=sale).only("quantity", "refunded_quantity")
    )
    sale.refunded_total = F("refunded_total") + total
    sale.status = Sale.Status.REFUNDED if remaining == 0 else Sale.Status.PARTIALLY_REFUNDED
    sale.save(update_fields=["refunded_total", "status"])
    sale.refresh_from_db(fields=["refunded_total", "updated_at"])
    events.sale_refunded(refund, refund_lines, movements)
    return refund
