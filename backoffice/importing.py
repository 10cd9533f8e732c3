"""A stock-count CSV into a stocktake: a dry run shows what would change, applying it counts.

Columns: `sku` or `barcode` (either finds the product), and `counted` (also `count` or
`quantity`). Separated by commas, semicolons or tabs; whole numbers, written the chain's way
("12", "1 200"; "12,0" in Finnish). A row naming a product twice: the last one wins, as when
counting by hand. Applying counts every good row in one transaction (`stocktake_count`) and
lists the refused ones, as the dry run did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from accounts import authz
from accounts.permissions import COUNT_STOCK
from backoffice.models import Stocktake, StocktakeLine
from backoffice.services.stocktakes import MAX_COUNT, MAX_COUNTS, CountInput, stocktake_count
from core.errors import Conflict
from inventory.importing import csv_rows, number_parse
from inventory.models import StockLevel

COUNTED_COLUMNS = ("counted", "count", "quantity")


@dataclass
class CountRow:
    line: int
    sku: str
    name: str
    expected: int
    stock: int
    saved: int | None
    counted: int

    @property
    def difference(self) -> int:
        return self.counted - self.stock


@dataclass
class CountImportResult:
    rows: list[CountRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    applied: bool = False

    @property
    def changed(self) -> int:
        return sum(1 for row in self.rows if row.saved != row.counted)


def _counted(text: str, *, locale: str) -> int:
    value = number_parse(text or "", locale=locale, name="counted")
    if value != value.to_integral_value() or not 0 <= value <= MAX_COUNT:
        raise ValidationError({"counted": _("A count is a whole number, zero or more.")})
    return int(value)


def counts_import(
    *,
    stocktake: Stocktake,
    data: str,
    actor,
    dry_run: bool = True,
    locale: str = "fi",
    progress: Callable[[int], None] | None = None,
) -> CountImportResult:
    """Read a count file against `stocktake`; unless `dry_run`, enter its good rows as counts."""
    if actor is not None and not authz.can(actor, COUNT_STOCK, stocktake.store):
        raise PermissionDenied(_("You may not count stock in %(store)s.") % {"store": stocktake.store.name})
    if stocktake.status != Stocktake.Status.COUNTING:
        raise Conflict(_("This stocktake is %(status)s.") % {"status": stocktake.get_status_display()})
    header, rows = csv_rows(data)
    column = next((name for name in COUNTED_COLUMNS if name in header), None)
    if column is None or not ({"sku", "barcode"} & set(header)):
        raise ValidationError(_("The header needs a sku or barcode column and a counted column."))
    codes = {(row.get("sku") or "").strip() for row in rows} | {
        (row.get("barcode") or "").strip() for row in rows
    }
    codes.discard("")
    lines = list(
        StocktakeLine.objects.filter(stocktake=stocktake)
        .annotate(sku_lower=Lower("product__sku"))
        .filter(Q(sku_lower__in={code.lower() for code in codes}) | Q(product__barcode__in=codes))
        .select_related("product")
    )
    by_sku = {line.product.sku.lower(): line for line in lines}
    by_barcode = {line.product.barcode: line for line in lines if line.product.barcode}
    stock = dict(
        StockLevel.objects.filter(
            store=stocktake.store, product_id__in=[line.product_id for line in lines]
        ).values_list("product_id", "quantity")
    )
    result = CountImportResult()
    wanted: dict = {}
    for number, row in enumerate(rows, start=2):
        sku, barcode = (row.get("sku") or "").strip(), (row.get("barcode") or "").strip()
        try:
            line = by_sku.get(sku.lower()) if sku else None
            line = line or (by_barcode.get(barcode) if barcode else None)
            if line is None:
                raise ValidationError(
                    _("%(code)s is not in this stocktake.") % {"code": repr(sku or barcode)}
                )
            counted = _counted(row.get(column) or "", locale=locale)
        except ValidationError as error:
            result.errors.append((number, " ".join(error.messages)))
        else:
            wanted[line.product_id] = (number, line, counted)
        if progress is not None:
            progress(1)
    for number, line, counted in sorted(wanted.values(), key=lambda item: item[0]):
        result.rows.append(
            CountRow(
                line=number,
                sku=line.product.sku,
                name=line.product.name,
                expected=line.expected,
                stock=stock.get(line.product_id, 0),
                saved=line.counted,
                counted=counted,
            )
        )
    if not dry_run and wanted:
        counts = [
            CountInput(product=line.product, counted=counted) for _number, line, counted in wanted.values()
        ]
        with transaction.atomic():
            for start in range(0, len(counts), MAX_COUNTS):
                stocktake_count(stocktake=stocktake, counts=counts[start : start + MAX_COUNTS], actor=actor)
        result.applied = True
    return result
