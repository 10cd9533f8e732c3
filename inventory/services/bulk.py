"""Bulk writes for integrators: products upserted by SKU (or `external_id`), stock counts.

Each takes rows already checked field by field (the API's row serializer) and answers one
result per row, in order. Valid rows are applied together in the caller's one transaction;
an invalid row changes nothing. The work per row is constant: a fixed number of statements
for the whole batch (a locking read, the inserts, the updates, the outbox), never one per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils.translation import gettext

from accounts import authz
from accounts.permissions import ADJUST_STOCK, MANAGE_PRODUCTS
from core.errors import Conflict
from inventory import events
from inventory.locks import stock_rows_lock
from inventory.models import Category, Product, StockMovement, Supplier
from inventory.services._rules import require
from inventory.services.catalogue import PRODUCT_FIELDS
from inventory.services.stock import movements_apply_many
from tenants.context import require_tenant_id
from tenants.models import Store

MAX_ROWS = 1000
REQUIRED_TO_CREATE = ("name", "price", "tax_rate")


def _value_problems(values: Mapping) -> dict:
    problems = {}
    for field in ("price", "cost"):
        if values.get(field) is not None and values[field] < 0:
            problems[field] = [f"The {field} cannot be negative."]
    rate = values.get("tax_rate")
    if rate is not None and not (Decimal(0) <= rate <= Decimal(100)):
        problems["tax_rate"] = ["The tax rate is a percentage between 0 and 100."]
    return problems


def _duplicates(rows: Sequence[Mapping | None], field: str) -> set[int]:
    """The rows whose `field` another row also names (all of them: none wins)."""
    where: dict = {}
    for index, values in enumerate(rows):
        key = (values or {}).get(field)
        if key:
            where.setdefault(key, []).append(index)
    return {index for indexes in where.values() if len(indexes) > 1 for index in indexes}


@transaction.atomic
def products_upsert(*, actor, rows: Sequence[Mapping | None]) -> list[dict]:
    """Create or update products; `rows[i]` is None when it failed the field checks (the caller
    answers those). Matched by `external_id` when given and known, else by `sku`.

    Results: `{"sku", "status": "created"|"updated"|"unchanged"|"invalid", "id"?, "fields"?}`.
    """
    require(actor, MANAGE_PRODUCTS)
    if len(rows) > MAX_ROWS:
        raise PermissionDenied(gettext("At most %(n)d rows a request.") % {"n": MAX_ROWS})
    results: list[dict] = [{"sku": (values or {}).get("sku"), "status": "invalid"} for values in rows]
    skus = {v["sku"] for v in rows if v}
    external_ids = {v["external_id"] for v in rows if v and v.get("external_id")}
    # One locking read of every product a row may touch, in primary-key order.
    existing = list(
        Product.objects.filter(Q(sku__in=skus) | Q(external_id__in=external_ids))
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    by_sku = {p.sku: p for p in existing}
    by_external = {p.external_id: p for p in existing if p.external_id}
    categories = {c for c in (v.get("category") for v in rows if v) if c}
    suppliers = {s for s in (v.get("supplier") for v in rows if v) if s}
    known_categories = set(Category.objects.filter(pk__in=categories).values_list("pk", flat=True))
    known_suppliers = set(Supplier.objects.filter(pk__in=suppliers).values_list("pk", flat=True))
    twice = _duplicates(rows, "sku") | _duplicates(rows, "external_id")

    tenant_id = require_tenant_id()
    creating: list[tuple[int, Product]] = []
    updating: list[tuple[int, Product, list[str]]] = []
    touched: set = set()
    freed: set = set()
    for index, values in enumerate(rows):
        if values is None:
            continue
        problems = _value_problems(values)
        if index in twice:
            problems["sku"] = ["Another row of this request has the same sku or external_id."]
        if values.get("category") and values["category"] not in known_categories:
            problems["category"] = ["No such category."]
        if values.get("supplier") and values["supplier"] not in known_suppliers:
            problems["supplier"] = ["No such supplier."]
        external_id = values.get("external_id") or ""
        product = by_external.get(external_id) if external_id else None
        renamed = product is not None and values["sku"] != product.sku
        if product is None:
            product = by_sku.get(values["sku"])
            if product is not None and external_id and product.external_id not in ("", external_id):
                problems["external_id"] = ["This sku belongs to a product with another external_id."]
        elif renamed and values["sku"] in by_sku:
            problems["sku"] = ["Another product has this sku."]
        elif renamed and values["sku"] in freed:
            # Updates go out in one statement: a sku freed by another rename may be reused by a new product only.
            problems["sku"] = [
                "Another row of this request renames a product away from this sku: rename later."
            ]
        if product is not None and product.pk in touched:
            problems["sku"] = ["Another row of this request changes the same product."]
        if product is None:
            for field in REQUIRED_TO_CREATE:
                if values.get(field) is None:
                    problems[field] = ["This field is required to create a product."]
        if problems:
            results[index]["fields"] = problems
            continue
        fields = {
            k: v for k, v in values.items() if k in PRODUCT_FIELDS and k not in ("category", "supplier")
        }
        for ref in ("category", "supplier"):
            if ref in values:
                fields[f"{ref}_id"] = values[ref]
        if product is None:
            product = Product(tenant_id=tenant_id, **fields)
            creating.append((index, product))
            by_sku[product.sku] = product
        else:
            if renamed:
                freed.add(product.sku)
                del by_sku[product.sku]
                by_sku[values["sku"]] = product
            changed = [name for name, value in fields.items() if getattr(product, name) != value]
            for name in changed:
                setattr(product, name, fields[name])
            updating.append((index, product, changed))
        touched.add(product.pk)

    try:
        with transaction.atomic():
            # Updates first: a sku a rename frees is then free for a new product of this request.
            changed = [product for _, product, names in updating if names]
            _products_update(changed)
            Product.objects.bulk_create([product for _, product in creating], batch_size=MAX_ROWS)
    except IntegrityError:
        raise Conflict(
            gettext("Another request changed these products at the same time: send this one again.")
        ) from None
    for index, product in creating:
        results[index].update(status="created", id=str(product.pk))
    for index, product, names in updating:
        results[index].update(status="updated" if names else "unchanged", id=str(product.pk))
    events.products_changed([p for _, p in creating] + [p for _, p, names in updating if names])
    return results


UPDATE_COLUMNS = (
    ("sku", "text"),
    ("barcode", "text"),
    ("name", "text"),
    ("description", "text"),
    ("category_id", "uuid"),
    ("supplier_id", "uuid"),
    ("price", "numeric"),
    ("cost", "numeric"),
    ("tax_rate", "numeric"),
    ("active", "boolean"),
    ("external_id", "text"),
)


def _products_update(products: list[Product]) -> None:
    """Write the products' catalogue columns in one statement (the trigger stamps each changed row)."""
    if not products:
        return
    arrays = [[p.pk for p in products]] + [
        [getattr(p, column) for p in products] for column, _ in UPDATE_COLUMNS
    ]
    names = ", ".join(column for column, _ in UPDATE_COLUMNS)
    casts = ", ".join(f"%s::{kind}[]" for _, kind in UPDATE_COLUMNS)
    sets = ", ".join(f"{column} = v.{column}" for column, _ in UPDATE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE inventory_product AS p SET {sets} FROM unnest(%s::uuid[], {casts}) AS v(id, {names}) "  # noqa: S608 - constant columns
            "WHERE p.id = v.id RETURNING p.id, p.updated_at",
            arrays,
        )
        stamps = dict(cursor.fetchall())
    for product in products:
        product.updated_at = stamps[product.pk]


