import json

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants.demo import demo_seed


class Command(BaseCommand):
    help = "Create the demo tenant unless it exists; write its owner's credentials to var/."

    def handle(self, *args, **options):
        credentials, created = demo_seed()
        path = settings.VAR_DIR / "demo-credentials.json"
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(credentials, indent=2) + "\n")
        self.stdout.write(("created" if created else "kept") + f" demo tenant; credentials in {path}")
