from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inventory.importing import csv_rows, header_problems, products_import
from tenants.context import tenant_context
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Import products from a CSV file (sku,name,price[,barcode,description,cost,tax_rate,active,category])."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--tenant", required=True, help="the tenant's slug")

    def handle(self, *args, file: Path, tenant: str, **options):
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
            result = products_import(rows=rows, actor=None, progress=bar.update)
        for line, message in result.errors:
            self.stderr.write(f"line {line}: {message}")
        self.stdout.write(f"{result.created} created, {result.updated} updated, {len(result.errors)} refused")
        if result.errors:
            raise CommandError(f"{len(result.errors)} rows were refused", returncode=2)
