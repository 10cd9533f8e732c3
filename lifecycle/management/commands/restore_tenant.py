import getpass
import json as _json

from django.core.management.base import BaseCommand, CommandError

from core.storage import StorageError
from lifecycle.archive import ArchiveError
from lifecycle.errors import LifecycleError
from lifecycle.models import Backup
from lifecycle.services.backups import backup_get, tenant_digest
from lifecycle.services.restore import backup_restore, backup_restore_from_storage


class Command(BaseCommand):
    help = "Restore a backup into its own tenant (replacing its data) or, with --as, a new tenant."

    def add_arguments(self, parser):
        parser.add_argument("backup_id", nargs="?")
        parser.add_argument(
            "--from-storage",
            dest="url",
            metavar="URL",
            help="rebuild a tenant this database lacks from its backup object alone (disaster recovery): "
            "s3://bucket/tenants/<tenant>/backups/<backup>.kbk or file:///…",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="with --from-storage: print the rebuilt tenant's rows and checksum per table as JSON, "
            "read back after the restore committed (the weekly drill compares them with the manifest)",
        )
        parser.add_argument("--as", dest="new_slug", metavar="NEW_SLUG", help="restore into a new tenant")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="confirm a restore into the backup's own tenant: its data is replaced (its audit "
            "history is kept), every token and session is revoked",
        )

    def handle(self, *args, backup_id, new_slug, yes, url, json, **options):
        if url:
            if backup_id or new_slug:
                raise CommandError("--from-storage takes the backup's URL alone")
            try:
                result = backup_restore_from_storage(
                    url=url, actor=f"manage.py restore_tenant ({getpass.getuser()})"
                )
            except (LifecycleError, ArchiveError, StorageError, ValueError) as error:
                raise CommandError(f"restore refused, nothing was changed: {error}") from None
            if json:
                self.stdout.write(_json.dumps(_digest(result)))
                return
            self.stdout.write(
                f"rebuilt tenant {result.tenant.slug} ({result.tenant.pk}) from storage: "
                f"{result.row_count} rows in {len(result.rows)} tables"
            )
            return
        if not backup_id:
            raise CommandError("give a backup id, or --from-storage URL")
        if not new_slug and not yes:
            raise CommandError(
                "a restore into the backup's own tenant replaces its data and signs everyone out: add --yes "
                "(or restore beside it with --as NEW_SLUG)"
            )
        try:
            backup = backup_get(backup_id=backup_id)
            result = backup_restore(
                backup=backup, new_slug=new_slug, actor=f"manage.py restore_tenant ({getpass.getuser()})"
            )
        except (LifecycleError, ArchiveError, StorageError, ValueError) as error:
            raise CommandError(f"restore refused, nothing was changed: {error}") from None
        for table, rows in sorted(result.rows.items()):
            self.stdout.write(f"{table}: {rows}")
        for name, count in sorted(result.effects.items()):
            self.stdout.write(f"{name.replace('_', ' ')}: {count}")
        self.stdout.write(
            f"restored {result.row_count} rows in {len(result.rows)} tables into tenant {result.tenant.slug}"
        )


def _digest(result) -> dict:
    """Ids, counts and checksums only: no row's content."""
    backup = Backup.objects.filter(tenant=result.tenant).get()
    return {
        "tenant": str(result.tenant.pk),
        "backup": str(backup.pk),
        "rows": result.row_count,
        "tables": tenant_digest(tenant=result.tenant, tables=backup.manifest["tables"]),
    }
