"""The tenant-scoped admin at /admin/: tenant users on their tenant's host, platform staff on the
platform host. Every page runs under the host's tenant, so the tenant-owned managers (and
row-level security beneath them) limit lists, forms, choices and searches to that tenant;
permissions come from the role catalogue through `accounts.authz.can`.

Apps register their models here (`@admin.register(Model, site=kassa.admin.site)`) with
`TenantModelAdmin`, naming the catalogue permissions that allow viewing and changing.
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import Http404
from django.shortcuts import redirect

from accounts import authz


class TenantAdminSite(admin.AdminSite):
    site_header = "Kassa"
    site_title = "Kassa admin"
    index_title = "Your chain"
    index_template = "admin/kassa_index.html"

    def has_permission(self, request) -> bool:
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return False
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            return user.is_platform_staff
        return user.tenant_id == tenant.pk and bool(authz.permissions_of(user))

    def index(self, request, extra_context=None):
        """Django's index with the chain's day on top (web.dashboard) on a tenant host."""
        from web.dashboard import dashboard_for

        if getattr(request, "tenant", None) is not None:
            extra_context = {**(extra_context or {}), "dashboard": dashboard_for(request.user)}
        return super().index(request, extra_context)

    def login(self, request, extra_context=None):
        """Sign-in goes through /login/ (lockout, MFA, password policy), never the admin's own form."""
        target = request.GET.get("next") or "/admin/"
        return redirect(f"/login/?{urlencode({'next': target})}")


site = TenantAdminSite(name="admin")


class TenantModelAdmin(admin.ModelAdmin):
    """A model admin whose rights come from the role catalogue instead of Django's permissions."""

    view_permission: str = ""
    change_permission: str = ""
    add_permission: str | None = None  # defaults to change_permission
    deletable = False

    def _can(self, request, permission: str | None) -> bool:
        return bool(permission) and authz.can(request.user, permission)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._can(request, self.view_permission) or self.has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._can(request, self.change_permission)

    def has_add_permission(self, request):
        return self._can(request, self.add_permission or self.change_permission)

    def has_delete_permission(self, request, obj=None):
        return self.deletable and self.has_change_permission(request, obj)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Missing, another tenant's or outside the user's stores: the same 404.
        raise Http404("No such object.")

    def _object_in_scope_or_404(self, request, object_id) -> None:
        """Before any permission check: an object the user cannot see does not exist (404)."""
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404("No such object.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._object_in_scope_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._object_in_scope_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._object_in_scope_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)
