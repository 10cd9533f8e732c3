from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from backoffice.importing import counts_import
from backoffice.models import Stocktake
from core.errors import DomainError
from inventory.importing import LOCALES, csv_rows
from tenants.context import tenant_context
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Enter a stock-count CSV (sku or barcode, counted) into a stocktake in progress; "
        "--dry-run lists what would change and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--tenant", required=True, help="the tenant's slug")
        parser.add_argument("--stocktake", required=True, type=int, help="the stocktake's number")
        parser.add_argument("--dry-run", action="store_true", help="change nothing; list what would change")
        parser.add_argument(
            "--locale", choices=LOCALES, help="how the file writes numbers; default: the tenant's"
        )

    def handle(self, *args, file: Path, tenant: str, stocktake: int, dry_run: bool, locale, **options):
        chain = Tenant.objects.filter(slug=tenant, status=Tenant.Status.ACTIVE).first()
        if chain is None:
            raise CommandError(f"no active tenant {tenant!r}")
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {file}: {error}") from None
        with tenant_context(chain):
            found = Stocktake.objects.select_related("store").filter(number=stocktake).first()
            if found is None:
                raise CommandError(f"no stocktake {stocktake} in {tenant}")
            _header, rows = csv_rows(text)
            try:
                with tqdm(total=len(rows), unit="row", file=self.stderr._out) as bar:
                    result = counts_import(
                        stocktake=found,
                        data=text,
                        actor=None,
                        dry_run=dry_run,
                        locale=locale or chain.locale,
                        progress=bar.update,
                    )
            except (ValidationError, DomainError) as error:
                raise CommandError(" ".join(getattr(error, "messages", [str(error)]))) from None
        for line, message in result.errors:
            self.stderr.write(f"line {line}: {message}")
        for row in result.rows:
            if row.saved != row.counted:
                before = "not counted" if row.saved is None else row.saved
                self.stdout.write(f"line {row.line}: {row.sku} {before} -> {row.counted} (stock {row.stock})")
        verb = "would be counted" if dry_run else "counted"
        self.stdout.write(
            f"{len(result.rows)} {verb} ({result.changed} changed), {len(result.errors)} refused"
            + (" (dry run: nothing changed)" if dry_run else "")
        )
        if result.errors:
            raise CommandError(f"{len(result.errors)} rows were refused", returncode=2)
