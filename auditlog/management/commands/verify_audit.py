from django.core.management.base import BaseCommand

from auditlog import sealing
from auditlog.management.commands.seal_audit import tenants_named


class Command(BaseCommand):
    help = (
        "Recompute the audit hash chain of one tenant (SLUG), or of every tenant and the platform. "
        "Reports the first entry altered, inserted or missing and exits 1; exits 0 when intact."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")

    def handle(self, *args, slug, **options):
        failed = False
        for tenant in tenants_named(slug):
            name = tenant.slug if tenant is not None else "(platform)"
            problems, stats = sealing.verify(tenant=tenant)
            if problems:
                failed = True
                self.stderr.write(f"{name}: FAILED, first problem: {problems[0]} ({len(problems)} problems)")
            else:
                unsealed = stats["unsealed"] if stats["unsealed"] is not None else "all"
                self.stdout.write(
                    f"{name}: intact, {stats['seals']} seals, {stats['entries']} sealed entries "
                    f"({stats['redacted']} redacted by a logged erasure), {unsealed} unsealed"
                )
        if failed:
            raise SystemExit(1)
