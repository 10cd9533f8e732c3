"""Users and roles in the tenant-scoped admin (the access logs: auditlog.admin).

Every change calls the same service as the API (accounts.services) with the signed-in user as
the actor, so the escalation rules hold here too: nobody grants what they do not hold, and a
store-scoped administrator acts only in their stores. The service runs while the form is
validated (`ServiceForm.run`), so a refusal (PermissionDenied, ValidationError) becomes a form
error and nothing is written; the admin view then only records what the service saved.

No field shows or takes a password hash: a new user's first password is typed on the add form,
later ones through "Reset password" (`password_reset`), always to be changed at first use.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from accounts import selectors, services
from accounts.admin_base import ServiceForm, TenantModelAdmin, adopt, stores_for
from accounts.models import ApiToken, IntegratorKey, Role, User
from accounts.permissions import (
    CATALOGUE,
    MANAGE_ROLES,
    MANAGE_USERS,
    PERMISSION_CHOICES,
)
from accounts.policy import CHARACTER_CLASSES, role_policy_defaults
from core.errors import DomainError
from tenants.models import Store

# --- users --------------------------------------------------------------------------------


class UserForm(ServiceForm):
    roles = forms.ModelMultipleChoiceField(
        queryset=Role.unscoped.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    stores = forms.ModelMultipleChoiceField(
        queryset=Store.unscoped.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: every store (only for those who administer every store).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].queryset = Role.objects.all()
        self.fields["stores"].queryset = stores_for(self.actor, MANAGE_USERS)


class UserAddForm(UserForm):
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        required=False,
        help_text="A first password; the user must change it at first sign-in. None for a service user.",
    )
    is_service = forms.BooleanField(
        required=False,
        label="Service user",
        help_text="No password and no sign-in: it acts only through integrator keys (set now, never changed).",
    )

    class Meta:
        model = User
        fields = ["username", "full_name", "email"]

    def run(self):
        data = self.cleaned_data
        return services.user_create(
            actor=self.actor,
            username=data["username"],
            password=data.get("password") or None,
            roles=list(data["roles"]),
            stores=list(data["stores"]),
            full_name=data.get("full_name") or "",
            email=data.get("email") or "",
            must_change_password=True,
            is_service=bool(data.get("is_service")),
        )


class UserChangeForm(UserForm):
    class Meta:
        model = User
        fields = ["full_name", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assignments = list(self.instance.assignments.all()) if self.instance.pk else []
        self.current_roles = {a.role_id for a in assignments}
        self.current_stores = {a.store_id for a in assignments if a.store_id}
        self.initial.setdefault("roles", sorted(self.current_roles))
        self.initial.setdefault("stores", sorted(self.current_stores))

    def run(self):
        data = self.cleaned_data
        changes = {name: data[name] or "" for name in ("full_name", "email") if name in self.changed_data}
        roles, stores = list(data["roles"]), list(data["stores"])
        if {r.pk for r in roles} != self.current_roles:
            changes["roles"] = roles
        if {s.pk for s in stores} != self.current_stores:
            changes["stores"] = stores
        user = User.objects.get(pk=self.instance.pk)  # as stored, not as the form changed it
        return services.user_update(user=user, actor=self.actor, **changes)


class PasswordResetForm(forms.Form):
    new_password = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False)
    again = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False)

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("again") != data["new_password"]:
            self.add_error("again", "The two passwords differ.")
        return data


@admin.register(User)
class UserAdmin(TenantModelAdmin):
    view_permission = MANAGE_USERS
    change_permission = MANAGE_USERS
    list_display = [
        "username",
        "full_name",
        "is_active",
        "is_service",
        "role_names",
        "store_names",
        "last_login",
    ]
    list_filter = ["is_active", "is_service"]
    search_fields = ["username"]
    ordering = ["username"]
    actions = ["deactivate", "unlock", "reset_mfa", "reactivate"]
    readonly_fields = [
        "username",
        "is_active",
        "is_service",
        "must_change_password",
        "last_login",
        "date_joined",
        "reactivated_at",
        "reset",
    ]

    def get_queryset(self, request):
        return selectors.users_visible_to(actor=request.user).prefetch_related(
            "assignments__role", "assignments__store"
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (
                    None,
                    {
                        "fields": [
                            "username",
                            "password",
                            "is_service",
                            "full_name",
                            "email",
                            "roles",
                            "stores",
                        ]
                    },
                )
            ]
        return [
            (None, {"fields": ["username", "full_name", "email", "roles", "stores"]}),
            (
                "Account",
                {
                    "fields": [
                        "is_active",
                        "is_service",
                        "must_change_password",
                        "last_login",
                        "date_joined",
                        "reactivated_at",
                        "reset",
                    ]
                },
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = UserChangeForm if obj is not None else UserAddForm
        kwargs["form"] = type(base.__name__, (base,), {"actor": request.user})
        kwargs["fields"] = base._meta.fields  # the declared fields (password, roles, stores) come along
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        adopt(obj, form.saved)  # the service saved it while the form was validated

    def save_related(self, request, form, formsets, change):
        pass  # roles and stores were assigned by the service

    def has_delete_permission(self, request, obj=None):
        return False  # users are deactivated, never deleted

    @admin.display(description="roles")
    def role_names(self, user):
        return ", ".join(sorted({a.role.name for a in user.assignments.all()}))

    @admin.display(description="stores")
    def store_names(self, user):
        assignments = list(user.assignments.all())
        if any(a.store_id is None for a in assignments):
            return "every store" if assignments else ""
        return ", ".join(sorted({a.store.name for a in assignments}))

    @admin.display(description="password")
    def reset(self, user):
        url = reverse("admin:accounts_user_password_reset", args=[user.pk])
        return format_html('<a href="{}">Reset the password</a>', url)

    def _each(self, request, queryset, service, done: str):
        count = 0
        for user in queryset:
            try:
                with transaction.atomic():
                    service(user=user, actor=request.user)
                count += 1
            except (PermissionDenied, ValidationError, DomainError) as error:
                self.message_user(request, f"{user.username}: {_reason(error)}", messages.WARNING)
        self.message_user(request, f"{count} users {done}.")

    @admin.action(
        description="Deactivate the selected users (ends their sessions and tokens)", permissions=["change"]
    )
    def deactivate(self, request, queryset):
        self._each(request, queryset, services.user_deactivate, "deactivated")

    @admin.action(description="Unlock the selected users", permissions=["change"])
    def unlock(self, request, queryset):
        def unlock_one(*, user, actor):
            return services.user_unlock(user=user, actor=actor, request=request)

        self._each(request, queryset, unlock_one, "unlocked")

    @admin.action(
        description="Reset the MFA of the selected users (removes their authenticators; ends their sessions)",
        permissions=["change"],
    )
    def reset_mfa(self, request, queryset):
        def reset_one(*, user, actor):
            return services.user_mfa_reset(user=user, actor=actor, request=request)

        return confirmed(
            self,
            request,
            queryset,
            action="reset_mfa",
            title=_("Reset the MFA of these users?"),
            explanation=_(
                "Their authenticators and backup codes are removed and every session and token of "
                "theirs ends. They sign in with their password and enrol a new authenticator within "
                "the enrolment grace period. This is logged, also for the platform."
            ),
            run=lambda: self._each(request, queryset, reset_one, "had their MFA reset"),
        )

    @admin.action(
        description="Reactivate the selected users (the password must be changed)", permissions=["change"]
    )
    def reactivate(self, request, queryset):
        def reactivate_one(*, user, actor):
            return services.user_reactivate(user=user, actor=actor, request=request)

        return confirmed(
            self,
            request,
            queryset,
            action="reactivate",
            title=_("Reactivate these users?"),
            explanation=_(
                "They can sign in again and must change their password at first use; service users "
                "need a new key. This is logged."
            ),
            run=lambda: self._each(request, queryset, reactivate_one, "reactivated"),
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/password/",
                self.admin_site.admin_view(self.password_reset_view),
                name="accounts_user_password_reset",
            ),
            *super().get_urls(),
        ]

    def password_reset_view(self, request, object_id):
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404("No such object.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        form = PasswordResetForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.password_reset(
                    user=user, actor=request.user, new_password=form.cleaned_data["new_password"]
                )
            except PermissionDenied as error:
                form.add_error(None, str(error))
            except ValidationError as error:
                form.add_error("new_password", error.messages)
            else:
                self.log_change(request, user, "Reset the password.")
                self.message_user(
                    request, f"The password of {user.username} was reset; it must be changed at first use."
                )
                return redirect(reverse("admin:accounts_user_change", args=[user.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": user,
            "title": f"Reset the password of {user.username}",
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/user/password_reset.html", context)


def _reason(error) -> str:
    if isinstance(error, DomainError):
        return error.detail
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or "You may not do this."


def confirmed(model_admin, request, queryset, *, action: str, title: str, explanation: str, run):
    """An admin action that asks first: the confirmation page lists the selected objects, and
    only its POST with `confirmed` runs the action (then the list shows what happened)."""
    if request.POST.get("confirmed") == "yes":
        run()
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "explanation": explanation,
        "objects": list(queryset),
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/accounts/confirm_action.html", context)


# --- integrator keys ----------------------------------------------------------------------


@admin.register(IntegratorKey)
class IntegratorKeyAdmin(TenantModelAdmin):
    """Integrator keys of the users one manages: listed (never the secret or its hash), revoked.
    New keys and rotation are the API's (`POST /api/v1/users/{id}/keys/`, `/keys/{id}/rotate/`)."""

    view_permission = MANAGE_USERS
    change_permission = ""  # read-only; the one write is the revoke action
    list_display = [
        "name",
        "prefix",
        "user",
        "scope_list",
        "created_at",
        "expires_at",
        "last_used_at",
        "status",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), ("rotated_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    ordering = ["-created_at"]
    actions = ["revoke"]
    fields = [
        "name",
        "prefix",
        "user",
        "scopes",
        "allowed_ips",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "rotated_at",
        "expiry_warned_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            IntegratorKey.objects.filter(
                kind=ApiToken.Kind.INTEGRATOR,
                user__in=selectors.users_visible_to(actor=request.user).values("pk"),
            )
            .select_related("user")
            .order_by("-created_at")
        )

    def has_revoke_permission(self, request):
        return self._can(request, MANAGE_USERS)

    @admin.display(description="scopes")
    def scope_list(self, key):
        return ", ".join(key.scopes)

    @admin.display(description="status")
    def status(self, key):
        now = timezone.now()
        if key.revoked_at is not None:
            return _("revoked")
        if key.expires_at <= now:
            return _("expired")
        if key.rotated_at is not None:
            return _("rotated, works until expiry")
        return _("live")

    @admin.action(description="Revoke the selected keys (they stop working at once)", permissions=["revoke"])
    def revoke(self, request, queryset):
        def revoke_all():
            count = 0
            for key in queryset.filter(revoked_at__isnull=True):
                try:
                    services.key_revoke(key=key, actor=request.user)
                    count += 1
                except (PermissionDenied, DomainError) as error:
                    self.message_user(request, f"{key.prefix}: {_reason(error)}", messages.WARNING)
            self.message_user(request, f"{count} keys revoked.")

        return confirmed(
            self,
            request,
            queryset,
            action="revoke",
            title=_("Revoke these keys?"),
            explanation=_("Every integration using them stops working at once. This cannot be undone."),
            run=revoke_all,
        )


