from django.core.management.base import BaseCommand, CommandError

from accounts import mfa
from accounts.models import User
from auditlog.models import PlatformEvent
from auditlog.services import platform_event_record
from tenants.context import tenant_context


class Command(BaseCommand):
    help = (
        "Remove a platform staff member's authenticator (a lost phone): at their next sign-in on the "
        "platform host they enrol a new one before anything else. Logged in the platform log."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        with tenant_context(None):
            staff = User.objects.filter(username__iexact=username, is_platform_staff=True).first()
            if staff is None:
                raise CommandError(f"no platform staff member {username!r}")
            mfa.mfa_reset(user=staff)
        platform_event_record(
            kind=PlatformEvent.Kind.MFA_RESET, actor="operator", detail={"user": str(staff.pk)}
        )
        self.stdout.write(f"{staff.username}: authenticator removed; they enrol again at their next sign-in")
