"""Every change to the catalogue, stock and sales: one function each, one transaction each.

`actor` is the user on whose behalf the change is made; the function checks their
permission in the store itself (Django's PermissionDenied: 403 in the API). `actor=None` is
the system (demo seeding, the import command), which the caller has authorised.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from accounts import authz
from accounts.permissions import (
    ADJUST_STOCK,
    MANAGE_CUSTOMERS,
    MANAGE_PRODUCTS,
    MANAGE_SETTINGS,
    RECEIVE_STOCK,
    REFUND,
    SELL,
    TRANSFER_STOCK,
)
from core.errors import Conflict
from inventory import hashing
from inventory.errors import InsufficientStock
from inventory.locks import stock_rows_lock
from inventory.models import (
    Category,
    Customer,
    Payment,
    Product,
    ReceiptCounter,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    StockLevel,
    StockMovement,
    Supplier,
)
from tenants.context import require_tenant_id
from tenants.models import Store

CENT = Decimal("0.01")


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def currency() -> str:
    return getattr(settings, "KASSA_CURRENCY", "EUR")


def _require(actor, permission: str, store: Store | None = None) -> None:
    if actor is not None and not authz.can(actor, permission, store):
        where = f" in {store.name}" if store is not None else ""
        raise PermissionDenied(f"You may not {permission.replace('_', ' ')}{where}.")


UNIQUE_PER_TENANT = {"Product": "sku", "Supplier": "name", "Category": "name", "Store": "code"}


def _clean(instance, exclude: Sequence[str] = ()) -> None:
    """Validate the fields, and the tenant's uniqueness rule that full_clean skips (it excludes tenant)."""
    instance.full_clean(exclude=["tenant", *exclude], validate_unique=False, validate_constraints=False)
    field = UNIQUE_PER_TENANT.get(type(instance).__name__)
    value = getattr(instance, field, None) if field else None
    if field and value:
        others = type(instance).objects.filter(**{field: value}).exclude(pk=instance.pk)
        if others.exists():
            raise ValidationError({field: f"Another {type(instance).__name__.lower()} has this {field}."})


# --- catalogue ---------------------------------------------------------------------------

PRODUCT_FIELDS = (
    "sku",
    "barcode",
    "name",
    "description",
    "category",
    "supplier",
    "price",
    "cost",
    "tax_rate",
    "active",
)


def _check_product_values(product: Product) -> None:
    errors = {}
    if product.price is not None and product.price < 0:
        errors["price"] = "The price cannot be negative."
    if product.cost is not None and product.cost < 0:
        errors["cost"] = "The cost cannot be negative."
    if product.tax_rate is not None and not (0 <= product.tax_rate <= 100):
        errors["tax_rate"] = "The tax rate is a percentage between 0 and 100."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def product_create(*, actor, sku: str, name: str, price: Decimal, **fields) -> Product:
    _require(actor, MANAGE_PRODUCTS)
    unknown = set(fields) - set(PRODUCT_FIELDS)
    if unknown:
        raise TypeError(f"unknown product fields: {sorted(unknown)}")
    product = Product(sku=sku, name=name, price=price, **fields)
    _check_product_values(product)
    _clean(product)
    product.save()
    return product


@transaction.atomic
def product_update(*, product: Product, actor, **fields) -> Product:
    _require(actor, MANAGE_PRODUCTS)
    for name, value in fields.items():
        if name not in PRODUCT_FIELDS:
            raise TypeError(f"unknown product field: {name}")
        setattr(product, name, value)
    _check_product_values(product)
    _clean(product)
    product.save(update_fields=[*fields, "updated_at"])
    return product


@transaction.atomic
def category_create(*, actor, name: str, parent: Category | None = None) -> Category:
    _require(actor, MANAGE_PRODUCTS)
    category = Category(name=name, parent=parent)
    _clean(category)
    category.save()
    return category


@transaction.atomic
def supplier_create(*, actor, name: str, **fields) -> Supplier:
    _require(actor, MANAGE_PRODUCTS)
    supplier = Supplier(name=name, **fields)
    _clean(supplier)
    supplier.save()
    return supplier


@transaction.atomic
def supplier_update(*, supplier: Supplier, actor, **fields) -> Supplier:
    _require(actor, MANAGE_PRODUCTS)
    for name, value in fields.items():
        setattr(supplier, name, value)
    _clean(supplier)
    supplier.save(update_fields=list(fields))
    return supplier


@transaction.atomic
def store_create(*, actor, name: str, **fields) -> Store:
    _require(actor, MANAGE_SETTINGS)
    store = Store(name=name, **fields)
    _clean(store)
    store.save()
    return store


