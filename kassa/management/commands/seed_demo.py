from django.conf import settings
from django.core.management.base import BaseCommand

from kassa.demo import demo_seed


class Command(BaseCommand):
    help = "Create the demo tenant unless it exists; write its owner's credentials to var/."

    def handle(self, *args, **options):
        _, created = demo_seed()
        path = settings.VAR_DIR / "demo-credentials.json"
        self.stdout.write(("created" if created else "kept") + f" the demo tenant; credentials in {path}")
