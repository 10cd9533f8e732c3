"""Stocktakes: start (freeze what is expected), count (repeatable, several staff at once), finish.

- Start: one line per product in scope (all products, a category and its subcategories, or
  a list), with the store's stock at that moment as `expected`.
- Count: the last count of a product wins; each count also records the stock at that moment
  (`stock_at_count` = expected + every ledger movement since the freeze), and who and when.
- Finish: difference = counted - stock at count, written as one `count` movement per
  difference (`inventory.services.stock.stock_count_differences`), applied to the stock as it
  is then; so a sale made after a product was counted is neither lost nor counted twice. The
  variance report (quantity and value at the product's cost) stays on the lines and the stocktake.

Locks: the stocktake row (shared by counts, exclusive for finish and cancel), then the lines
in primary-key order, then the stock rows in primary-key order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import ADJUST_STOCK, COUNT_STOCK
from backoffice.models import Stocktake, StocktakeCount, StocktakeLine
from backoffice.services._bulk import rows_update
from backoffice.services._numbers import number_next
from core.errors import Conflict
from inventory.models import Category, Product, StockLevel
from inventory.services._rules import money, require
from inventory.services.stock import stock_count_differences
from tenants.models import Store

MAX_COUNT = 10_000_000
MAX_COUNTS = 5000


@dataclass(frozen=True)
class CountInput:
    product: Product
    counted: int


UNCOUNTED_KEEP, UNCOUNTED_ZERO = "keep", "zero"


def _categories_under(category: Category) -> set:
    found, frontier = {category.pk}, {category.pk}
    while frontier:
        frontier = set(Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - found
        found |= frontier
    return found


@transaction.atomic
def stocktake_start(
    *,
    store: Store,
    actor,
    products: Sequence[Product] | None = None,
    category: Category | None = None,
    note: str = "",
) -> Stocktake:
    """Freeze the expected quantities of the products to count: `products`, a category, or all.

    All: every active product, and every inactive one the store still holds.
    """
    require(actor, ADJUST_STOCK, store)
    if products is not None and category is not None:
        raise ValidationError({"products": _("Name products or a category, not both.")})
    if Stocktake.objects.filter(store=store, status=Stocktake.Status.COUNTING).exists():
        raise Conflict(_("%(store)s already has a stocktake in progress.") % {"store": store.name})
    held = StockLevel.objects.filter(store=store).exclude(quantity=0).values("product_id")
    if products is not None:
        if not products:
            raise ValidationError({"products": _("Name at least one product.")})
        scope = Product.objects.filter(pk__in=[p.pk for p in products])
    elif category is not None:
        scope = Product.objects.filter(category_id__in=_categories_under(category))
        scope = scope.filter(Q(active=True) | Q(pk__in=held))
    else:
        scope = Product.objects.filter(Q(active=True) | Q(pk__in=held))
    try:
        with transaction.atomic():
            stocktake = Stocktake.objects.create(
                number=number_next("stocktake"),
                store=store,
                category=category,
                note=note[:500],
                started_by=actor,
            )
    except IntegrityError:  # a concurrent start of the same store won (one open stocktake per store)
        raise Conflict(_("%(store)s already has a stocktake in progress.") % {"store": store.name}) from None
    product_ids = list(scope.order_by("pk").values_list("pk", flat=True))
    # One statement reads every expected quantity: one consistent moment.
    expected = dict(
        StockLevel.objects.filter(store=store, product_id__in=product_ids).values_list(
            "product_id", "quantity"
        )
    )
    StocktakeLine.objects.bulk_create(
        [
            StocktakeLine(
                tenant_id=stocktake.tenant_id,
                stocktake=stocktake,
                product_id=product_id,
                expected=expected.get(product_id, 0),
            )
            for product_id in product_ids
        ],
        batch_size=2000,
    )
    return stocktake


def _locked(stocktake: Stocktake, *, share: bool) -> Stocktake:
    """The stocktake row, locked: shared by counts (several at once), exclusive for finish and cancel."""
    rows = Stocktake.objects.select_related("store").filter(pk=stocktake.pk)
    if share:
        with connection.cursor() as cursor:  # Django's ORM has no FOR SHARE
            table = Stocktake._meta.db_table
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR SHARE", [stocktake.pk])  # noqa: S608
        locked = rows.get()
    else:
        locked = rows.select_for_update(of=("self",)).get()
    if locked.status != Stocktake.Status.COUNTING:
        raise Conflict(_("This stocktake is %(status)s.") % {"status": locked.get_status_display()})
    return locked


@transaction.atomic
def stocktake_count(*, stocktake: Stocktake, counts: Sequence[CountInput], actor) -> list[StocktakeLine]:
    """Record counts; a product counted again takes the new count (the last one wins)."""
    require(actor, COUNT_STOCK, stocktake.store)
    if not counts or len(counts) > MAX_COUNTS:
        raise ValidationError({"counts": _("Send 1 to %(n)d counts.") % {"n": MAX_COUNTS}})
    for item in counts:
        if (
            not isinstance(item.counted, int)
            or isinstance(item.counted, bool)
            or not 0 <= item.counted <= MAX_COUNT
        ):
            raise ValidationError(
                {"counts": _("%(sku)s: a count is a whole number, zero or more.") % {"sku": item.product.sku}}
            )
    stocktake = _locked(stocktake, share=True)
    last = {item.product.pk: item.counted for item in counts}  # within one request too, the last wins
    lines = list(
        StocktakeLine.objects.filter(stocktake=stocktake, product_id__in=last)
        .order_by("pk")
        .select_for_update(of=("self",))
        .select_related("product")
    )
    missing = set(last) - {line.product_id for line in lines}
    if missing:
        skus = sorted(item.product.sku for item in counts if item.product.pk in missing)
        raise ValidationError({"counts": _("Not in this stocktake: %(skus)s.") % {"skus": ", ".join(skus)}})
    stock = dict(
        StockLevel.objects.filter(store=stocktake.store, product_id__in=last).values_list(
            "product_id", "quantity"
        )
    )
    now = timezone.now()
    for line in lines:
        line.counted = last[line.product_id]
        line.stock_at_count = stock.get(line.product_id, 0)
        line.counted_by = actor
        line.counted_at = now
    rows_update(StocktakeLine, lines, ["counted", "stock_at_count", "counted_by", "counted_at"])
    StocktakeCount.objects.bulk_create(
        [
            StocktakeCount(
                tenant_id=stocktake.tenant_id,
                line=line,
                counted=line.counted,
                stock_at_count=line.stock_at_count,
                counted_by=actor,
            )
            for line in lines
        ]
    )
    return lines


@transaction.atomic
def stocktake_finish(*, stocktake: Stocktake, actor, uncounted: str = UNCOUNTED_KEEP) -> Stocktake:
    """Write one `count` movement per difference and keep the variance report.

    Products never counted keep their stock (`keep`), or are counted as none (`zero`: as if
    counted 0 now).
    """
    require(actor, ADJUST_STOCK, stocktake.store)
    if uncounted not in (UNCOUNTED_KEEP, UNCOUNTED_ZERO):
        raise ValidationError({"uncounted": _("Either keep or zero.")})
    stocktake = _locked(stocktake, share=False)
    lines = list(
        StocktakeLine.objects.filter(stocktake=stocktake)
        .order_by("pk")
        .select_for_update(of=("self",))
        .select_related("product")
    )
    if uncounted == UNCOUNTED_ZERO:
        stock = dict(
            StockLevel.objects.filter(
                store=stocktake.store,
                product_id__in=[line.product_id for line in lines if line.counted is None],
            ).values_list("product_id", "quantity")
        )
        for line in lines:
            if line.counted is None:
                line.counted, line.stock_at_count = 0, stock.get(line.product_id, 0)
    counted = [line for line in lines if line.counted is not None]
    for line in counted:
        line.difference = line.counted - line.stock_at_count
        line.unit_cost = line.product.cost
    movements = stock_count_differences(
        store=stocktake.store,
        differences=[(line.product, line.difference) for line in counted],
        actor=actor,
        reason=f"Stocktake {stocktake.number}",  # stored: the same words whoever finishes
    )
    by_product = {movement.product_id: movement for movement in movements}
    for line in counted:
        line.movement = by_product.get(line.product_id)
    rows_update(StocktakeLine, counted, ["counted", "stock_at_count", "difference", "unit_cost", "movement"])
    stocktake.variance_quantity = sum(line.difference for line in counted)
    stocktake.variance_value = (
        money(sum((line.difference * line.unit_cost for line in counted), Decimal(0))) + 0
    )
    stocktake.shrinkage_value = money(
        sum((-line.difference * line.unit_cost for line in counted if line.difference < 0), Decimal(0))
    )
    stocktake.status = Stocktake.Status.FINISHED
    stocktake.finished_by = actor
    stocktake.finished_at = timezone.now()
    stocktake.save(
        update_fields=[
            "variance_quantity",
            "variance_value",
            "shrinkage_value",
            "status",
            "finished_by",
            "finished_at",
        ]
    )
    return stocktake


@transaction.atomic
def stocktake_cancel(*, stocktake: Stocktake, actor) -> Stocktake:
    """Stop a stocktake without touching stock; its counts are kept for the record."""
    require(actor, ADJUST_STOCK, stocktake.store)
    stocktake = _locked(stocktake, share=False)
    stocktake.status = Stocktake.Status.CANCELLED
    stocktake.finished_by = actor
    stocktake.finished_at = timezone.now()
    stocktake.save(update_fields=["status", "finished_by", "finished_at"])
    return stocktake
