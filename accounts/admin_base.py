"""The base of every model admin of the tenant-scoped admin site (kassa.admin.TenantAdminSite).

Rights come from the role catalogue through `accounts.authz.can`, never from Django's own
permissions. Writes go through services: a `ServiceForm` calls its service while the form is
validated, so a refusal (PermissionDenied, ValidationError, a domain error) becomes a form
error, the input is kept, and nothing is written.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect

from accounts import authz
from core.errors import DomainError
from tenants.models import Store


def adopt(obj, saved) -> None:
    """Make the admin's unsaved instance the one the service saved (for its log and redirect)."""
    obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
    obj._state.adding = False


def stores_for(user, permission: str):
    """The stores where `user` holds `permission`, for choices and filters."""
    stores = authz.store_ids(user, permission)
    return Store.objects.all() if stores is authz.ALL_STORES else Store.objects.filter(pk__in=stores)


class ServiceForm(forms.ModelForm):
    """A model form whose validation ends by calling a service; its refusal is a form error.

    Each form defines `run()`, the service call; what it returns is kept in `saved`. The admin
    sets `actor` per request (`ServiceFormAdmin.get_form`).
    """

    actor = None
    saved = None

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            with transaction.atomic():
                self.saved = self.run()
        except PermissionDenied as error:
            self.add_error(None, str(error) or "You may not do this.")
        except ValidationError as error:
            self._add_service_error(error)
        except DomainError as error:
            self.add_error(None, error.detail)

    def _add_service_error(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error.messages)
            return
        for field, problems in error.message_dict.items():
            self.add_error(field if field in self.fields else None, problems)


class SafeChangeList(ChangeList):
    """Django's changelist, with every malformed filter a bad lookup (the list answers `?e=1`):
    a date-hierarchy year too large for a date raises OverflowError, which Django lets through."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except OverflowError as error:
            raise IncorrectLookupParameters(error) from error


class TenantModelAdmin(admin.ModelAdmin):
    """A model admin whose rights come from the role catalogue instead of Django's permissions."""

    view_permission: str = ""
    change_permission: str = ""
    add_permission: str | None = None  # defaults to change_permission
    deletable = False

    def get_changelist(self, request, **kwargs):
        return SafeChangeList

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

    # Django's own admin history (django_admin_log) is not kept: it would hold object names in
    # plain text outside the tenant's rows (no tenant_id, no RLS, not erased or purged with the
    # rest). The change log's triggers record every admin edit with its actor already.
    def log_addition(self, request, obj, message):
        return None

    def log_change(self, request, obj, message):
        return None

    def log_deletion(self, request, obj, object_repr):
        return None

    def log_deletions(self, request, queryset):
        return None

    def history_view(self, request, object_id, extra_context=None):
        """The object's history is the change log's: the /audit/ page of that object."""
        self._object_in_scope_or_404(request, object_id)
        query = urlencode({"model": self.model._meta.label_lower, "object_id": unquote(object_id)})
        return redirect(f"/audit/object/?{query}")


class ServiceFormAdmin(TenantModelAdmin):
    """A model admin whose add and change forms are `ServiceForm`s: saving only adopts the result."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        return form

    def save_model(self, request, obj, form, change):
        adopt(obj, form.saved)

    def save_related(self, request, form, formsets, change):
        pass  # the service saved everything
