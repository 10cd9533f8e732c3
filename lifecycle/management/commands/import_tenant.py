from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from exports.errors import ExportError
from lifecycle.importing import tenant_import


class Command(BaseCommand):
    help = "Import a full Kassa export (the ZIP) into a new tenant; its users must reset their passwords."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--as", dest="slug", required=True, help="the new tenant's slug")

    def handle(self, *args, file, slug, **options):
        with tqdm(total=100, unit="%", desc=f"import {slug}", disable=None) as bar:
            try:
                result = tenant_import(
                    path=file, slug=slug, on_progress=lambda p: bar.update(max(0, p - bar.n))
                )
            except (ExportError, OSError) as error:
                raise CommandError(str(error)) from None
        self.stdout.write(
            f"tenant {result.tenant.slug} ({result.tenant.pk}): {sum(result.rows.values())} rows in "
            f"{len(result.rows)} entities; users have no password until one is set"
        )
