"""Reads of the back office, limited to the current tenant and the user's stores.

A missing id, another tenant's and one of a store the user may not see answer alike: NotFound.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncHour
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import authz
from accounts.permissions import (
    ADJUST_STOCK,
    COUNT_STOCK,
    MANAGE_PURCHASING,
    RECEIVE_STOCK,
    TRANSFER_STOCK,
    VIEW_PRODUCTS,
)
from backoffice.models import PurchaseOrder, PurchaseOrderLine, Stocktake, StocktakeLine, Transfer
from core.errors import NotFound
from inventory.models import Payment, Product, Refund, Sale, SaleLine, StockLevel, Supplier
from tenants.models import Store

PURCHASE_READERS = (VIEW_PRODUCTS, MANAGE_PURCHASING, RECEIVE_STOCK)
STOCKTAKE_READERS = (VIEW_PRODUCTS, COUNT_STOCK, ADJUST_STOCK)
TRANSFER_READERS = (VIEW_PRODUCTS, TRANSFER_STOCK, RECEIVE_STOCK)


def stores_where_any(*, user, permissions) -> set[UUID] | None:
    """The stores where `user` holds one of `permissions` (None: every store)."""
    found: set[UUID] = set()
    for permission in permissions:
        stores = authz.store_ids(user, permission)
        if stores is authz.ALL_STORES:
            return None
        found |= stores
    return found


def _scoped(queryset: QuerySet, user, permissions, *fields: str) -> QuerySet:
    stores = stores_where_any(user=user, permissions=permissions)
    if stores is None:
        return queryset
    match = Q()
    for name in fields:
        match |= Q(**{f"{name}__in": stores})
    return queryset.filter(match)


def _get(queryset: QuerySet, pk):
    try:
        found = queryset.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):  # not an id at all: missing all the same
        found = None
    if found is None:
        raise NotFound()
    return found


# --- purchase orders --------------------------------------------------------------------------


def purchase_orders_visible_to(*, user) -> QuerySet[PurchaseOrder]:
    orders = PurchaseOrder.objects.select_related("supplier", "store")
    return _scoped(orders, user, PURCHASE_READERS, "store_id")


def purchase_order_get(*, user, order_id) -> PurchaseOrder:
    return _get(purchase_orders_visible_to(user=user), order_id)


def purchase_order_lines(*, order: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(order.lines.select_related("product").order_by("product__sku"))


def store_purchase_order_get(*, store: Store, order_id) -> PurchaseOrder:
    return _get(PurchaseOrder.objects.filter(store=store).select_related("supplier", "store"), order_id)


def store_purchase_orders_open(*, store: Store) -> QuerySet[PurchaseOrder]:
    return PurchaseOrder.objects.filter(store=store, status__in=PurchaseOrder.OPEN).select_related("supplier")


# --- stocktakes -------------------------------------------------------------------------------


def stocktakes_visible_to(*, user) -> QuerySet[Stocktake]:
    return _scoped(Stocktake.objects.select_related("store", "category"), user, STOCKTAKE_READERS, "store_id")


def stocktake_get(*, user, stocktake_id) -> Stocktake:
    return _get(stocktakes_visible_to(user=user), stocktake_id)


def store_stocktake_get(*, store: Store, stocktake_id) -> Stocktake:
    return _get(Stocktake.objects.filter(store=store).select_related("store", "category"), stocktake_id)


def stocktake_lines(*, stocktake: Stocktake) -> QuerySet[StocktakeLine]:
    return stocktake.lines.select_related("product", "counted_by").order_by("product__sku")


def store_stocktakes_recent(*, store: Store, limit: int = 10) -> QuerySet[Stocktake]:
    return Stocktake.objects.filter(store=store).order_by("-number")[:limit]


@dataclass
class StocktakeProgress:
    lines: int
    counted: int

    @property
    def percent(self) -> int:
        return self.counted * 100 // self.lines if self.lines else 100


def stocktake_progress(*, stocktake: Stocktake) -> StocktakeProgress:
    lines = StocktakeLine.objects.filter(stocktake=stocktake)
    return StocktakeProgress(lines=lines.count(), counted=lines.filter(counted__isnull=False).count())


# --- transfers --------------------------------------------------------------------------------


def transfers_visible_to(*, user) -> QuerySet[Transfer]:
    transfers = Transfer.objects.select_related("from_store", "to_store")
    return _scoped(transfers, user, TRANSFER_READERS, "from_store_id", "to_store_id")


def transfer_get(*, user, transfer_id) -> Transfer:
    return _get(transfers_visible_to(user=user), transfer_id)


def store_transfer_get(*, store: Store, transfer_id) -> Transfer:
    """A transfer from or to `store`."""
    transfers = Transfer.objects.filter(Q(from_store=store) | Q(to_store=store))
    return _get(transfers.select_related("from_store", "to_store"), transfer_id)


def store_transfers_recent(*, store: Store, limit: int = 10, awaited: bool = True) -> QuerySet[Transfer]:
    """The latest transfers from or to `store`; without those on their way to it unless `awaited`."""
    transfers = Transfer.objects.filter(Q(from_store=store) | Q(to_store=store)).select_related(
        "from_store", "to_store"
    )
    if not awaited:
        transfers = transfers.exclude(to_store=store, status=Transfer.Status.IN_TRANSIT)
    return transfers.order_by("-number")[:limit]


# --- reorder ----------------------------------------------------------------------------------


@dataclass
class ReorderRow:
    product: Product
    quantity: int
    reorder_point: int
    reorder_quantity: int
    on_order: int
    suggested: int


@dataclass
class ReorderGroup:
    supplier: Supplier | None
    rows: list[ReorderRow] = field(default_factory=list)


def reorder_quantity_suggested(*, position: int, reorder_point: int, reorder_quantity: int) -> int:
    """Units to order when the stock position (on hand + on order) is at or below the reorder point.

    Whole steps of the reorder quantity (or of the reorder point, when no quantity is set),
    as few as lift the position above the reorder point; 0 when it is above already.
    """
    if position > reorder_point:
        return 0
    step = reorder_quantity or max(1, reorder_point)
    steps = -(-(reorder_point - position + 1) // step)
    return steps * step


def reorder_suggestions(*, store: Store, supplier: Supplier | None = None) -> list[ReorderGroup]:
    """What `store` should order, by supplier: active products whose stock plus open orders is at or
    below their reorder point (products with neither a reorder point nor a quantity are not managed).
    Products without a supplier come last, under `None`, so someone can give them one."""
    outstanding = (
        PurchaseOrderLine.objects.filter(
            order__store=store, order__status__in=PurchaseOrder.OPEN, product_id=OuterRef("product_id")
        )
        .values("product_id")
        .annotate(total=Sum(F("quantity") - F("received")))
        .values("total")
    )
    # Only the levels at or below their point leave the database: the catalogue's size costs one scan.
    levels = (
        StockLevel.objects.filter(store=store, product__active=True)
        .filter(Q(reorder_point__gt=0) | Q(reorder_quantity__gt=0))
        .annotate(on_order=Coalesce(Subquery(outstanding, output_field=IntegerField()), 0))
        .filter(quantity__lte=F("reorder_point") - F("on_order"))
        .select_related("product__supplier")
    )
    if supplier is not None:
        levels = levels.filter(product__supplier=supplier)
    groups: dict = defaultdict(list)
    for level in levels:
        ordered = level.on_order
        suggested = reorder_quantity_suggested(
            position=level.quantity + ordered,
            reorder_point=level.reorder_point,
            reorder_quantity=level.reorder_quantity,
        )
        if suggested:
            groups[level.product.supplier].append(
                ReorderRow(
                    product=level.product,
                    quantity=level.quantity,
                    reorder_point=level.reorder_point,
                    reorder_quantity=level.reorder_quantity,
                    on_order=ordered,
                    suggested=suggested,
                )
            )
    found = [
        ReorderGroup(supplier=key, rows=sorted(rows, key=lambda row: row.product.sku))
        for key, rows in groups.items()
    ]
    return sorted(
        found, key=lambda group: (group.supplier is None, group.supplier.name if group.supplier else "")
    )


def reorder_list(*, user, store: Store, supplier: Supplier | None = None) -> list[ReorderGroup]:
    """The reorder list of a store the user may see products of (`view_products` there)."""
    if not authz.can(user, VIEW_PRODUCTS, store):
        raise PermissionDenied(_("You may not view the stock of %(store)s.") % {"store": store.name})
    return reorder_suggestions(store=store, supplier=supplier)


# --- today's sales ----------------------------------------------------------------------------


@dataclass
class SalesSummary:
    day: date
    sales: int = 0
    items: int = 0
    total: Decimal = Decimal("0.00")
    tax: Decimal = Decimal("0.00")
    refunds: int = 0
    refunded: Decimal = Decimal("0.00")
    methods: list[tuple[str, Decimal]] = field(default_factory=list)
    top: list[dict] = field(default_factory=list)
    hours: list[tuple[int, Decimal]] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return self.total - self.tax

    @property
    def average(self) -> Decimal:
        return (self.total / self.sales).quantize(Decimal("0.01")) if self.sales else Decimal("0.00")

    @property
    def takings(self) -> Decimal:
        return self.total - self.refunded


def sales_summary(*, store: Store, day: date | None = None, top: int = 10) -> SalesSummary:
    """One store's sales of a day (today by default, in the current time zone): a few aggregate queries."""
    day = day or timezone.localdate()
    start = datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
    end = start + timedelta(days=1)
    sales = Sale.objects.filter(store=store, created_at__gte=start, created_at__lt=end)
    summary = SalesSummary(day=day)
    totals = sales.aggregate(total=Sum("total"), tax=Sum("tax_total"))
    summary.sales = sales.count()
    summary.total = totals["total"] or Decimal("0.00")
    summary.tax = totals["tax"] or Decimal("0.00")
    lines = SaleLine.objects.filter(sale__in=sales)
    summary.items = lines.aggregate(n=Sum("quantity"))["n"] or 0
    refunds = Refund.objects.filter(store=store, created_at__gte=start, created_at__lt=end)
    summary.refunds = refunds.count()
    summary.refunded = refunds.aggregate(total=Sum("total"))["total"] or Decimal("0.00")
    methods = dict(
        Payment.objects.filter(sale__in=sales)
        .values("method")
        .annotate(amount=Sum("amount"))
        .values_list("method", "amount")
    )
    change = sales.aggregate(change=Sum("change_due"))["change"] or Decimal("0.00")
    if Payment.Method.CASH in methods:
        methods[Payment.Method.CASH] -= change  # change went back out of the drawer
    summary.methods = sorted(methods.items())
    summary.top = list(
        lines.values("product_id", "sku", "name")
        .annotate(quantity=Sum("quantity"), total=Sum("line_total"))
        .order_by("-quantity", "sku")[:top]
    )
    hourly = (
        sales.annotate(hour=TruncHour("created_at", tzinfo=timezone.get_current_timezone()))
        .values("hour")
        .annotate(total=Sum("total"))
        .order_by("hour")
    )
    summary.hours = [(row["hour"].hour, row["total"]) for row in hourly]
    return summary
