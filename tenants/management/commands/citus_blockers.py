from django.core.management.base import BaseCommand

from tenants.citus import distribution_blockers


class Command(BaseCommand):
    help = "List what blocks distributing the tables by tenant_id (Citus): deploy/scaling.md."

    def handle(self, *args, **options):
        for line in distribution_blockers():
            self.stdout.write(f"- {line}")
