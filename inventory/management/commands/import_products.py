from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inventory.importing import LOCALES, csv_rows, header_problems, products_import
from tenants.context import tenant_context
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Import products from a CSV file (sku,name,price[,barcode,description,cost,tax_rate,active,category]); "
        "--dry-run says what would change and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--tenant", required=True, help="the tenant's slug")
        parser.add_argument("--dry-run", action="store_true", help="change nothing; list what would change")
        parser.add_argument(
            "--create-categories", action="store_true", help="create categories that do not exist"
        )
        parser.add_argument(
            "--locale",
            choices=LOCALES,
            help="how the file writes numbers (fi: 1 234,50; en: 1,234.50); default: the tenant's",
        )

    def handle(
        self, *args, file: Path, tenant: str, dry_run: bool, create_categories: bool, locale, **options
    ):
        chain = Tenant.objects.filter(slug=tenant, status=Tenant.Status.ACTIVE).first()
        if chain is None:
            raise CommandError(f"no active tenant {tenant!r}")
        try:
            header, rows = csv_rows(file.read_bytes())
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {file}: {error}") from None
        problems = header_problems(header)
        if problems:
            raise CommandError(" ".join(problems))
        with tenant_context(chain), tqdm(total=len(rows), unit="row", file=self.stderr._out) as bar:
            result = products_import(
                rows=rows,
                actor=None,
                progress=bar.update,
                locale=locale or chain.locale,
                create_categories=create_categories,
                dry_run=dry_run,
            )
        for line, message in result.errors:
            self.stderr.write(f"line {line}: {message}")
        if dry_run:
            for line, sku, action, fields in result.changes:
                changed = ", ".join(
                    f"{name} {before!r} -> {after!r}" for name, (before, after) in fields.items()
                )
                self.stdout.write(f"line {line}: {sku} would be {action}: {changed}")
            for name in result.categories_created:
                self.stdout.write(f"category {name!r} would be created")
        verb = "would be " if dry_run else ""
        self.stdout.write(
            f"{result.created} {verb}created, {result.updated} {verb}updated, {len(result.errors)} refused, "
            f"{result.unchanged} unchanged" + (" (dry run: nothing changed)" if dry_run else "")
        )
        if result.errors:
            raise CommandError(f"{len(result.errors)} rows were refused", returncode=2)
