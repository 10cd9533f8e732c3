from django.db.models import Prefetch, QuerySet

from lifecycle.models import Backup, RestoreDrill
from tenants.context import require_tenant_id


def backup_list() -> QuerySet[Backup]:
    """The current tenant's backups, newest first."""
    drills = RestoreDrill.objects.order_by("-created_at", "-id")
    return (
        Backup.objects.filter(tenant_id=require_tenant_id())
        .order_by("-created_at")
        .prefetch_related(Prefetch("drills", queryset=drills))
    )


def restore_drill_list() -> QuerySet[RestoreDrill]:
    """The current tenant's restore drills, newest first."""
    return RestoreDrill.objects.filter(tenant_id=require_tenant_id()).order_by("-created_at", "-id")


def backup_trouble(*, now=None) -> dict | None:
    """What the chain's owners must know about its backups, or None when all is well.

    `failed`: the newest backup failed; `stale_hours`: the newest good one is older than
    KASSA_BACKUP_MAX_AGE_HOURS (or there is none); `drill_failed`: the newest drill of a kind
    (nightly restore, weekly from storage) failed.
    """
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    now = now or timezone.now()
    tenant_id = require_tenant_id()
    newest = Backup.objects.filter(tenant_id=tenant_id).order_by("-created_at").first()
    if newest is None:
        return None  # a new chain: its first nightly backup has not run yet
    good = (
        Backup.objects.filter(tenant_id=tenant_id, status=Backup.Status.DONE).order_by("-created_at").first()
    )
    # The newest drill of each kind: a nightly pass does not hide last week's failed drill from storage.
    drills = [
        RestoreDrill.objects.filter(tenant_id=tenant_id, kind=kind).order_by("-created_at", "-id").first()
        for kind in RestoreDrill.Kind.values
    ]
    failed = [d for d in drills if d is not None and d.status == RestoreDrill.Status.FAILED]
    found: dict = {}
    if newest.status == Backup.Status.FAILED:
        found["failed"] = newest
    age = now - (good.finished_at or good.created_at) if good else None
    if age is None or age > timedelta(hours=settings.KASSA_BACKUP_MAX_AGE_HOURS):
        found["stale_hours"] = int(age.total_seconds() // 3600) if age is not None else None
    if failed:
        found["drill_failed"] = max(failed, key=lambda d: (d.created_at, d.id))
    return found or None


def chain_owner(user) -> bool:
    """The user holds the chain's built-in owner role (who alone may end its subscription)."""
    from accounts.permissions import OWNER

    return (
        bool(getattr(user, "is_authenticated", False))
        and user.assignments.filter(role__builtin=OWNER).exists()
    )
