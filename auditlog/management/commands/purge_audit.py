from django.core.management.base import BaseCommand

from auditlog import services
from auditlog.management.commands.seal_audit import tenants_named


class Command(BaseCommand):
    help = (
        "Delete audit entries past their tenant's retention (at least 365 days), for one tenant (SLUG) "
        "or every tenant; each purge is logged in the platform log. The daily task does the same."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")

    def handle(self, *args, slug, **options):
        for tenant in tenants_named(slug):
            if tenant is None:
                continue  # the platform's own log is kept
            result = services.audit_purge(tenant=tenant)
            deleted = sum(result["deleted"].values())
            self.stdout.write(f"{tenant.slug}: {deleted} entries before {result['cutoff']:%Y-%m-%d} deleted")
