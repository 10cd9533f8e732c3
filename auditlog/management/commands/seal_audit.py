from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from auditlog import sealing
from tenants.models import Tenant


def tenants_named(slug: str | None):
    if slug is None:
        return [None, *Tenant.objects.exclude(status=Tenant.Status.PURGED)]
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise CommandError(f"no tenant {slug!r}")
    return [tenant]


class Command(BaseCommand):
    help = "Seal new audit entries into the hash chain of one tenant (SLUG), or of every tenant and the platform."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")
        parser.add_argument(
            "--delay", type=int, default=0, help="leave entries younger than this many seconds for later"
        )

    def handle(self, *args, slug, delay, **options):
        for tenant in tenants_named(slug):
            seals = sealing.seal_create(tenant=tenant, delay=timedelta(seconds=delay))
            name = tenant.slug if tenant is not None else "(platform)"
            entries = sum(seal.entry_count for seal in seals)
            self.stdout.write(f"{name}: {len(seals)} seals, {entries} entries sealed")
