"""The tenant-scoped admin at /admin/: tenant users on their tenant's host, platform staff on the
platform host. Every page runs under the host's tenant, so the tenant-owned managers (and
row-level security beneath them) limit lists, forms, choices and searches to that tenant;
permissions come from the role catalogue through `accounts.authz.can`.

This site is the default admin site (`KassaAdminConfig.default_site`), so apps register with a
plain `@admin.register(Model)` and `accounts.admin_base.TenantModelAdmin`. Models that Django
and its libraries register on the default site (groups, axes' attempts) are taken off again at
start (`KassaConfig.ready`): their rights would come from Django's permissions, not from the
role catalogue.
"""

from functools import wraps
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpResponseBadRequest
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

    def admin_view(self, view, cacheable=False):
        """Every admin page: a NUL anywhere in the query string is a 400 before any view runs
        (PostgreSQL text cannot hold NUL; a filter or search would fail deep in a query)."""
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def guarded(request, *args, **kwargs):
            if any(
                "\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values
            ):
                return HttpResponseBadRequest("A NUL character is not allowed here.")
            return inner(request, *args, **kwargs)

        return guarded

    def get_urls(self):
        """Django's admin URLs, and the chain's end for its owners (lifecycle.admin)."""
        from django.urls import path

        from lifecycle.admin import termination_view

        return [
            path("lifecycle/termination/", self.admin_view(termination_view), name="lifecycle_termination"),
            *super().get_urls(),
        ]

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

    def password_change(self, request, extra_context=None):
        """The admin's own form would skip the role's policy, the history, the password date and the
        revocation of other sessions: the one password page is /account/password/."""
        return redirect("/account/password/")

    def password_change_done(self, request, extra_context=None):
        return redirect("/account/")

    def logout(self, request, extra_context=None):
        """Sign-out is the site's own (/logout/): the session row ends, it is logged, and the
        browser is told to clear what it cached."""
        from accounts.web import logout_view

        return logout_view(request)


site = admin.site


def foreign_models_unregister() -> None:
    """Leave on the site only models whose admin takes its rights from the role catalogue."""
    from accounts.admin_base import TenantModelAdmin

    for model, model_admin in list(site._registry.items()):
        if not isinstance(model_admin, TenantModelAdmin):
            site.unregister(model)
