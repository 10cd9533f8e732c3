from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.mfa import platform_secrets_rewrap
from auditlog.models import PlatformEvent
from auditlog.services import platform_event_record
from tenants import crypto
from tenants.context import tenant_context
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Re-wrap every tenant's data keys with the current master key. With KASSA_MASTER_KEY, set "
        "the new key there and the old one in KASSA_MASTER_KEY_PREVIOUS first; with the key file "
        "of the embedded default, --generate makes the new key. Safe to run again after a failure."
    )

    def add_arguments(self, parser):
        parser.add_argument("--generate", action="store_true", help="make a new key file (embedded default)")

    def handle(self, *args, generate, **options):
        key_file = getattr(settings, "KASSA_MASTER_KEY_FILE", None)
        if generate:
            if settings.KASSA_MASTER_KEY or key_file is None:
                raise CommandError("--generate works with the key file only; set KASSA_MASTER_KEY yourself")
            previous = crypto.previous_key_file(key_file)
            if not previous.exists():
                key_file.replace(previous)
                key_file.touch(mode=0o600)
                key_file.write_text(crypto.new_master_key_text())
        changed = 0
        for tenant in Tenant.objects.exclude(status=Tenant.Status.PURGED):
            with tenant_context(tenant):
                changed += crypto.master_key_rewrap()
        platform = platform_secrets_rewrap()  # platform staff's TOTP secrets (no tenant)
        if generate:
            crypto.previous_key_file(key_file).unlink(missing_ok=True)
        key_id = crypto.current_kek_id()
        platform_event_record(
            kind=PlatformEvent.Kind.MASTER_KEY_ROTATED,
            detail={"key_id": key_id, "data_keys": changed, "platform_secrets": platform},
        )
        self.stdout.write(f"{changed} data keys re-wrapped with key {key_id} ({platform} platform secrets)")
