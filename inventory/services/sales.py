"""Sales, refunds and returns: every line or none, receipt numbers per store, stock moved in the
ledger, discounts within the actor's ceiling (or a manager's approval), tenders that cover the
total, cash only in an open shift. The money rules are in `inventory.services.pricing`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext

from accounts import authz
from accounts.approvals import Approval
from accounts.permissions import REFUND, REFUND_WITHOUT_RECEIPT, SELL
from core.errors import Conflict
from inventory import events
from inventory.errors import DiscountAboveLimit, InsufficientStock, NoOpenShift
from inventory.locks import stock_rows_lock
from inventory.models import (
    Customer,
    Payment,
    Product,
    ReceiptCounter,
    Refund,
    RefundLine,
    RefundPayment,
    RefundTax,
    Sale,
    SaleLine,
    SaleTax,
    Shift,
    StockMovement,
)
from inventory.services._rules import money, require
from inventory.services.pricing import ZERO, Discount, LineIn, allocate, basket_price, tax_of, taxes_of
from inventory.services.stock import movement_apply, movements_apply_many
from tenants.context import require_tenant_id
from tenants.models import Store
from tenants.rows import prepared, rows_insert

MAX_REGISTER_LENGTH = 64

DiscountInput = Discount  # the services' name for a discount asked for


def currency() -> str:
    return getattr(settings, "KASSA_CURRENCY", "EUR")


@dataclass(frozen=True)
class SaleLineInput:
    product: Product
    quantity: int
    discount: Discount | None = None


@dataclass(frozen=True)
class PaymentInput:
    method: str
    amount: Decimal
    reference: str = ""


@dataclass(frozen=True)
class RefundLineInput:
    sale_line: SaleLine
    quantity: int


@dataclass(frozen=True)
class ReturnLineInput:
    product: Product
    quantity: int


def discount_input(raw: Mapping | None) -> Discount | None:
    """A Discount from checked input `{"percent"|"amount": Decimal, "reason": str}` (or None)."""
    if not raw:
        return None
    return Discount(percent=raw.get("percent"), amount=raw.get("amount"), reason=raw.get("reason", "") or "")


def sale_inputs(
    *, lines: Iterable[Mapping], payments: Iterable[Mapping]
) -> tuple[list[SaleLineInput], list[PaymentInput]]:
    """`sale_create`'s lines and payments from checked input (the API's and the register's).

    Lines are `{"product": Product, "quantity": int, "discount": {...} (optional)}`, payments
    `{"method": str, "amount": Decimal, "reference": str (optional)}`.
    """
    return (
        [
            SaleLineInput(
                product=line["product"],
                quantity=line["quantity"],
                discount=discount_input(line.get("discount")),
            )
            for line in lines
        ],
        payment_inputs(payments),
    )


def payment_inputs(payments: Iterable[Mapping]) -> list[PaymentInput]:
    return [
        PaymentInput(
            method=payment["method"], amount=payment["amount"], reference=payment.get("reference", "")
        )
        for payment in payments
    ]


def line_tax(line_total: Decimal, tax_rate: Decimal) -> Decimal:
    """The tax contained in a tax-inclusive amount."""
    return tax_of(line_total, tax_rate)


RECEIPT_NUMBER_SQL = prepared(
    f"UPDATE {ReceiptCounter._meta.db_table} SET last_number = last_number + 1 "  # noqa: S608
    "WHERE tenant_id = %s AND store_id = %s RETURNING last_number"
)


def _receipt_number_next(store: Store) -> int:
    """The store's next receipt number; the counter row stays locked until the sale commits."""
    tenant_id = require_tenant_id()
    for _ in range(2):
        with connection.cursor() as cursor:
            # One statement: the increment returns the number it made (and keeps the row locked).
            cursor.execute(RECEIPT_NUMBER_SQL, [tenant_id, store.pk])
            row = cursor.fetchone()
        if row is not None:
            return row[0]
        ReceiptCounter.objects.bulk_create(
            [ReceiptCounter(tenant_id=tenant_id, store=store)], ignore_conflicts=True
        )
    raise RuntimeError("the receipt counter could not be made")


