"""Reads of the catalogue, stock and sales, limited to the current tenant and the user's stores.

A missing id and another tenant's (or another store's) id answer alike: NotFound.
"""

from decimal import Decimal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Sum

from accounts import authz
from accounts.permissions import MANAGE_SETTINGS, MANAGE_SHIFTS, STORE_SCOPED, VIEW_PRODUCTS, VIEW_SALES
from core.errors import NotFound
from inventory import hashing
from inventory.models import (
    CashMovement,
    Customer,
    Payment,
    Product,
    Refund,
    RefundPayment,
    RefundTax,
    Sale,
    SaleTax,
    Shift,
    StockLevel,
    StockMovement,
    Supplier,
)
from tenants import rows
from tenants.models import Store
from tenants.timezones import local_time


def _get(queryset: QuerySet, pk):
    try:
        obj = queryset.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):  # not an id at all: missing all the same
        obj = None
    if obj is None:
        raise NotFound()
    return obj


def _in_stores(queryset: QuerySet, user, permission: str, field: str = "store_id") -> QuerySet:
    stores = authz.store_ids(user, permission)
    if stores is authz.ALL_STORES:
        return queryset
    return queryset.filter(**{f"{field}__in": stores})


def product_list() -> QuerySet[Product]:
    return Product.objects.all()


def product_get(*, product_id: UUID) -> Product:
    # Every product detail and PATCH: one statement built once, not the ORM's compile per call.
    product = rows.row_get(Product, product_id)
    if product is None:
        raise NotFound()
    return product


def product_search(*, queryset: QuerySet[Product], text: str) -> QuerySet[Product]:
    return queryset.filter(Q(name__icontains=text) | Q(sku__iexact=text) | Q(barcode=text))


def product_by_code(*, code: str) -> Product | None:
    """The active product with exactly this barcode, else this SKU (any letter case)."""
    active = Product.objects.filter(active=True)
    return active.filter(barcode=code).first() or active.filter(sku__iexact=code).first() if code else None


def supplier_get(*, supplier_id: UUID) -> Supplier:
    return _get(Supplier.objects.all(), supplier_id)


def stores_visible_to(*, user) -> QuerySet[Store]:
    """The stores a user works in (for any store-scoped permission), or all for chain-wide staff."""
    grants = authz.grants_of(user)
    if MANAGE_SETTINGS in grants:
        return Store.objects.all()
    ids: set = set()
    for permission, stores in grants.items():
        if permission in STORE_SCOPED:
            if stores is authz.ALL_STORES:
                return Store.objects.all()
            ids |= stores
    return Store.objects.filter(pk__in=ids)


def store_get(*, store_id: UUID) -> Store:
    """One of the tenant's stores, whoever may work in it (the caller checks the permission)."""
    return _get(Store.objects.all(), store_id)


def stores_open_to(*, user, permission: str) -> QuerySet[Store]:
    """The active stores where `user` holds `permission`."""
    return _in_stores(Store.objects.filter(active=True), user, permission, field="pk")


def customer_get(*, customer_id: UUID) -> Customer:
    return _get(Customer.objects.all(), customer_id)


def customer_find(*, queryset: QuerySet[Customer], email: str = "", phone: str = "") -> QuerySet[Customer]:
    """Customers with exactly this e-mail address and/or phone number (by keyed hash)."""
    for value, digest, field in (
        (email, hashing.email_hash, "email_hash"),
        (phone, hashing.phone_hash, "phone_hash"),
    ):
        if value:
            wanted = digest(value)
            # A value that normalises to nothing (a phone without digits) matches no one.
            queryset = queryset.filter(**{field: wanted}) if wanted else queryset.none()
    return queryset


def stock_quantities(*, store: Store, products) -> dict[UUID, int]:
    """The store's stock of each of `products`, by product id (missing: no stock row yet)."""
    return dict(
        StockLevel.objects.filter(store=store, product__in=products).values_list("product_id", "quantity")
    )


def stock_levels_visible_to(*, user) -> QuerySet[StockLevel]:
    return _in_stores(StockLevel.objects.select_related("product"), user, VIEW_PRODUCTS)


def stock_level_get(*, user, stock_level_id: UUID) -> StockLevel:
    return _get(stock_levels_visible_to(user=user), stock_level_id)


def movements_visible_to(*, user) -> QuerySet[StockMovement]:
    return _in_stores(StockMovement.objects.all(), user, VIEW_SALES)


def sales_visible_to(*, user, permission: str | None = VIEW_SALES) -> QuerySet[Sale]:
    """The sales of the stores where the user holds `permission` (None: all of the tenant's)."""
    if permission is None:
        return Sale.objects.all()
    return _in_stores(Sale.objects.all(), user, permission)