@transaction.atomic
def store_update(*, store: Store, actor, **fields) -> Store:
    _require(actor, MANAGE_SETTINGS)
    for name, value in fields.items():
        setattr(store, name, value)
    _clean(store)
    store.save(update_fields=list(fields))
    return store


# --- customers ---------------------------------------------------------------------------


def _customer_set_contact(customer: Customer, fields: dict) -> list[str]:
    changed = []
    for name in ("name", "email", "phone", "notes"):
        if name in fields:
            setattr(customer, name, fields[name] or ("" if name == "notes" else None))
            changed.append(name)
    if "email" in fields:
        customer.email_hash = hashing.email_hash(fields["email"])
        changed.append("email_hash")
    if "phone" in fields:
        customer.phone_hash = hashing.phone_hash(fields["phone"])
        changed.append("phone_hash")
    return changed


@transaction.atomic
def customer_create(*, actor, name: str = "", email: str = "", phone: str = "", notes: str = "") -> Customer:
    _require(actor, MANAGE_CUSTOMERS)
    customer = Customer()
    _customer_set_contact(customer, {"name": name, "email": email, "phone": phone, "notes": notes})
    customer.save()
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor, **fields) -> Customer:
    _require(actor, MANAGE_CUSTOMERS)
    if customer.erased_at is not None:
        raise Conflict("This customer was erased.")
    changed = _customer_set_contact(customer, fields)
    if changed:
        customer.save(update_fields=changed)
    return customer


# --- stock -------------------------------------------------------------------------------


def _move(
    *,
    row: StockLevel,
    store: Store,
    product: Product,
    kind: str,
    delta: int,
    actor,
    check_stock: bool = True,
    **extra,
) -> StockMovement:
    """Apply `delta` to a locked stock row and record the movement that explains it."""
    balance = row.quantity + delta
    if check_stock and delta < 0 and balance < 0 and not store.allow_negative_stock:
        raise InsufficientStock(product.sku, row.quantity, -delta)
    row.quantity = F("quantity") + delta
    row.save(update_fields=["quantity", "updated_at"])
    row.quantity = balance
    return StockMovement.objects.create(
        store=store,
        product=product,
        kind=kind,
        quantity=delta,
        balance_after=balance,
        actor=actor,
        **extra,
    )


