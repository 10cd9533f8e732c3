"""Backups and restore drills in the tenant admin: see them, and back up now; the chain's end
(termination) for its owners at /admin/lifecycle/termination/."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_lazy

from accounts import authz, lockout, mfa
from accounts.admin_base import TenantModelAdmin
from accounts.permissions import EXPORT, MANAGE_SETTINGS
from accounts.policy import policy_for
from accounts.signin import SignInRefused, second_factor_check
from auditlog.models import SignInEvent
from core.errors import DomainError
from lifecycle.models import Backup, RestoreDrill
from lifecycle.selectors import chain_owner
from lifecycle.services import claims
from lifecycle.services.backups import backup_request
from lifecycle.services.purge import termination_request, termination_status
from tenants.models import Tenant


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


# --- the chain's end, for its owners ------------------------------------------------------


class TerminationForm(forms.Form):
    """Typing the chain's slug and a fresh one-time code, then `termination_request` (the API's
    one write path). The slug is checked first, so a typo spends no code; a wrong code counts
    towards the lockout like a wrong password (accounts.signin.second_factor_check)."""

    confirm = forms.CharField(
        label=gettext_lazy("The chain's name as in its address"), max_length=63, strip=True
    )
    otp = forms.CharField(
        label=gettext_lazy("One-time code from your authenticator (or a backup code)"),
        max_length=32,
        strip=True,
        # Never shown back: a code is spent (a backup code) or tried (a wrong one) once.
        widget=forms.PasswordInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args, request, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.request, self.tenant = request, tenant
        self.answer: dict | None = None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data["confirm"] != self.tenant.slug:
            self.add_error("confirm", gettext("Type the chain's name as in its address to confirm."))
            return data
        user = self.request.user
        if not mfa.has_device(user):
            self.add_error("otp", gettext("Enrol an authenticator first (your account's security page)."))
            return data
        if lockout.is_locked(lockout.lockout_key_for(user=user), policy_for(user)):
            self.add_error("otp", gettext("Too many failed attempts; try again later."))
            return data
        try:
            second_factor_check(
                request=self.request,
                user=user,
                otp=data["otp"],
                channel="web",
                kind=SignInEvent.Kind.APPROVAL,
            )
        except SignInRefused:
            self.add_error("otp", gettext("The one-time code is wrong or used."))
            return data
        authz.second_factor_set(user, True)  # a code checked just now, on this request
        try:
            with transaction.atomic():
                self.answer = termination_request(tenant=self.tenant, actor=user, confirm=data["confirm"])
        except PermissionDenied as error:
            self.add_error(None, str(error) or gettext("You may not do this."))
        except ValidationError as error:
            self.add_error("confirm", error.messages)
        except DomainError as error:
            self.add_error(None, error.detail)
        return data


def termination_view(request):
    """The chain's end as its owners see it, and their confirmation (GET and POST).

    Owners only (the built-in owner role, which holds `manage_settings`): anyone else 403. The
    claim token of the purge certificate is shown in the answer to the first confirmation, and
    never again.
    """
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        raise Http404("No such page on the platform host.")
    if not (authz.can(request.user, MANAGE_SETTINGS) and chain_owner(request.user)):
        raise PermissionDenied
    tenant = Tenant.objects.get(pk=tenant.pk)  # its status now, not the host lookup's cached copy
    form = TerminationForm(request.POST or None, request=request, tenant=tenant)
    if request.method == "POST":
        form.is_valid()
    answer = form.answer
    if answer is not None:
        tenant.refresh_from_db()
    status = termination_status(tenant=tenant)
    if answer is not None:
        status = {**status, "status": answer["status"], "purge_due_at": answer["purge_due_at"]}
    context = {
        **admin.site.each_context(request),
        "title": gettext("End the chain's subscription"),
        "termination": status,
        "form": form,
        "confirmed": answer is not None,
        "certificate_token": answer["certificate_token"] if answer else None,
        "claim_header": claims.HEADER,
        "claim_url": _claim_url(request),
        # Asking is for an active chain, or one the operators ended before any owner got a token.
        "can_ask": status["status"] == Tenant.Status.ACTIVE
        or (status["status"] == Tenant.Status.TERMINATED and not status["certificate_claim_issued_at"]),
    }
    return render(request, "admin/lifecycle/termination.html", context, status=200)


def _claim_url(request) -> str:
    """Where the certificate is fetched: the platform host, on the port this request came in on."""
    port = request.get_port()
    host = settings.KASSA_BASE_DOMAIN + ("" if port in ("80", "443") else f":{port}")
    return f"https://{host}/api/v1/purge-certificate/"
