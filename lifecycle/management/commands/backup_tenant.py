from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.storage import StorageError
from lifecycle.archive import ArchiveError
from lifecycle.errors import LifecycleError
from lifecycle.management.commands._common import tenant_by_slug
from lifecycle.services.backups import backup_create, backup_run


class Command(BaseCommand):
    help = "Back up one tenant now (encrypted, checked, then published); print the backup's id."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, slug, no_progress, **options):
        tenant = tenant_by_slug(slug)
        try:
            backup = backup_create(tenant=tenant, enqueue=False)  # run here, below
            with tqdm(total=100, unit="%", disable=no_progress, file=self.stderr) as bar:

                def advance(percent: int) -> None:
                    bar.update(percent - bar.n)

                backup = backup_run(tenant=tenant, backup_id=backup.pk, on_progress=advance)
                bar.update(100 - bar.n)
        except (LifecycleError, ArchiveError, StorageError) as error:
            raise CommandError(str(error)) from None
        self.stderr.write(
            f"backup of {tenant.slug}: {backup.table_count} tables, {backup.row_count} rows, "
            f"{backup.size_bytes} bytes, data key v{backup.key_version}"
        )
        self.stdout.write(str(backup.pk))
