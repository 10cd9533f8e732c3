import getpass

from django.core.management.base import BaseCommand, CommandError

from lifecycle.errors import LifecycleError
from lifecycle.management.commands._common import tenant_by_slug
from lifecycle.services.purge import purge_due_at, tenant_purge


class Command(BaseCommand):
    help = "Destroy a terminated tenant's data, backups, exports and keys; leave a purge certificate."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--now", action="store_true", help="purge now instead of after the grace period")
        parser.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")

    def handle(self, *args, slug, now, yes, **options):
        tenant = tenant_by_slug(slug)
        if not now:
            due = purge_due_at(tenant)
            when = f"{due:%Y-%m-%d %H:%M} UTC" if due else "once it is terminated"
            self.stdout.write(
                f"tenant {tenant.slug} will be purged by the scheduled task {when}; --now --yes purges now"
            )
            return
        if not yes:
            raise CommandError("a purge cannot be undone: add --yes")
        try:
            certificate = tenant_purge(
                tenant=tenant, requested_by=f"manage.py purge_tenant ({getpass.getuser()})"
            )
        except LifecycleError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"tenant {tenant.slug} purged: {sum(certificate.rows_deleted.values())} rows, "
            f"{sum(certificate.objects_deleted.values())} objects, {certificate.data_keys_destroyed} data keys; "
            f"certificate {certificate.pk}"
        )
