"""Sales, tax and stock-value reports: reads only, in each store's local time, limited to the
stores where the reader may view sales (store managers see their own stores).

- Sales (`sales_report`): sale lines by the sale's local time, less refund lines by the
  refund's, grouped by day (the store's local day), product, category, store or cashier. `gross`
  is what was paid (tax included, after discounts), `discounts` what was given off the list
  price, `tax` the lines' share of the tax per rate, `net` gross less tax, `cost` quantity times
  the product's cost today (no cost history is kept), `margin` net less cost.
- Tax (`tax_report`): per rate, the sales' tax per rate less the refunds' (SaleTax, RefundTax):
  the same figures the receipts and Z reports show.
- Stock value (`stock_value_report`): quantity and value at cost per product and store.

A period is a pair of local dates (each store's own day bounds, tenants.timezones) or of
instants with an offset.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Case, CharField, DateField, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, Coalesce

from accounts import authz
from accounts.permissions import VIEW_SALES
from inventory.models import RefundLine, RefundTax, SaleLine, SaleTax, StockLevel
from tenants.context import get_current_tenant
from tenants.models import Store
from tenants.timezones import day_bounds, local_today

GROUPS = ("day", "product", "category", "store", "cashier")
ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=14, decimal_places=2)
DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """[since, until]: local dates (both included) or instants (until excluded)."""

    since: date | datetime
    until: date | datetime

    @classmethod
    def default(cls) -> Period:
        today = local_today(get_current_tenant())
        return cls(since=today - timedelta(days=DEFAULT_DAYS - 1), until=today)

    def match(self, field: str, store_field: str, stores: Iterable[Store]) -> Q:
        if isinstance(self.since, datetime) or isinstance(self.until, datetime):
            since = (
                self.since
                if isinstance(self.since, datetime)
                else day_bounds(self.since, get_current_tenant())[0]
            )
            until = (
                self.until
                if isinstance(self.until, datetime)
                else day_bounds(self.until, get_current_tenant())[1]
            )
            return Q(**{f"{field}__gte": since, f"{field}__lt": until})
        by_zone: dict[str, list] = {}
        for store in stores:
            by_zone.setdefault(store.time_zone, []).append(store.pk)
        match = Q(pk__in=[])
        for zone_name, ids in by_zone.items():
            place = Store(time_zone=zone_name)
            start, end = day_bounds(self.since, place)[0], day_bounds(self.until, place)[1]
            match |= Q(**{f"{store_field}__in": ids, f"{field}__gte": start, f"{field}__lt": end})
        return match


def stores_for(*, user, store: Store | None = None) -> list[Store]:
    """The stores whose figures the user may read (VIEW_SALES), or just `store` among them."""
    held = authz.store_ids(user, VIEW_SALES)
    stores = Store.objects.all() if held is authz.ALL_STORES else Store.objects.filter(pk__in=held or [])
    if store is not None:
        stores = stores.filter(pk=store.pk)
    return list(stores)


def _local_day(field: str, zone_field: str):
    """The row's local date in its store's zone: PostgreSQL's timezone(zone, instant)::date."""
    from django.db.models import Func

    return Cast(Func(F(zone_field), F(field), function="timezone", output_field=CharField()), DateField())


def _sale_key(group: str):
    return {
        "day": _local_day("sale__created_at", "sale__store__time_zone"),
        "product": F("sku"),
        "category": Coalesce(F("product__category__name"), Value("")),
        "store": F("sale__store__name"),
        "cashier": Coalesce(F("sale__cashier__username"), Value("")),
    }[group]


def _refund_key(group: str):
    return {
        "day": _local_day("refund__created_at", "refund__store__time_zone"),
        "product": F("sku"),
        "category": Coalesce(F("product__category__name"), Value("")),
        "store": F("refund__store__name"),
        "cashier": Coalesce(F("refund__actor__username"), Value("")),
    }[group]