@transaction.atomic
def stock_counts_record(*, actor, rows: Sequence[Mapping | None], reason: str = "") -> list[dict]:
    """Record physical counts: each valid row `{"store", "product" or "sku", "counted"}` brings the
    store's stock of the product to `counted` with one `count` movement (none when it already is).

    Results: `{"store", "product", "sku", "status": "updated"|"unchanged"|"invalid", "quantity"?,
    "movement"?, "fields"?}`.
    """
    if len(rows) > MAX_ROWS:
        raise PermissionDenied(gettext("At most %(n)d rows a request.") % {"n": MAX_ROWS})
    results: list[dict] = [
        {
            "store": _text((values or {}).get("store")),
            "product": _text((values or {}).get("product")),
            "sku": (values or {}).get("sku"),
            "status": "invalid",
        }
        for values in rows
    ]
    stores = {s.pk: s for s in Store.objects.filter(pk__in={v["store"] for v in rows if v})}
    ids = {v["product"] for v in rows if v and v.get("product")}
    skus = {v["sku"] for v in rows if v and v.get("sku")}
    products = list(Product.objects.filter(Q(pk__in=ids) | Q(sku__in=skus)))
    by_id, by_sku = {p.pk: p for p in products}, {p.sku: p for p in products}
    wanted: dict[int, tuple] = {}
    seen: set = set()
    for index, values in enumerate(rows):
        if values is None:
            continue
        problems = {}
        store = stores.get(values["store"])
        product = by_id.get(values.get("product")) if values.get("product") else by_sku.get(values.get("sku"))
        if store is None:
            problems["store"] = ["No such store."]
        elif not store.active:
            problems["store"] = ["This store is closed."]
        elif actor is not None and not authz.can(actor, ADJUST_STOCK, store):
            problems["store"] = ["You may not count stock in this store."]
        if product is None:
            problems["product" if values.get("product") else "sku"] = ["No such product."]
        elif (values.get("sku") and values["sku"] != product.sku) or (
            values.get("product") and values["product"] != product.pk
        ):
            problems["sku"] = ["The sku and the product do not match."]
        if store is not None and product is not None:
            if (store.pk, product.pk) in seen:
                problems["product"] = ["Another row of this request counts the same product in this store."]
            seen.add((store.pk, product.pk))
        if problems or store is None or product is None:
            results[index]["fields"] = problems
            continue
        results[index].update(store=str(store.pk), product=str(product.pk), sku=product.sku)
        wanted[index] = (store, product, values["counted"])
    locked = stock_rows_lock(pairs=[(store.pk, product.pk) for store, product, _ in wanted.values()])
    changes, changed_rows = [], []
    for index, (store, product, counted) in wanted.items():
        row = locked[(store.pk, product.pk)]
        if counted == row.quantity:
            results[index].update(status="unchanged", quantity=counted)
            continue
        changes.append((row, store, product, counted - row.quantity))
        changed_rows.append(index)
    movements = movements_apply_many(
        changes=changes, kind=StockMovement.Kind.COUNT, actor=actor, reason=reason or "count"
    )
    for index, movement in zip(changed_rows, movements, strict=True):
        results[index].update(status="updated", quantity=movement.balance_after, movement=str(movement.pk))
    return results


def _text(value) -> str | None:
    return None if value is None else str(value)
