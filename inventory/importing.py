"""Import products from CSV: each row created or updated by SKU through the product services.

A bad row is reported with its line number and skipped; the good rows are kept. Numbers are
read in the chain's way of writing them (`Tenant.locale`: "fi" 1 234,50, "en" 1,234.50); a
file may separate its columns with commas, semicolons (as a Finnish spreadsheet saves them)
or tabs. Unknown categories are refused, or created when the importer asks. A dry run does
all of it in a transaction that is rolled back, and says what would change.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts import authz
from accounts.permissions import MANAGE_PRODUCTS
from inventory.models import Category, Product
from inventory.services.catalogue import category_create, product_create, product_update

REQUIRED = ("sku", "name", "price")
OPTIONAL = ("barcode", "description", "cost", "tax_rate", "active", "category")
TRUE = {"1", "true", "yes", "y", "on", "kyllä", "k"}
FALSE = {"0", "false", "no", "n", "off", "ei", "e"}
LOCALES = ("fi", "en")
NUMBER_EXAMPLE = {"fi": "1 234,50", "en": "1,234.50"}
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")
MAX_CHANGES = 500


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    # (line, sku, "created" | "updated", {field: [before, after]}) for the first MAX_CHANGES rows that change
    changes: list[tuple[int, str, str, dict]] = field(default_factory=list)
    categories_created: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.errors)


def number_parse(text: str, *, locale: str, name: str = "value") -> Decimal:
    """A decimal written the chain's way: "fi" takes a decimal comma (or point) and spaces between
    thousands; "en" a decimal point and commas between thousands. Anything ambiguous is refused."""
    value = text.strip().translate(_SPACES)
    if locale == "fi":
        if value.count(",") + value.count(".") > 1:
            value = "?"
        value = value.replace(",", ".")
    elif "," in value:
        whole = value.partition(".")[0]
        groups = whole.lstrip("+-").split(",")
        if groups[0] and len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:]):
            value = value.replace(",", "")
        else:
            value = "?"
    if not _PLAIN_NUMBER.fullmatch(value):
        raise ValidationError(
            {
                name: _("%(value)s is not a number (this chain writes numbers like %(example)s).")
                % {"value": repr(text.strip()[:40]), "example": NUMBER_EXAMPLE.get(locale, "1234.50")}
            }
        )
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
        raise ValidationError({name: _("Not a number.")}) from None


def _category(name: str, *, create: bool, actor, result: ImportResult) -> Category:
    category = Category.objects.filter(name=name).first()
    if category is not None:
        return category
    if not create:
        raise ValidationError({"category": _("No category named %(name)s.") % {"name": repr(name)}})
    result.categories_created.append(name)
    return category_create(actor=actor, name=name)


def _row_values(row: dict, *, locale: str, create_categories: bool, actor, result: ImportResult) -> dict:
    missing = [name for name in REQUIRED if not (row.get(name) or "").strip()]
    if missing:
        raise ValidationError({name: _("This column is required.") for name in missing})
    values: dict = {
        "sku": row["sku"].strip(),
        "name": row["name"].strip(),
        "price": number_parse(row["price"], locale=locale, name="price"),
    }
    for name in ("barcode", "description"):
        if row.get(name) is not None:
            values[name] = row[name].strip()
    for name in ("cost", "tax_rate"):
        if (row.get(name) or "").strip():
            values[name] = number_parse(row[name], locale=locale, name=name)
    if (row.get("active") or "").strip():
        flag = row["active"].strip().lower()
        if flag not in TRUE | FALSE:
            raise ValidationError(
                {"active": _("%(value)s is not yes or no.") % {"value": repr(row["active"])}}
            )
        values["active"] = flag in TRUE
    if (row.get("category") or "").strip():
        values["category"] = _category(
            row["category"].strip(), create=create_categories, actor=actor, result=result
        )
    return values


def _message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
    return " ".join(error.messages)


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {delimiter: header.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def csv_rows(data: bytes | str) -> tuple[list[str], list[dict]]:
    """The header and rows of a CSV file (UTF-8, optionally with a byte-order mark; commas,
    semicolons or tabs between columns, told apart by the header line)."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text), delimiter=_delimiter(text))
    rows = list(reader)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    return header, [{(k or "").strip().lower(): (v or "") for k, v in row.items()} for row in rows]


