import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from lifecycle.management.commands._common import tenant_by_slug
from lifecycle.models import RestoreDrill
from lifecycle.services.drills import DRILL_FAILED_STATUS, STORAGE_DRILL_STEPS, storage_drill_run
from tenants.models import Tenant


def _terminated(signum, frame):
    raise KeyboardInterrupt  # the drill's clean-up (dropping its scratch database) runs


class Command(BaseCommand):
    help = (
        "The weekly recovery drill: rebuild each active tenant's latest backup from storage alone "
        "into a scratch database (created, migrated, dropped), compare it with the backup's manifest "
        "and record the result. Exits 3 when a drill failed (recorded and alerted)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tenant", metavar="SLUG", help="this tenant only (default: every active tenant)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, tenant, no_progress, **options):
        if tenant:
            tenants = [tenant_by_slug(tenant)]
        else:
            tenants = list(
                Tenant.objects.filter(status=Tenant.Status.ACTIVE, region=settings.KASSA_REGION).order_by(
                    "slug"
                )
            )
        previous = signal.signal(signal.SIGTERM, _terminated)
        failed = []
        try:
            with tqdm(
                total=len(tenants) * len(STORAGE_DRILL_STEPS),
                unit="step",
                disable=no_progress,
                file=self.stderr,
            ) as bar:
                for index, chain in enumerate(tenants):
                    bar.set_description(chain.slug)

                    def advance(step: str, index=index) -> None:
                        bar.update(index * len(STORAGE_DRILL_STEPS) + STORAGE_DRILL_STEPS.index(step) - bar.n)
                        bar.set_postfix_str(step)

                    drill = storage_drill_run(tenant=chain, on_step=advance)
                    bar.update((index + 1) * len(STORAGE_DRILL_STEPS) - bar.n)
                    if drill is None:
                        self.stdout.write(f"{chain.slug}: no backup to drill")
                        continue
                    self.stdout.write(
                        f"{chain.slug}: {drill.status} in {drill.seconds:.1f} s "
                        f"({drill.table_count} tables, {drill.row_count} rows)"
                        + (f": {drill.detail}" if drill.detail else "")
                    )
                    if drill.status == RestoreDrill.Status.FAILED:
                        failed.append(chain.slug)
        finally:
            signal.signal(signal.SIGTERM, previous)
        if failed:
            raise CommandError(
                f"the drill from storage failed for {', '.join(failed)}", returncode=DRILL_FAILED_STATUS
            )
