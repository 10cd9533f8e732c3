from django.core.management.base import BaseCommand, CommandError

from lifecycle.errors import LifecycleError
from lifecycle.management.commands._common import tenant_by_slug
from lifecycle.services.purge import purge_due_at, tenant_terminate


class Command(BaseCommand):
    help = "End a tenant's subscription: only owners may sign in (to export) until the purge."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **options):
        try:
            tenant = tenant_terminate(tenant=tenant_by_slug(slug))
        except LifecycleError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"tenant {tenant.slug} terminated; purge due {purge_due_at(tenant):%Y-%m-%d %H:%M} UTC"
        )
