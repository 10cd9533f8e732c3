import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from lifecycle.services.onboarding import password_generate, tenant_create
from tenants.timezones import DEFAULT_TIME_ZONE


class Command(BaseCommand):
    help = "Create a tenant with its data key, domain, built-in roles and an owner."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--region", required=True)
        parser.add_argument("--owner", required=True, help="the owner's username")
        parser.add_argument(
            "--time-zone", default=DEFAULT_TIME_ZONE, help="IANA name of the chain's local time"
        )
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the owner's password from stdin"
        )

    def handle(self, *args, slug, name, region, owner, password_stdin, time_zone, **options):
        generated = not password_stdin
        password = password_generate() if generated else sys.stdin.readline().rstrip("\n")
        try:
            tenant, user = tenant_create(
                slug=slug,
                name=name,
                region=region,
                owner_username=owner,
                owner_password=password,
                # A generated password was shown on a screen: it must be changed at first use.
                owner_must_change_password=generated,
                time_zone=time_zone,
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"tenant {tenant.slug} created: id {tenant.id}, host {tenant.domains.get().host}")
        if generated:
            self.stdout.write(f"owner {user.username} password (shown once): {password}")
