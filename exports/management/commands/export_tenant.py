from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import User
from accounts.permissions import OWNER
from core.errors import DomainError
from exports import services
from exports.catalogue import KINDS
from exports.models import Export
from tenants.context import tenant_context
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Export a tenant's data now (a progress bar shows how far); with --out, write the ZIP there."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--kind", choices=KINDS, default="full")
        parser.add_argument("--out", help="write the decrypted ZIP to this file (mode 0600)")

    def handle(self, *args, slug, kind, out, **options):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant {slug}")
        with tenant_context(tenant):
            owner = (
                User.objects.filter(assignments__role__builtin=OWNER, is_active=True)
                .order_by("date_joined")
                .first()
            )
            if owner is None:
                raise CommandError("the tenant has no active owner to record as the requester")
            try:
                # Run here, below, instead of in a worker.
                export = services.export_create(actor=owner, kind=kind, enqueue=False)
            except DomainError as error:
                raise CommandError(str(error)) from None
        with tqdm(total=100, unit="%", desc=f"export {slug}", disable=None) as bar:

            def show(percent: int) -> None:
                bar.update(max(0, percent - bar.n))

            export = services.export_run(tenant=tenant, export_id=export.pk, on_progress=show)
        if export.status != Export.Status.DONE:
            raise CommandError(f"export {export.pk} ended {export.status}")
        self.stdout.write(
            f"export {export.pk}: {export.row_count} rows, {export.size_bytes} bytes stored encrypted"
        )
        if out:
            path = Path(out)
            path.touch(mode=0o600)
            with path.open("wb") as handle:
                for chunk in services.export_chunks(tenant=tenant, export=export):
                    handle.write(chunk)
            self.stdout.write(f"written to {path}")
