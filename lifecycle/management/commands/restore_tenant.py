from django.core.management.base import BaseCommand, CommandError

from core.storage import StorageError
from lifecycle.archive import ArchiveError
from lifecycle.errors import LifecycleError
from lifecycle.services.backups import backup_get
from lifecycle.services.restore import backup_restore


class Command(BaseCommand):
    help = "Restore a backup into its own tenant (replacing its data) or, with --as, a new tenant."

    def add_arguments(self, parser):
        parser.add_argument("backup_id")
        parser.add_argument("--as", dest="new_slug", metavar="NEW_SLUG", help="restore into a new tenant")

    def handle(self, *args, backup_id, new_slug, **options):
        try:
            backup = backup_get(backup_id=backup_id)
            result = backup_restore(backup=backup, new_slug=new_slug)
        except (LifecycleError, ArchiveError, StorageError, ValueError) as error:
            raise CommandError(f"restore refused, nothing was changed: {error}") from None
        for table, rows in sorted(result.rows.items()):
            self.stdout.write(f"{table}: {rows}")
        self.stdout.write(
            f"restored {result.row_count} rows in {len(result.rows)} tables into tenant {result.tenant.slug}"
        )
