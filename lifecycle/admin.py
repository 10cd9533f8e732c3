"""Backups and restore drills in the tenant admin: see them, and back up now."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from accounts import authz
from accounts.admin_base import TenantModelAdmin
from accounts.permissions import EXPORT, MANAGE_SETTINGS
from lifecycle.models import Backup, RestoreDrill
from lifecycle.services.backups import backup_request


class _ChainRecordAdmin(TenantModelAdmin):
    """Platform tables that name their tenant: each chain sees its own rows only."""

    view_permission = EXPORT
    change_permission = ""

    def has_view_permission(self, request, obj=None):
        return authz.can(request.user, EXPORT) or authz.can(request.user, MANAGE_SETTINGS)

    def get_queryset(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            return self.model.objects.none()
        return super().get_queryset(request).filter(tenant=tenant)


@admin.register(Backup)
class BackupAdmin(_ChainRecordAdmin):
    list_display = ["created_at", "status", "progress", "trigger", "table_count", "row_count", "size_bytes"]
    list_filter = ["status", "trigger"]
    readonly_fields = ["id", "status", "progress", "trigger", "scheduled_for", "attempts", "region",
                       "size_bytes", "table_count", "row_count", "key_version", "error", "created_at",
                       "started_at", "finished_at"]  # fmt: skip
    exclude = ["manifest", "object_key"]

    def has_add_permission(self, request):
        return authz.can(request.user, MANAGE_SETTINGS)

    def add_view(self, request, form_url="", extra_context=None):
        """Back up now: a confirmation page, then a queued backup (the worker runs it)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            backup_request(tenant=request.tenant)
            messages.success(request, gettext("A backup was started; its progress shows in the list."))
            return redirect("admin:lifecycle_backup_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Back up now"),
        }
        return render(request, "admin/lifecycle/backup/confirm.html", context)


@admin.register(RestoreDrill)
class RestoreDrillAdmin(_ChainRecordAdmin):
    list_display = ["created_at", "kind", "status", "table_count", "row_count", "seconds"]
    list_filter = ["kind", "status"]
    readonly_fields = [
        "kind",
        "status",
        "backup",
        "table_count",
        "row_count",
        "seconds",
        "detail",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False