def _display(value) -> str:
    if isinstance(value, Category):
        return value.name
    return "" if value is None else str(value)


def _differences(product: Product, values: dict) -> dict:
    found = {}
    for name, wanted in values.items():
        current = getattr(product, name)
        if current != wanted:
            found[name] = [_display(current), _display(wanted)]
    return found


class _DryRun(Exception):
    """Raised at the end of a dry run to roll its transaction back."""


def products_import(
    *,
    rows: Iterable[dict],
    actor,
    progress: Callable[[int], None] | None = None,
    locale: str = "fi",
    create_categories: bool = False,
    dry_run: bool = False,
) -> ImportResult:
    """Create or update a product per row (unchanged rows are left alone); line numbers count the
    header as line 1. A dry run makes every change in a transaction it rolls back."""
    if actor is not None and not authz.can(actor, MANAGE_PRODUCTS):
        raise PermissionDenied(_("You may not manage products."))
    if locale not in LOCALES:
        raise ValidationError({"locale": _("Numbers are written the Finnish (fi) or English (en) way.")})
    result = ImportResult(dry_run=dry_run)
    if not dry_run:  # each row in its own transaction: a long file holds no lock for long
        _rows_import(rows, actor, progress, locale, create_categories, result)
        return result
    try:
        with transaction.atomic():  # later rows see what earlier ones would do
            _rows_import(rows, actor, progress, locale, create_categories, result)
            raise _DryRun
    except _DryRun:
        pass
    return result


def _rows_import(rows, actor, progress, locale, create_categories, result: ImportResult) -> None:
    for line, row in enumerate(rows, start=2):
        try:
            with transaction.atomic():
                values = _row_values(
                    row, locale=locale, create_categories=create_categories, actor=actor, result=result
                )
                product = Product.objects.filter(sku=values["sku"]).first()
                if product is None:
                    product_create(actor=actor, **values)
                    result.created += 1
                    change = (
                        line,
                        values["sku"],
                        "created",
                        {k: ["", _display(v)] for k, v in values.items()},
                    )
                else:
                    values.pop("sku")
                    differences = _differences(product, values)
                    if not differences:
                        result.unchanged += 1
                        change = None
                    else:
                        product_update(product=product, actor=actor, **{k: values[k] for k in differences})
                        result.updated += 1
                        change = (line, product.sku, "updated", differences)
                if change is not None and len(result.changes) < MAX_CHANGES:
                    result.changes.append(change)
        except ValidationError as error:
            result.errors.append((line, _message(error)))
        if progress is not None:
            progress(1)


def header_problems(header: list[str]) -> list[str]:
    missing = [name for name in REQUIRED if name not in header]
    return [_("The header lacks the column %(name)s.") % {"name": repr(name)} for name in missing]


# --- the import as a job (admin and API): a ProductImport row run by a Celery worker ---------

# A running import whose worker has shown no sign of life for this long may be claimed again;
# running it again is safe, since rows are created or updated by SKU.
STALE_SECONDS = 120
# Progress is written every 2% of the rows, and at least every PROGRESS_ROWS rows.
PROGRESS_ROWS = 200


