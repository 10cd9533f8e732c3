from django.db.models import QuerySet

from lifecycle.models import Backup, RestoreDrill
from tenants.context import require_tenant_id


def backup_list() -> QuerySet[Backup]:
    """The current tenant's backups, newest first."""
    return Backup.objects.filter(tenant_id=require_tenant_id()).order_by("-created_at")


def restore_drill_list() -> QuerySet[RestoreDrill]:
    """The current tenant's restore drills, newest first."""
    return RestoreDrill.objects.filter(tenant_id=require_tenant_id()).order_by("-created_at", "-id")