def refunds_visible_to(*, user) -> QuerySet[Refund]:
    """The refunds of the stores where the user may view sales."""
    return _in_stores(Refund.objects.all(), user, VIEW_SALES)


def sale_get(*, user, sale_id: UUID, permission: str | None = VIEW_SALES) -> Sale:
    sales = sales_visible_to(user=user, permission=permission).select_related("store", "customer")
    return _get(sales.prefetch_related("lines", "payments", "taxes"), sale_id)


def store_sales_recent(*, store: Store, limit: int) -> QuerySet[Sale]:
    return Sale.objects.filter(store=store).order_by("-created_at")[:limit]


def store_sale_get(*, store: Store, sale_id: UUID) -> Sale:
    """A sale of `store`, with what its receipt shows (lines, payments, refunds)."""
    sales = Sale.objects.filter(store=store).select_related("store", "cashier", "customer", "approved_by")
    return _get(
        sales.prefetch_related("lines", "payments", "taxes", "refunds__payments", "refunds__approved_by"),
        sale_id,
    )


def store_sale_by_receipt_number(*, store: Store, receipt_number: int) -> Sale | None:
    return Sale.objects.filter(store=store, receipt_number=receipt_number).first()


def customer_lookup(*, text: str) -> list[Customer]:
    """Customers found by exactly this e-mail address, phone number or customer number (the
    first characters of the id, at least 8, as receipts and cards print it)."""
    text = text.strip()[:200]
    if not text:
        return []
    found = Customer.objects.filter(erased_at__isnull=True)
    if "@" in text:
        return list(customer_find(queryset=found, email=text)[:5])
    compact = text.replace("-", "").lower()
    if 8 <= len(compact) <= 32 and all(c in "0123456789abcdef" for c in compact):
        low, high = UUID(compact.ljust(32, "0")), UUID(compact.ljust(32, "f"))
        by_number = list(found.filter(pk__gte=low, pk__lte=high)[:5])
        if by_number:
            return by_number
    return list(customer_find(queryset=found, phone=text)[:5])


def customer_number(customer: Customer) -> str:
    """The customer number printed on a card or a receipt: the id's first 8 hex digits."""
    return customer.pk.hex[:8].upper()


# --- shifts ------------------------------------------------------------------------------------


def shifts_visible_to(*, user) -> QuerySet[Shift]:
    """Shifts of the stores where the user runs shifts or reads sales."""
    ids: list[UUID] = []
    for permission in (MANAGE_SHIFTS, VIEW_SALES):
        stores = authz.store_ids(user, permission)
        if stores is authz.ALL_STORES:
            return Shift.objects.all()
        ids.extend(stores)
    return Shift.objects.filter(store_id__in=ids)


def shift_get(*, user, shift_id: UUID, any_store: bool = False) -> Shift:
    """A shift the user may read; `any_store`: any of the tenant's (the service checks the store)."""
    shifts = Shift.objects.all() if any_store else shifts_visible_to(user=user)
    return _get(shifts.select_related("store", "opened_by", "closed_by"), shift_id)


def shift_open_get(*, store: Store, register: str) -> Shift | None:
    return Shift.objects.filter(store=store, register=register, status=Shift.Status.OPEN).first()


def shifts_open(*, store: Store) -> QuerySet[Shift]:
    return Shift.objects.filter(store=store, status=Shift.Status.OPEN).select_related("opened_by")


def _amount(value) -> str:
    return str((value or Decimal(0)).quantize(Decimal("0.01")))