def product_import_create(
    *,
    actor,
    data: str,
    filename: str = "",
    dry_run: bool = False,
    create_categories: bool = False,
    locale: str = "",
):
    """Record an import of the actor's tenant (header already checked) and run it after commit.

    `locale` is how the file writes numbers (empty: the tenant's). The actor's earlier dry runs
    that were never applied let go of their files: this one supersedes them.
    """
    from inventory.models import ProductImport
    from tenants.context import get_current_tenant

    if not authz.can(actor, MANAGE_PRODUCTS):
        raise PermissionDenied(_("You may not manage products."))
    tenant = get_current_tenant()
    locale = locale or (tenant.locale if tenant is not None else "fi")
    if locale not in LOCALES:
        raise ValidationError({"locale": _("Numbers are written the Finnish (fi) or English (en) way.")})
    ProductImport.objects.filter(requested_by=actor, dry_run=True, data__isnull=False).exclude(
        status__in=[ProductImport.Status.QUEUED, ProductImport.Status.RUNNING]
    ).update(data=None)
    _header, rows = csv_rows(data)
    job = ProductImport.objects.create(
        requested_by=actor,
        data=data,
        filename=filename[:200],
        total_rows=len(rows),
        dry_run=dry_run,
        create_categories=create_categories,
        locale=locale,
    )
    product_import_enqueue(job)
    return job


def product_import_apply(*, actor, dry_run_id):
    """Run for real the file a finished dry run checked (its file moves to the new job)."""
    from django.utils import timezone

    from inventory.models import ProductImport

    if not authz.can(actor, MANAGE_PRODUCTS):
        raise PermissionDenied(_("You may not manage products."))
    with transaction.atomic():
        tried = (
            ProductImport.objects.select_for_update()
            .filter(pk=dry_run_id, requested_by=actor, dry_run=True)
            .first()
        )
        if tried is None or tried.status != ProductImport.Status.DONE or not tried.data:
            raise ValidationError(_("This dry run cannot be applied (not finished, or applied already)."))
        job = ProductImport.objects.create(
            requested_by=actor,
            data=tried.data,
            filename=tried.filename,
            total_rows=tried.total_rows,
            create_categories=tried.create_categories,
            locale=tried.locale,
        )
        tried.data = None
        tried.applied_at = timezone.now()
        tried.save(update_fields=["data", "applied_at"])
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
                percent = min(99, done * 100 // total)
                if job.dry_run:  # the rows' transaction is rolled back: write it beside it
                    _progress_aside(tenant=tenant, job_id=job.pk, percent=percent)
                else:
                    jobs.update(progress=percent, heartbeat_at=timezone.now())

        try:
            _header, rows = csv_rows(job.data or "")
            result = products_import(
                rows=rows,
                actor=job.requested_by,
                progress=progress,
                locale=job.locale or tenant.locale,
                create_categories=job.create_categories,
                dry_run=job.dry_run,
            )
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
            unchanged=result.unchanged,
            failed=len(result.errors),
            errors=[
                {"row": line, "message": message[:500]}
                for line, message in result.errors[: ProductImport.MAX_ERRORS]
            ],
            changes=[
                {"row": line, "sku": sku, "action": action, "fields": fields}
                for line, sku, action, fields in result.changes
            ],
            categories_created=result.categories_created[: ProductImport.MAX_ERRORS],
            data=job.data if job.dry_run else None,  # a dry run keeps its file until applied
            finished_at=now,
            heartbeat_at=now,
        )
        job.refresh_from_db()
    return job


def _progress_aside(*, tenant, job_id, percent: int) -> None:
    """Write a dry run's percentage on a connection of its own, so it shows while the run's
    transaction is open (and survives its rollback)."""
    import threading

    from django.db import connections
    from django.utils import timezone

    from inventory.models import ProductImport
    from tenants.context import tenant_context

    def write():
        try:
            with tenant_context(tenant):
                ProductImport.objects.filter(pk=job_id).update(progress=percent, heartbeat_at=timezone.now())
        finally:
            connections.close_all()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join(30)


def _job_error(error: Exception) -> str:
    # A database error's text may quote row values: only its type, unless it is our own refusal.
    if isinstance(error, (PermissionDenied, ValidationError)):
        return f"{type(error).__name__}: {error}"[:500]
    return type(error).__name__