def sales_report(*, user, group_by: str, period: Period, store: Store | None = None) -> list[dict]:
    """Rows of {key, name, quantity, gross, discounts, net, tax, cost, margin}, largest gross first
    (by day: in date order)."""
    if group_by not in GROUPS:
        raise ValueError(group_by)
    stores = stores_for(user=user, store=store)
    ids = [s.pk for s in stores]
    sold = (
        SaleLine.objects.filter(sale__store_id__in=ids)
        .filter(period.match("sale__created_at", "sale__store_id", stores))
        .annotate(key=_sale_key(group_by))
        .values("key")
        .annotate(
            cost_sum=Sum(F("quantity") * F("product__cost"), output_field=MONEY),
            units=Sum("quantity"),
            paid=Sum("line_total"),
            given=Sum("discount"),
            taxed=Sum("line_tax"),
        )
        .order_by()
    )
    back = (
        RefundLine.objects.filter(refund__store_id__in=ids)
        .filter(period.match("refund__created_at", "refund__store_id", stores))
        .annotate(key=_refund_key(group_by))
        .values("key")
        .annotate(
            cost_sum=Sum(
                Case(
                    When(refund__restock=True, then=F("quantity") * F("product__cost")),
                    default=Value(0),
                    output_field=MONEY,
                ),
                output_field=MONEY,
            ),
            units=Sum("quantity"),
            paid=Sum("amount"),
            taxed=Sum("tax"),
        )
        .order_by()
    )
    rows: dict = {}
    for row in sold:
        rows[row["key"]] = {
            "key": row["key"],
            "quantity": row["units"],
            "gross": row["paid"],
            "discounts": row["given"],
            "tax": row["taxed"],
            "cost": row["cost_sum"] or ZERO,
        }
    for row in back:
        found = rows.setdefault(
            row["key"],
            {"key": row["key"], "quantity": 0, "gross": ZERO, "discounts": ZERO, "tax": ZERO, "cost": ZERO},
        )
        found["quantity"] -= row["units"]
        found["gross"] -= row["paid"]
        found["tax"] -= row["taxed"]
        found["cost"] -= row["cost_sum"] or ZERO
    names = _names(group_by, rows)
    out = []
    for row in rows.values():
        net = row["gross"] - row["tax"]
        cost = Decimal(row["cost"]).quantize(Decimal("0.01"))
        out.append(
            {
                "key": row["key"].isoformat() if isinstance(row["key"], date) else str(row["key"]),
                "name": names.get(row["key"], ""),
                "quantity": row["quantity"],
                "gross": row["gross"],
                "discounts": row["discounts"],
                "net": net,
                "tax": row["tax"],
                "cost": cost,
                "margin": net - cost,
            }
        )
    if group_by == "day":
        out.sort(key=lambda r: r["key"])
    else:
        out.sort(key=lambda r: (-r["gross"], r["key"]))
    return out


def _names(group_by: str, rows: dict) -> dict:
    if group_by != "product":
        return {}
    from inventory.models import Product

    return dict(Product.objects.filter(sku__in=list(rows)).values_list("sku", "name"))


def tax_report(*, user, period: Period, store: Store | None = None) -> list[dict]:
    """Per tax rate: net, tax and gross of the sales less the refunds."""
    stores = stores_for(user=user, store=store)
    ids = [s.pk for s in stores]
    rates: dict = {}
    for sign, model, prefix in ((1, SaleTax, "sale"), (-1, RefundTax, "refund")):
        rows = (
            model.objects.filter(**{f"{prefix}__store_id__in": ids})
            .filter(period.match(f"{prefix}__created_at", f"{prefix}__store_id", stores))
            .values("rate")
            .annotate(net=Sum("net"), tax=Sum("tax"), gross=Sum("gross"))
            .order_by()
        )
        for row in rows:
            found = rates.setdefault(
                row["rate"], {"rate": row["rate"], "net": ZERO, "tax": ZERO, "gross": ZERO}
            )
            for field in ("net", "tax", "gross"):
                found[field] += sign * row[field]
    return [rates[rate] for rate in sorted(rates)]


def stock_value_report(*, user, store: Store | None = None) -> QuerySet:
    """Per product and store: quantity on hand and its value at the product's cost."""
    stores = stores_for(user=user, store=store)
    return (
        StockLevel.objects.filter(store_id__in=[s.pk for s in stores])
        .select_related("product", "store")
        .annotate(value=Cast(F("quantity") * F("product__cost"), MONEY))
        .order_by("store__name", "product__sku")
    )


def totals(rows: list[dict], fields: Iterable[str]) -> dict:
    """The column sums of report rows (`quantity` whole, the rest money)."""
    return {field: sum((row[field] for row in rows), 0 if field == "quantity" else ZERO) for field in fields}


def csv_text(header: list[str], rows: Iterable[Iterable]) -> str:
    """A small CSV (reports are aggregated: a few hundred rows), cells safe from formulas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet must not run a cell as a formula (CSV injection); negative amounts stay numbers.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text):
        return "'" + text
    return text


def _number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True