# --- roles --------------------------------------------------------------------------------


POLICY_FIELDS = list(services.ROLE_POLICY_FIELDS)


class RoleForm(ServiceForm):
    permissions = forms.MultipleChoiceField(
        choices=[(p, f"{p}: {CATALOGUE[p]}") for p in PERMISSION_CHOICES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    password_require_classes = forms.MultipleChoiceField(
        choices=[(name, label) for name, (label, _) in CHARACTER_CLASSES.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Role
        fields = ["name", "permissions", *POLICY_FIELDS]

    def run(self):
        data = self.cleaned_data
        policy = {name: data[name] for name in POLICY_FIELDS}
        if self.instance._state.adding:  # (its id has a default: pk is never None)
            return services.role_create(
                actor=self.actor, name=data["name"], permissions=data["permissions"], **policy
            )
        changes = {name: data[name] for name in self.changed_data if name in self.fields}
        role = Role.objects.get(pk=self.instance.pk)  # as stored, not as the form changed it
        return services.role_update(role=role, actor=self.actor, **changes)


@admin.register(Role)
class RoleAdmin(TenantModelAdmin):
    view_permission = MANAGE_ROLES
    change_permission = MANAGE_ROLES
    list_display = ["name", "builtin", "permission_count", "mfa_required", "password_min_length"]
    search_fields = ["name"]
    readonly_fields = ["builtin"]
    fieldsets = [
        (None, {"fields": ["name", "builtin", "permissions"]}),
        ("Password", {"fields": POLICY_FIELDS[:4]}),
        ("Lockout, MFA, sessions and tokens", {"fields": POLICY_FIELDS[4:]}),
    ]

    def get_changeform_initial_data(self, request):
        return {**role_policy_defaults(mfa_required=False), **super().get_changeform_initial_data(request)}

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = type(RoleForm.__name__, (RoleForm,), {"actor": request.user})
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        adopt(obj, form.saved)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="permissions")
    def permission_count(self, role):
        return len(role.permissions)
