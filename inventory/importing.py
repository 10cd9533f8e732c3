"""Import products from CSV: each row created or updated by SKU through the product services.

A bad row is reported with its line number and skipped; the good rows are kept.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from inventory import services
from inventory.models import Category, Product

REQUIRED = ("sku", "name", "price")
OPTIONAL = ("barcode", "description", "cost", "tax_rate", "active", "category")
TRUE = {"1", "true", "yes", "y", "on"}
FALSE = {"0", "false", "no", "n", "off"}


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + len(self.errors)


def _decimal(value: str, name: str) -> Decimal:
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise ValidationError({name: f"{value!r} is not a number."}) from None


def _row_values(row: dict) -> dict:
    missing = [name for name in REQUIRED if not (row.get(name) or "").strip()]
    if missing:
        raise ValidationError({name: "This column is required." for name in missing})
    values: dict = {
        "sku": row["sku"].strip(),
        "name": row["name"].strip(),
        "price": _decimal(row["price"], "price"),
    }
    for name in ("barcode", "description"):
        if row.get(name) is not None:
            values[name] = row[name].strip()
    for name in ("cost", "tax_rate"):
        if (row.get(name) or "").strip():
            values[name] = _decimal(row[name], name)
    if (row.get("active") or "").strip():
        flag = row["active"].strip().lower()
        if flag not in TRUE | FALSE:
            raise ValidationError({"active": f"{row['active']!r} is not yes or no."})
        values["active"] = flag in TRUE
    if (row.get("category") or "").strip():
        name = row["category"].strip()
        values["category"] = Category.objects.filter(name=name).first()
        if values["category"] is None:
            raise ValidationError({"category": f"No category named {name!r}."})
    return values


def _message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
    return " ".join(error.messages)


def csv_rows(data: bytes | str) -> tuple[list[str], list[dict]]:
    """The header and rows of a CSV file (UTF-8, optionally with a byte-order mark)."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    return header, [{(k or "").strip().lower(): (v or "") for k, v in row.items()} for row in rows]


def products_import(
    *, rows: Iterable[dict], actor, progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Create or update a product per row; line numbers count the header as line 1."""
    if actor is not None and not services.authz.can(actor, services.MANAGE_PRODUCTS):
        raise PermissionDenied("You may not manage products.")
    result = ImportResult()
    for line, row in enumerate(rows, start=2):
        try:
            with transaction.atomic():
                values = _row_values(row)
                product = Product.objects.filter(sku=values["sku"]).first()
                if product is None:
                    services.product_create(actor=actor, **values)
                    result.created += 1
                else:
                    values.pop("sku")
                    services.product_update(product=product, actor=actor, **values)
                    result.updated += 1
        except ValidationError as error:
            result.errors.append((line, _message(error)))
        if progress is not None:
            progress(1)
    return result


def header_problems(header: list[str]) -> list[str]:
    missing = [name for name in REQUIRED if name not in header]
    return [f"The header lacks the column {name!r}." for name in missing]