def shift_figures(*, shift: Shift, counted_cash: Decimal | None = None) -> dict:
    """The X report of a shift (its figures so far), or with `counted_cash` the Z report's.

    sales and refunds are tax-included totals; `taxes` per rate are the shift's sales minus its
    refunds; `tenders` per method what sales took (cash less change) and refunds gave back;
    expected cash = float + cash taken - cash refunded + pay-ins - pay-outs.
    """
    sales = Sale.objects.filter(shift=shift)
    refunds = Refund.objects.filter(shift=shift)
    sold = sales.aggregate(
        count=Count("id"), total=Sum("total"), discounts=Sum("discount_total"), change=Sum("change_due")
    )
    back = refunds.aggregate(count=Count("id"), total=Sum("total"))
    zero = Decimal("0.00")
    taxes: dict = {}
    for row in (
        SaleTax.objects.filter(sale__shift=shift)
        .values("rate")
        .annotate(net=Sum("net"), tax=Sum("tax"), gross=Sum("gross"))
    ):
        taxes[row["rate"]] = [row["net"], row["tax"], row["gross"]]
    for row in (
        RefundTax.objects.filter(refund__shift=shift)
        .values("rate")
        .annotate(net=Sum("net"), tax=Sum("tax"), gross=Sum("gross"))
    ):
        current = taxes.setdefault(row["rate"], [zero, zero, zero])
        taxes[row["rate"]] = [current[0] - row["net"], current[1] - row["tax"], current[2] - row["gross"]]
    taken = dict(
        Payment.objects.filter(sale__shift=shift)
        .values("method")
        .annotate(a=Sum("amount"))
        .values_list("method", "a")
    )
    if Payment.Method.CASH in taken:
        taken[Payment.Method.CASH] -= sold["change"] or zero
    given = dict(
        RefundPayment.objects.filter(refund__shift=shift)
        .values("method")
        .annotate(a=Sum("amount"))
        .values_list("method", "a")
    )
    moves = list(CashMovement.objects.filter(shift=shift).order_by("created_at", "id"))
    pay_ins = sum((m.amount for m in moves if m.kind == CashMovement.Kind.PAY_IN), zero)
    pay_outs = sum((m.amount for m in moves if m.kind == CashMovement.Kind.PAY_OUT), zero)
    cash = Payment.Method.CASH
    expected = shift.opening_float + taken.get(cash, zero) - given.get(cash, zero) + pay_ins - pay_outs
    methods = [m for m in Payment.Method.values if m in taken or m in given]
    store = shift.store
    final = counted_cash is not None or shift.status == Shift.Status.CLOSED
    counted = counted_cash if counted_cash is not None else shift.counted_cash
    return {
        "kind": "Z" if final else "X",
        "shift": str(shift.pk),
        "store": str(store.pk),
        "store_name": store.name,
        "register": shift.register,
        "time_zone": store.time_zone,
        "opened_at": local_time(shift.opened_at, store).isoformat(),
        "opened_by": shift.opened_by.username if shift.opened_by_id else "",
        "closed_at": local_time(shift.closed_at, store).isoformat() if shift.closed_at else None,
        "closed_by": shift.closed_by.username if shift.closed_by_id else "",
        "sales_count": sold["count"],
        "sales": _amount(sold["total"]),
        "refunds_count": back["count"],
        "refunds": _amount(back["total"]),
        "discounts": _amount(sold["discounts"]),
        "taxes": [
            {"rate": _amount(rate), "net": _amount(net), "tax": _amount(tax), "gross": _amount(gross)}
            for rate, (net, tax, gross) in sorted(taxes.items())
        ],
        "tenders": [
            {
                "method": method,
                "sales": _amount(taken.get(method)),
                "refunds": _amount(given.get(method)),
                "net": _amount(taken.get(method, zero) - given.get(method, zero)),
            }
            for method in methods
        ],
        "opening_float": _amount(shift.opening_float),
        "pay_ins": _amount(pay_ins),
        "pay_outs": _amount(pay_outs),
        "cash_movements": [
            {
                "kind": move.kind,
                "amount": _amount(move.amount),
                "reason": move.reason,
                "at": local_time(move.created_at, store).isoformat(),
            }
            for move in moves
        ],
        "expected_cash": _amount(expected),
        "counted_cash": _amount(counted) if counted is not None else None,
        "over_short": _amount(counted - expected) if counted is not None else None,
    }


def in_local_day(
    *, queryset: QuerySet, day, field: str = "created_at", store_field: str = "store_id"
) -> QuerySet:
    """Rows of `queryset` made on the local `day` of their own store (each store's time zone)."""
    from tenants.timezones import day_bounds

    by_zone: dict[str, list] = {}
    for store_id, time_zone in Store.objects.values_list("pk", "time_zone"):
        by_zone.setdefault(time_zone, []).append(store_id)
    match = Q(pk__in=[])
    for time_zone, store_ids in by_zone.items():
        start, end = day_bounds(day, Store(time_zone=time_zone))
        match |= Q(**{f"{store_field}__in": store_ids, f"{field}__gte": start, f"{field}__lt": end})
    return queryset.filter(match)


def in_local_today(
    *, queryset: QuerySet, field: str = "created_at", store_field: str = "store_id"
) -> QuerySet:
    """Rows of `queryset` made today in their own store's local time ("today" differs by zone)."""
    from tenants.timezones import day_bounds, local_today

    by_zone: dict[str, list] = {}
    for store_id, time_zone in Store.objects.values_list("pk", "time_zone"):
        by_zone.setdefault(time_zone, []).append(store_id)
    match = Q(pk__in=[])
    for time_zone, store_ids in by_zone.items():
        place = Store(time_zone=time_zone)
        start, end = day_bounds(local_today(place), place)
        match |= Q(**{f"{store_field}__in": store_ids, f"{field}__gte": start, f"{field}__lt": end})
    return queryset.filter(match)
