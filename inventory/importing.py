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

from accounts import authz
from accounts.permissions import MANAGE_PRODUCTS
from inventory.models import Category, Product
from inventory.services.catalogue import product_create, product_update

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
    if actor is not None and not authz.can(actor, MANAGE_PRODUCTS):
        raise PermissionDenied("You may not manage products.")
    result = ImportResult()
    for line, row in enumerate(rows, start=2):
        try:
            with transaction.atomic():
                values = _row_values(row)
                product = Product.objects.filter(sku=values["sku"]).first()
                if product is None:
                    product_create(actor=actor, **values)
                    result.created += 1
                else:
                    values.pop("sku")
                    product_update(product=product, actor=actor, **values)
                    result.updated += 1
        except ValidationError as error:
            result.errors.append((line, _message(error)))
        if progress is not None:
            progress(1)
    return result


def header_problems(header: list[str]) -> list[str]:
    missing = [name for name in REQUIRED if name not in header]
    return [f"The header lacks the column {name!r}." for name in missing]


# --- the import as a job (admin and API): a ProductImport row run by a Celery worker ---------

# A running import whose worker has shown no sign of life for this long may be claimed again;
# running it again is safe, since rows are created or updated by SKU.
STALE_SECONDS = 120
# Progress is written every 2% of the rows, and at least every PROGRESS_ROWS rows.
PROGRESS_ROWS = 200


def product_import_create(*, actor, data: str, filename: str = ""):
    """Record an import of the actor's tenant (header already checked) and run it after commit."""
    from inventory.models import ProductImport

    if not authz.can(actor, MANAGE_PRODUCTS):
        raise PermissionDenied("You may not manage products.")
    _, rows = csv_rows(data)
    job = ProductImport.objects.create(
        requested_by=actor, data=data, filename=filename[:200], total_rows=len(rows)
    )
    product_import_enqueue(job)
    return job


def product_import_enqueue(job) -> None:
    from inventory.tasks import product_import_task

    transaction.on_commit(lambda: product_import_task.delay(str(job.tenant_id), str(job.pk)))


def product_import_claim(*, job_id) -> bool:
    """Move the job from queued (or stale running) to running; False if another worker has it."""
    from datetime import timedelta

    from django.db.models import F, Q
    from django.utils import timezone

    from inventory.models import ProductImport

    now = timezone.now()
    claimed = ProductImport.objects.filter(
        Q(status=ProductImport.Status.QUEUED)
        | Q(status=ProductImport.Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=STALE_SECONDS)),
        pk=job_id,
    ).update(
        status=ProductImport.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        progress=0,
        error="",
    )
    return claimed == 1


def product_import_run(*, tenant, job_id):
    """Import the job's rows through `products_import`; safe to call again (done or claimed: nothing)."""
    from django.utils import timezone

    from inventory.models import ProductImport
    from tenants.context import tenant_context

    with tenant_context(tenant):
        job = ProductImport.objects.select_related("requested_by").get(pk=job_id)
        if job.finished or not product_import_claim(job_id=job.pk):
            return job
        jobs = ProductImport.objects.filter(pk=job.pk)
        total = max(job.total_rows, 1)
        step = max(1, min(PROGRESS_ROWS, total // 50))
        done = 0

        def progress(rows: int) -> None:
            nonlocal done
            done += rows
            if done % step == 0 and done < total:
                jobs.update(progress=min(99, done * 100 // total), heartbeat_at=timezone.now())

        try:
            _, rows = csv_rows(job.data or "")
            result = products_import(rows=rows, actor=job.requested_by, progress=progress)
        except Exception as error:
            jobs.update(
                status=ProductImport.Status.FAILED,
                error=_job_error(error),
                data=None,
                finished_at=timezone.now(),
            )
            raise
        now = timezone.now()
        jobs.update(
            status=ProductImport.Status.DONE,
            progress=100,
            created=result.created,
            updated=result.updated,
            failed=len(result.errors),
            errors=[
                {"row": line, "message": message[:500]}
                for line, message in result.errors[: ProductImport.MAX_ERRORS]
            ],
            data=None,
            finished_at=now,
            heartbeat_at=now,
        )
        job.refresh_from_db()
    return job


def _job_error(error: Exception) -> str:
    # A database error's text may quote row values: only its type, unless it is our own refusal.
    if isinstance(error, (PermissionDenied, ValidationError)):
        return f"{type(error).__name__}: {error}"[:500]
    return type(error).__name__