def _check_methods(payments: Sequence[PaymentInput], field: str = "payments") -> None:
    methods = set(Payment.Method.values)
    for index, payment in enumerate(payments):
        if payment.method not in methods:
            raise ValidationError(
                {
                    field: gettext("Payment %(n)d: unknown method %(method)s.")
                    % {"n": index + 1, "method": repr(payment.method)}
                }
            )
        if not payment.amount.is_finite() or money(payment.amount) <= 0:
            raise ValidationError(
                {field: gettext("Payment %(n)d: the amount must be positive.") % {"n": index + 1}}
            )


def _check_payments(payments: Sequence[PaymentInput], total: Decimal) -> tuple[Decimal, Decimal]:
    """Tenders cover the total; only cash may be overpaid (change is given in cash)."""
    _check_methods(payments)
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


def _check_register(register: str) -> str:
    register = (register or "").strip()
    if len(register) > MAX_REGISTER_LENGTH or "\x00" in register:
        raise ValidationError({"register": gettext("At most %(n)d characters.") % {"n": MAX_REGISTER_LENGTH}})
    return register


@functools.cache
def _shift_lock_sql(by_register: bool) -> str:
    table = Shift._meta.db_table
    columns = ", ".join(f"s.{field.column}" for field in Shift._meta.concrete_fields)
    inner = ", ".join(field.column for field in Shift._meta.concrete_fields)
    return prepared(
        f"SELECT {columns}, EXISTS (SELECT 1 FROM {table} a WHERE a.tenant_id = %s AND a.store_id = %s) "  # noqa: S608
        "AS runs_shifts FROM (SELECT 1) AS one LEFT JOIN LATERAL ("
        f"SELECT {inner} FROM {table} WHERE tenant_id = %s AND store_id = %s AND status = %s"
        f"{' AND register = %s' if by_register else ''} ORDER BY opened_at DESC LIMIT %s "
        "FOR NO KEY UPDATE) AS s ON true"
    )


def shift_lock(*, store: Store, register: str) -> tuple[Shift | None, bool]:
    """The open shift a sale or refund belongs to, locked until the transaction ends, and whether
    the store has ever opened a shift (`_cash_needs_a_shift`): one statement.

    The register's open shift; with no register named, the store's only open shift; None when
    there is none (only cash refuses that: `no_open_shift`). The lock (FOR NO KEY UPDATE) makes a
    closing shift wait for the sales in flight, and a sale after the close see it closed (the
    lock re-reads the row it waited for: a shift closed meanwhile is not taken). With no
    register named and two shifts open, both are locked as long (newest first, so two sales
    never take them in opposite orders) and neither is the sale's.
    """
    tenant_id = require_tenant_id()
    rows = list(
        Shift.objects.raw(
            _shift_lock_sql(bool(register)),
            [
                tenant_id,
                store.pk,
                tenant_id,
                store.pk,
                Shift.Status.OPEN,
                *([register] if register else []),
                1 if register else 2,
            ],
        )
    )
    runs_shifts = bool(rows[0].runs_shifts)
    found = [row for row in rows if row.pk is not None]
    return (found[0] if len(found) == 1 else None), runs_shifts


def _cash_needs_a_shift(payments: Sequence[PaymentInput], *, runs_shifts: bool) -> bool:
    """Cash with no open shift to take it in: refused once the store runs shifts.

    A store that has opened a shift runs its drawers by shifts, so from then on every cash
    payment needs an open shift on its register (the Z report must account for it). A store that
    has never opened one (an integrator's own till selling through the API) takes cash as before.
    """
    return runs_shifts and any(p.method == Payment.Method.CASH for p in payments)


def no_open_shift(*, store: Store, register: str) -> NoOpenShift:
    """The 409 for cash with no shift to take it in, saying what is missing."""
    if register:
        return NoOpenShift(
            gettext("Register %(register)s has no open shift: cash is taken only in an open shift.")
            % {"register": repr(register)}
        )
    if Shift.objects.filter(store=store, status=Shift.Status.OPEN).exists():
        return NoOpenShift(gettext("Several registers have an open shift here: name the register."))
    return NoOpenShift(gettext("No shift is open in this store: cash is taken only in an open shift."))