def _positive(quantity: int, field: str = "quantity") -> None:
    if not isinstance(quantity, int) or quantity <= 0:
        raise ValidationError({field: "Must be a positive whole number."})


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
    _require(actor, RECEIVE_STOCK, store)
    _positive(quantity)
    row = stock_rows_lock(pairs=[(store.pk, product.pk)])[(store.pk, product.pk)]
    return _move(
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
    _require(actor, ADJUST_STOCK, store)
    if not isinstance(quantity, int) or quantity == 0:
        raise ValidationError({"quantity": "Must be a non-zero whole number."})
    if not reason.strip():
        raise ValidationError({"reason": "An adjustment needs a reason."})
    row = stock_rows_lock(pairs=[(store.pk, product.pk)])[(store.pk, product.pk)]
    return _move(
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
    _require(actor, ADJUST_STOCK, store)
    if not isinstance(counted, int) or counted < 0:
        raise ValidationError({"quantity": "A count is a whole number, zero or more."})
    row = stock_rows_lock(pairs=[(store.pk, product.pk)])[(store.pk, product.pk)]
    return _move(
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
    _require(actor, TRANSFER_STOCK, from_store)
    _positive(quantity)
    if from_store.pk == to_store.pk:
        raise ValidationError({"to_store": "A transfer needs two different stores."})
    rows = stock_rows_lock(pairs=[(from_store.pk, product.pk), (to_store.pk, product.pk)])
    transfer_id = uuid.uuid4()
    out = _move(
        row=rows[(from_store.pk, product.pk)],
        store=from_store,
        product=product,
        kind=StockMovement.Kind.TRANSFER_OUT,
        delta=-quantity,
        actor=actor,
        reason=reason,
        transfer_id=transfer_id,
    )
    into = _move(
        row=rows[(to_store.pk, product.pk)],
        store=to_store,
        product=product,
        kind=StockMovement.Kind.TRANSFER_IN,
        delta=quantity,
        actor=actor,
        reason=reason,
        transfer_id=transfer_id,
    )
    return out, into


@transaction.atomic
def stock_reorder_point_set(*, store: Store, product: Product, reorder_point: int, actor) -> StockLevel:
    _require(actor, ADJUST_STOCK, store)
    if not isinstance(reorder_point, int) or reorder_point < 0:
        raise ValidationError({"reorder_point": "Must be a whole number, zero or more."})
    row = stock_rows_lock(pairs=[(store.pk, product.pk)])[(store.pk, product.pk)]
    row.reorder_point = reorder_point
    row.save(update_fields=["reorder_point", "updated_at"])
    return row


# --- sales -------------------------------------------------------------------------------


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


def line_tax(line_total: Decimal, tax_rate: Decimal) -> Decimal:
    """The tax contained in a tax-inclusive amount."""
    if not tax_rate:
        return Decimal("0.00")
    return money(line_total * tax_rate / (100 + tax_rate))


def _receipt_number_next(store: Store) -> int:
    """The store's next receipt number; the counter row stays locked until the sale commits."""
    counters = ReceiptCounter.objects.filter(store=store)
    if not counters.update(last_number=F("last_number") + 1):
        ReceiptCounter.objects.bulk_create(
            [ReceiptCounter(tenant_id=require_tenant_id(), store=store)], ignore_conflicts=True
        )
        counters.update(last_number=F("last_number") + 1)
    return counters.values_list("last_number", flat=True).get()


def _check_payments(payments: Sequence[PaymentInput], total: Decimal) -> tuple[Decimal, Decimal]:
    methods = set(Payment.Method.values)
    for index, payment in enumerate(payments):
        if payment.method not in methods:
            raise ValidationError({"payments": f"Payment {index + 1}: unknown method {payment.method!r}."})
        if money(payment.amount) <= 0:
            raise ValidationError({"payments": f"Payment {index + 1}: the amount must be positive."})
    paid = money(sum((p.amount for p in payments), Decimal(0)))
    if paid < total:
        raise ValidationError({"payments": f"The payments ({paid}) do not cover the total ({total})."})
    change = paid - total
    cash = money(sum((p.amount for p in payments if p.method == Payment.Method.CASH), Decimal(0)))
    if change > cash:
        raise ValidationError({"payments": "Only cash can be overpaid (change is given in cash)."})
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
    _require(actor, SELL, store)
    if not store.active:
        raise ValidationError({"store": "This store is closed."})
    if not lines:
        raise ValidationError({"lines": "A sale needs at least one line."})
    quantities: dict = {}
    products: dict = {}
    for index, line in enumerate(lines):
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            raise ValidationError(
                {"lines": f"Line {index + 1}: the quantity must be a positive whole number."}
            )
        if not line.product.active:
            raise ValidationError({"lines": f"Line {index + 1}: {line.product.sku} is not for sale."})
        quantities[line.product.pk] = quantities.get(line.product.pk, 0) + line.quantity
        products[line.product.pk] = line.product
    if customer is not None and customer.erased_at is not None:
        raise ValidationError({"customer": "This customer was erased."})

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
    SaleLine.objects.bulk_create(
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
    Payment.objects.bulk_create(
        [
            Payment(
                tenant_id=tenant_id, sale=sale, method=p.method, amount=money(p.amount), reference=p.reference
            )
            for p in payments
        ]
    )
    for product_id, wanted in quantities.items():
        _move(
            row=rows[(store.pk, product_id)],
            store=store,
            product=products[product_id],
            kind=StockMovement.Kind.SALE,
            delta=-wanted,
            actor=actor,
            sale=sale,
            check_stock=False,  # checked above, under the same locks
        )
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
    _require(actor, REFUND, store)
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
                raise ValidationError({"lines": f"Line {index + 1} is not a line of this sale."})
            if not isinstance(item.quantity, int) or item.quantity <= 0:
                raise ValidationError(
                    {"lines": f"Line {index + 1}: the quantity must be a positive whole number."}
                )
            wanted[item.sale_line.pk] = wanted.get(item.sale_line.pk, 0) + item.quantity
    if not wanted:
        raise Conflict("Nothing is left to refund on this sale.")
    for pk, quantity in wanted.items():
        line = sale_lines[pk]
        if quantity > line.quantity - line.refunded_quantity:
            raise ValidationError(
                {
                    "lines": f"{line.sku}: {quantity} asked, {line.quantity - line.refunded_quantity} refundable."
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
    RefundLine.objects.bulk_create(
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
        for product_id, (product, quantity) in per_product.items():
            _move(
                row=rows[(store.pk, product_id)],
                store=store,
                product=product,
                kind=StockMovement.Kind.REFUND,
                delta=quantity,
                actor=actor,
                sale=sale,
                refund=refund,
            )

    remaining = sum(
        line.quantity - line.refunded_quantity
        for line in SaleLine.objects.filter(sale=sale).only("quantity", "refunded_quantity")
    )
    sale.refunded_total = F("refunded_total") + total
    sale.status = Sale.Status.REFUNDED if remaining == 0 else Sale.Status.PARTIALLY_REFUNDED
    sale.save(update_fields=["refunded_total", "status"])
    sale.refresh_from_db(fields=["refunded_total"])
    return refund
