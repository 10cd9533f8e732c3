"""The sign-in and access logs, read-only, in the tenant-scoped admin."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from accounts import authz
from accounts.admin_base import TenantModelAdmin
from accounts.permissions import VIEW_CHAIN_LOGS, VIEW_STORE_LOGS
from accounts.selectors import log_scope
from auditlog import selectors
from auditlog.models import AccessEvent, SignInEvent


class LogAdmin(TenantModelAdmin):
    """Read-only: the chain's entries with view_chain_logs, those of one's stores with view_store_logs.

    Each log defines `entries(request)`, its rows as auditlog.selectors scopes them.
    """

    change_list_template = "admin/auditlog/change_list.html"
    show_full_result_count = False
    list_per_page = 50

    def has_view_permission(self, request, obj=None):
        return authz.can(request.user, VIEW_CHAIN_LOGS) or authz.can(request.user, VIEW_STORE_LOGS)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        try:
            return self.entries(request)
        except PermissionDenied:
            return self.model.objects.none()  # no log permission: nothing exists (404 on objects)


@admin.register(SignInEvent)
class SignInEventAdmin(LogAdmin):
    list_display = ["created_at", "kind", "username", "outcome", "reason", "channel", "ip"]
    list_filter = ["outcome", "kind", "channel"]
    search_fields = ["username", "ip"]
    date_hierarchy = "created_at"

    def entries(self, request):
        return selectors.signin_list(scope=log_scope(reader=request.user), filters={})


@admin.register(AccessEvent)
class AccessEventAdmin(LogAdmin):
    list_display = ["created_at", "method", "path", "status", "ip", "user_id", "duration_ms"]
    list_filter = ["method", "status"]
    search_fields = ["path", "ip"]
    date_hierarchy = "created_at"

    def entries(self, request):
        return selectors.access_list(scope=log_scope(reader=request.user), filters={})