def _approver_for_discount(*, actor, store: Store, percent: Decimal, approval: Approval | None):
    """None when the actor may give `percent` themselves; else the approving user (or 403)."""
    if percent <= 0 or actor is None:
        return None
    ceiling = authz.discount_ceiling(actor, store)
    if ceiling is not None and percent <= ceiling:
        return None
    shown = percent.quantize(Decimal("0.01"))
    if approval is None:
        if ceiling is None:
            text = gettext(
                "A discount of %(shown)s %% is above your limit (no discounts): a manager's approval is needed."
            )
        else:
            text = gettext(
                "A discount of %(shown)s %% is above your limit (at most %(ceiling)s %%): "
                "a manager's approval is needed."
            )
        raise DiscountAboveLimit(text % {"shown": shown, "ceiling": ceiling})
    approver_ceiling = authz.discount_ceiling(approval.user, store)
    if approver_ceiling is None or percent > approver_ceiling:
        raise DiscountAboveLimit(
            gettext("%(user)s may not approve a discount of %(shown)s %% here.")
            % {"user": approval.user.username, "shown": shown}
        )
    return approval.user


def sale_create(
    *,
    store: Store,
    lines: Sequence[SaleLineInput],
    payments: Sequence[PaymentInput],
    actor,
    customer: Customer | None = None,
    discount: Discount | None = None,
    register: str = "",
    approval: Approval | None = None,
    savepoint: bool = True,
) -> Sale:
    """Sell: every line or none.

    409 insufficient_stock when the store forbids negative stock; 403 discount_above_limit when
    a discount exceeds the actor's ceiling and `approval` (a manager whose credentials the
    interface checked, accounts.approvals) does not allow it; 409 no_open_shift for cash with
    no open shift on the register.

    In a transaction of its own, or a savepoint of the caller's (so a caller may catch its error
    and go on); `savepoint=False` for a caller whose transaction ends with the error anyway (the
    API's view): two round trips fewer.
    """
    with transaction.atomic(savepoint=savepoint):
        require(actor, SELL, store)
        if not store.active:
            raise ValidationError({"store": gettext("This store is closed.")})
        if not lines:
            raise ValidationError({"lines": gettext("A sale needs at least one line.")})
        register = _check_register(register)
        quantities: dict = {}
        products: dict = {}
        for index, line in enumerate(lines):
            if not isinstance(line.quantity, int) or isinstance(line.quantity, bool) or line.quantity <= 0:
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

        basket = basket_price(
            [
                LineIn(
                    unit_price=line.product.price,
                    quantity=line.quantity,
                    tax_rate=line.product.tax_rate,
                    discount=line.discount,
                )
                for line in lines
            ],
            discount,
        )
        if basket.errors:
            raise ValidationError(basket.errors)
        _check_methods(payments)
        approved_by = _approver_for_discount(
            actor=actor, store=store, percent=basket.max_discount_percent, approval=approval
        )
        # Locks in order: shift, stock, receipt counter.
        shift, runs_shifts = shift_lock(store=store, register=register)
        rows = stock_rows_lock(pairs=[(store.pk, product_id) for product_id in quantities])
        for product_id, wanted in quantities.items():
            row = rows[(store.pk, product_id)]
            if not store.allow_negative_stock and row.quantity < wanted:
                raise InsufficientStock(products[product_id].sku, row.quantity, wanted)
        # After the stock: goods that are not there are the answer, whatever was paid.
        paid, change = _check_payments(payments, basket.total)
        if shift is None and _cash_needs_a_shift(payments, runs_shifts=runs_shifts):
            raise no_open_shift(store=store, register=register)

        [sale] = rows_insert(
            Sale,
            [
                Sale(
                    store=store,
                    receipt_number=_receipt_number_next(store),
                    customer=customer,
                    cashier=actor,
                    currency=currency(),
                    subtotal=basket.net_total,
                    tax_total=basket.tax_total,
                    total=basket.total,
                    paid=paid,
                    change_due=change,
                    register=shift.register if shift is not None else register,
                    shift=shift,
                    discount_total=basket.discount_total,
                    basket_discount_percent=discount.percent if discount is not None else None,
                    basket_discount_amount=discount.amount if discount is not None else None,
                    basket_discount_reason=(discount.reason if discount is not None else "")[:200],
                    approved_by=approved_by,
                )
            ],
        )
        tenant_id = require_tenant_id()
        sale_lines = rows_insert(
            SaleLine,
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
                    list_total=priced.list_total,
                    discount=priced.discount,
                    basket_discount=priced.basket_discount,
                    discount_percent=line.discount.percent if line.discount is not None else None,
                    discount_amount=line.discount.amount if line.discount is not None else None,
                    discount_reason=(line.discount.reason if line.discount is not None else "")[:200],
                    line_total=priced.total,
                    line_tax=priced.tax,
                    position=position,
                )
                for position, (line, priced) in enumerate(zip(lines, basket.lines, strict=True))
            ],
        )
        sale_taxes = rows_insert(
            SaleTax,
            [
                SaleTax(
                    tenant_id=tenant_id, sale=sale, rate=row.rate, net=row.net, tax=row.tax, gross=row.gross
                )
                for row in basket.taxes
            ],
        )
        sale_payments = rows_insert(
            Payment,
            [
                Payment(
                    tenant_id=tenant_id,
                    sale=sale,
                    method=p.method,
                    amount=money(p.amount),
                    reference=p.reference,
                )
                for p in payments
            ],
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
        events.sale_created(sale, sale_lines, sale_payments, sale_taxes, movements)
        # What the answer shows, as written: no need to read the lines, payments and taxes back.
        sale._prefetched_objects_cache = {
            "lines": _as_fetched(SaleLine, sale_lines),
            "payments": _as_fetched(Payment, sale_payments),
            "taxes": _as_fetched(SaleTax, sale_taxes),
        }
        return sale


def _as_fetched(model, rows: list):
    """A queryset of rows just written, already evaluated (as prefetch_related leaves it): the
    answer reads them without a query, and a filter or get on it still asks the database."""
    found = model.objects.filter(pk__in=[row.pk for row in rows])
    found._result_cache = list(rows)
    found._prefetch_done = True
    return found


def _refunder(*, actor, store: Store, permission: str, approval: Approval | None):
    """None when the actor holds `permission` in the store; else the approving user (once), or 403."""
    if actor is None or authz.can(actor, permission, store):
        return None
    if approval is None:
        raise PermissionDenied(
            gettext("You may not %(action)s in %(store)s.")
            % {"action": permission.replace("_", " "), "store": store.name}
        )
    if not (authz.can(actor, SELL, store) or authz.can(actor, REFUND, store)):
        raise PermissionDenied(
            gettext("You may not work at the register in %(store)s.") % {"store": store.name}
        )
    if not authz.can(approval.user, permission, store):
        raise PermissionDenied(
            gettext("%(user)s may not approve this in %(store)s.")
            % {"user": approval.user.username, "store": store.name}
        )
    return approval.user


def _refund_tenders(sale: Sale, total: Decimal) -> list[PaymentInput]:
    """How the money goes back by default: the sale's tenders, non-cash first (back to the card
    or voucher they came from), each up to what it paid less what it got back before, cash last."""
    taken: dict[str, Decimal] = {}
    order: list[str] = []
    for payment in sale.payments.all():
        amount = payment.amount
        if payment.method == Payment.Method.CASH:
            amount -= sale.change_due
        if payment.method not in taken:
            order.append(payment.method)
        taken[payment.method] = taken.get(payment.method, ZERO) + amount
    for row in RefundPayment.objects.filter(refund__sale=sale).values("method").annotate(back=Sum("amount")):
        taken[row["method"]] = taken.get(row["method"], ZERO) - row["back"]
    order.sort(key=lambda method: method == Payment.Method.CASH)
    tenders = []
    left = total
    for method in order:
        part = min(left, max(taken[method], ZERO))
        if part > 0:
            tenders.append(PaymentInput(method=method, amount=part))
            left -= part
    if left > 0:
        tenders.append(PaymentInput(method=Payment.Method.CASH, amount=left))
    return tenders


def _check_refund_payments(payments: Sequence[PaymentInput], total: Decimal) -> None:
    _check_methods(payments)
    back = money(sum((p.amount for p in payments), Decimal(0)))
    if back != total:
        raise ValidationError(
            {
                "payments": gettext("The money back (%(back)s) must equal the refund (%(total)s).")
                % {"back": back, "total": total}
            }
        )


def _refund_write(
    *,
    store: Store,
    actor,
    sale: Sale | None,
    reason: str,
    restock: bool,
    register: str,
    approved_by,
    lines: list[dict],
    taxes,
    payments: Sequence[PaymentInput],
    shift: Shift | None,
) -> Refund:
    """The refund's rows, its stock movements and its tenders (shared by refunds and returns)."""
    refund = Refund.objects.create(
        sale=sale,
        store=store,
        reason=reason[:200],
        restock=restock,
        total=sum((line["amount"] for line in lines), ZERO),
        tax_total=sum((row.tax for row in taxes), ZERO),
        actor=actor,
        register=shift.register if shift is not None else register,
        shift=shift,
        approved_by=approved_by,
    )
    tenant_id = require_tenant_id()
    refund_rows = RefundLine.objects.bulk_create(
        [
            RefundLine(
                tenant_id=tenant_id,
                refund=refund,
                sale_line=line.get("sale_line"),
                product=line["product"],
                sku=line["sku"],
                name=line["name"],
                tax_rate=line["tax_rate"],
                quantity=line["quantity"],
                amount=line["amount"],
                tax=line["tax"],
            )
            for line in lines
        ]
    )
    refund_taxes = RefundTax.objects.bulk_create(
        [
            RefundTax(
                tenant_id=tenant_id, refund=refund, rate=row.rate, net=row.net, tax=row.tax, gross=row.gross
            )
            for row in taxes
        ]
    )
    refund_payments = RefundPayment.objects.bulk_create(
        [
            RefundPayment(
                tenant_id=tenant_id,
                refund=refund,
                method=p.method,
                amount=money(p.amount),
                reference=p.reference,
            )
            for p in payments
        ]
    )
    if restock:
        per_product: dict = {}
        for line in lines:
            product = line["product"]
            per_product[product.pk] = (
                product,
                per_product.get(product.pk, (product, 0))[1] + line["quantity"],
            )
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
    events.sale_refunded(refund, refund_rows, refund_payments, refund_taxes, movements)
    return refund


def _line_taxes(lines: list[dict], taxes) -> None:
    """Each line's share of its rate's tax (largest remainder), as sales do."""
    for row in taxes:
        members = [line for line in lines if line["tax_rate"] == row.rate]
        for line, part in zip(members, allocate(row.tax, [m["amount"] for m in members]), strict=True):
            line["tax"] = part


@transaction.atomic
def sale_refund(
    *,
    sale: Sale,
    actor,
    lines: Sequence[RefundLineInput] | None = None,
    reason: str = "",
    restock: bool = True,
    payments: Sequence[PaymentInput] | None = None,
    tender_method: str | None = None,
    register: str = "",
    approval: Approval | None = None,
) -> Refund:
    """Refund the whole sale (`lines=None`) or some of its lines; restock the goods if asked.

    `payments` say how the money went back (default: the sale's tenders, `_refund_tenders`);
    they must add up to the refund. `tender_method` instead: all of it back in that one method.
    Without the refund permission, `approval` by someone who holds it allows this one refund
    (and is recorded on it).
    """
    store = sale.store
    approved_by = _refunder(actor=actor, store=store, permission=REFUND, approval=approval)
    register = _check_register(register)
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

    refund_lines = []
    for pk, quantity in wanted.items():
        line = sale_lines[pk]
        if line.refunded_quantity + quantity == line.quantity:
            # The last units take what is left, so rounding never refunds more than was paid.
            refunded_so_far = money(line.line_total * line.refunded_quantity / line.quantity)
            amount = line.line_total - refunded_so_far
        else:
            amount = money(line.line_total * quantity / line.quantity)
        refund_lines.append(
            {
                "sale_line": line,
                "product": line.product,
                "sku": line.sku,
                "name": line.name,
                "tax_rate": line.tax_rate.quantize(Decimal("0.01")),
                "quantity": quantity,
                "amount": amount,
                "tax": ZERO,
            }
        )
    taxes = taxes_of([(line["tax_rate"], line["amount"]) for line in refund_lines])
    taxes = _rate_rest(sale=sale, sale_lines=sale_lines, wanted=wanted, taxes=taxes)
    _line_taxes(refund_lines, taxes)
    total = sum((line["amount"] for line in refund_lines), ZERO)
    if tender_method:
        tenders = [PaymentInput(method=tender_method, amount=total)]
    elif payments is not None:
        tenders = list(payments)
    else:
        tenders = _refund_tenders(sale, total)
    _check_refund_payments(tenders, total)
    shift, runs_shifts = shift_lock(store=store, register=register)
    if shift is None and _cash_needs_a_shift(tenders, runs_shifts=runs_shifts):
        raise no_open_shift(store=store, register=register)
    refund = _refund_write(
        store=store,
        actor=actor,
        sale=sale,
        reason=reason,
        restock=restock,
        register=register,
        approved_by=approved_by,
        lines=refund_lines,
        taxes=taxes,
        payments=tenders,
        shift=shift,
    )
    for pk, quantity in wanted.items():
        line = sale_lines[pk]
        line.refunded_quantity = F("refunded_quantity") + quantity
        line.save(update_fields=["refunded_quantity"])

    remaining = sum(
        line.quantity - line.refunded_quantity
        for line in SaleLine.objects.filter(sale=sale).only("quantity", "refunded_quantity")
    )
    sale.refunded_total = F("refunded_total") + total
    sale.status = Sale.Status.REFUNDED if remaining == 0 else Sale.Status.PARTIALLY_REFUNDED
    sale.save(update_fields=["refunded_total", "status"])
    sale.refresh_from_db(fields=["refunded_total", "updated_at"])
    return refund


def _rate_rest(*, sale: Sale, sale_lines: dict, wanted: dict, taxes):
    """A refund that returns the last units of a rate takes the rest of that rate's tax, so the
    refunds of a sale never give back more (or less) tax than the sale took."""
    from inventory.services.pricing import TaxRow

    done_rates = set()
    for rate in {row.rate for row in taxes}:
        members = [line for line in sale_lines.values() if line.tax_rate.quantize(Decimal("0.01")) == rate]
        if all(line.refunded_quantity + wanted.get(line.pk, 0) == line.quantity for line in members):
            done_rates.add(rate)
    if not done_rates:
        return taxes
    sold = {row.rate: row.tax for row in SaleTax.objects.filter(sale=sale)}
    before = {
        row["rate"]: row["tax"]
        for row in RefundTax.objects.filter(refund__sale=sale).values("rate").annotate(tax=Sum("tax"))
    }
    rows = []
    for row in taxes:
        if row.rate in done_rates and row.rate in sold:
            tax = sold[row.rate] - before.get(row.rate, ZERO)
            tax = min(max(tax, ZERO), row.gross)
            row = TaxRow(rate=row.rate, net=row.gross - tax, tax=tax, gross=row.gross)
        rows.append(row)
    return rows


@transaction.atomic
def return_create(
    *,
    store: Store,
    actor,
    lines: Sequence[ReturnLineInput],
    reason: str,
    payments: Sequence[PaymentInput],
    register: str = "",
    restock: bool = True,
    approval: Approval | None = None,
    tender_method: str | None = None,
) -> Refund:
    """Take goods back without a receipt, at today's prices; needs refund_without_receipt (or
    the approval of someone who holds it). The money back (`payments`, or all of it in
    `tender_method`) must equal the goods' value."""
    approved_by = _refunder(actor=actor, store=store, permission=REFUND_WITHOUT_RECEIPT, approval=approval)
    if not store.active:
        raise ValidationError({"store": gettext("This store is closed.")})
    register = _check_register(register)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": gettext("Say why the goods come back without a receipt.")})
    if not lines:
        raise ValidationError({"lines": gettext("A return needs at least one line.")})
    refund_lines = []
    for index, line in enumerate(lines, start=1):
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool) or line.quantity <= 0:
            raise ValidationError(
                {"lines": gettext("Line %(n)d: the quantity must be a positive whole number.") % {"n": index}}
            )
        refund_lines.append(
            {
                "product": line.product,
                "sku": line.product.sku,
                "name": line.product.name,
                "tax_rate": line.product.tax_rate.quantize(Decimal("0.01")),
                "quantity": line.quantity,
                "amount": money(line.product.price * line.quantity),
                "tax": ZERO,
            }
        )
    taxes = taxes_of([(line["tax_rate"], line["amount"]) for line in refund_lines])
    _line_taxes(refund_lines, taxes)
    total = sum((line["amount"] for line in refund_lines), ZERO)
    if tender_method:
        payments = [PaymentInput(method=tender_method, amount=total)]
    _check_refund_payments(payments, total)
    shift, runs_shifts = shift_lock(store=store, register=register)
    if shift is None and _cash_needs_a_shift(payments, runs_shifts=runs_shifts):
        raise no_open_shift(store=store, register=register)
    return _refund_write(
        store=store,
        actor=actor,
        sale=None,
        reason=reason,
        restock=restock,
        register=register,
        approved_by=approved_by,
        lines=refund_lines,
        taxes=taxes,
        payments=payments,
        shift=shift,
    )
