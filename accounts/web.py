"""The web sign-in (password, then the OTP step when needed), sign-out and account pages."""

import base64
import io
from functools import wraps

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import mfa, selectors, services, sessions, tokens
from accounts.apis import me_payload
from accounts.models import PlatformTotpDevice, User
from accounts.policy import policy_for
from accounts.signin import SignInRefused, second_factor_check, signin_check, signin_complete, signin_record
from auditlog.models import SignInEvent
from core.headers import CLEAR_SITE_DATA
from core.net import client_ip

PENDING_OTP = "kassa_pending_otp_user"
SESSION_TENANT = sessions.SESSION_TENANT
PENDING_ENROL = "kassa_pending_enrol_device"


def _home(request) -> str:
    # The platform host has no account pages: its staff work in the admin.
    return "/account/" if getattr(request, "tenant", None) is not None else "/admin/"


def _next_url(request, default: str | None = None) -> str:
    fallback = _home(request) if default is None else default
    target = request.POST.get("next") or request.GET.get("next") or fallback
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=True):
        return target
    return fallback


def tenant_host_only(view):
    """Account pages belong to a tenant's users: on the platform host they do not exist."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if getattr(request, "tenant", None) is None:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def session_begin(request, user: User, second_factor: bool = False) -> None:
    """Sign the browser in as `user`: a new session id, its start and last-seen times, its row."""
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # a new session id
    now = timezone.now()
    request.session["kassa_started"] = now.timestamp()
    request.session["kassa_seen"] = now.timestamp()
    request.session["kassa_second_factor"] = second_factor
    if user.tenant_id is not None:  # so a purge finds the tenant's sessions in Redis
        request.session[SESSION_TENANT] = str(user.tenant_id)
    request.session.save()
    sessions.session_start(
        user=user,
        session_key=request.session.session_key,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def _start_session(request, user: User, password_change_required: bool, second_factor: bool = False):
    session_begin(request, user, second_factor=second_factor)
    if password_change_required:
        return redirect("/account/password/")
    # A tenant's users land where their role says (a `next` page wins); platform staff in the admin.
    home = selectors.home_of(user=user) if getattr(request, "tenant", None) is not None else "/admin/"
    return redirect(_next_url(request, default=home))


def _refusal_message(refusal: SignInRefused) -> str:
    if refusal.code == "locked_out":
        minutes = max(1, round((refusal.retry_after or 60) / 60))
        return _("Too many failed attempts. This account is locked; try again in %(minutes)s minutes.") % {
            "minutes": minutes
        }
    return refusal.detail


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.method == "POST":
        username = request.POST.get("username", "")[:150]
        try:
            signed_in = signin_check(
                request=request,
                username=username,
                password=request.POST.get("password", ""),
                otp=None,
                channel="web",
            )
        except SignInRefused as refusal:
            if refusal.code == "otp_required" and refusal.user is not None:
                request.session.cycle_key()
                request.session[PENDING_OTP] = str(refusal.user.pk)
                if refusal.user.tenant_id is not None:
                    request.session[SESSION_TENANT] = str(refusal.user.tenant_id)
                step = "enrol" if refusal.enrol else "otp"
                return redirect(f"/login/{step}/?next={_next_url(request, default='')}")
            return render(request, "accounts/login.html", {"error": _refusal_message(refusal)}, status=200)
        return _start_session(
            request, signed_in.user, signed_in.password_change_required, signed_in.second_factor
        )
    return render(request, "accounts/login.html", {"next": _next_url(request, default="")})


@require_http_methods(["GET", "POST"])
def login_otp_view(request):
    user = User.objects.filter(pk=request.session.get(PENDING_OTP)).first()
    if user is None:
        return redirect("/login/")
    if request.method == "POST":
        try:
            second_factor_check(
                request=request, user=user, otp=request.POST.get("otp", "")[:32], channel="web"
            )
        except SignInRefused as refusal:
            return render(request, "accounts/login_otp.html", {"error": _refusal_message(refusal)})
        del request.session[PENDING_OTP]
        signed_in = signin_complete(
            request=request, user=user, policy=policy_for(user), channel="web", second_factor=True
        )
        return _start_session(request, user, signed_in.password_change_required, second_factor=True)
    return render(request, "accounts/login_otp.html", {"next": _next_url(request, default="")})


@require_http_methods(["GET", "POST"])
def login_enrol_view(request):
    """Platform staff with no authenticator enrol one before their first session starts."""
    user = User.objects.filter(pk=request.session.get(PENDING_OTP), is_platform_staff=True).first()
    if user is None or mfa.has_device(user):
        return redirect("/login/")
    device = PlatformTotpDevice.objects.filter(
        user=user, pk=request.session.get(PENDING_ENROL), confirmed=False
    ).first()
    if device is None:
        device = mfa.totp_enrol(user=user)
        request.session[PENDING_ENROL] = device.pk
    context = {
        "next": _next_url(request),
        "qr": _qr_data_uri(mfa.totp_uri(device)),
        "secret": mfa.totp_secret_base32(device),
    }
    if request.method == "POST":
        try:
            mfa.totp_confirm(user=user, device_id=device.pk, otp=request.POST.get("otp", "")[:32])
        except mfa.MfaError as error:
            record_failure = {"outcome": SignInEvent.Outcome.FAILURE, "reason": "otp_wrong"}
            signin_record(request=request, username=user.username, channel="web", user=user, **record_failure)
            return render(request, "accounts/login_enrol.html", {**context, "error": str(error)})
        del request.session[PENDING_OTP]
        del request.session[PENDING_ENROL]
        signed_in = signin_complete(
            request=request, user=user, policy=policy_for(user), channel="web", second_factor=True
        )
        return _start_session(request, user, signed_in.password_change_required, second_factor=True)
    return render(request, "accounts/login_enrol.html", context)


@require_POST
def logout_view(request):
    if request.user.is_authenticated:
        sessions.session_end(user=request.user, session_key=request.session.session_key or "")
        signin_record(
            request=request,
            username=request.user.username,
            outcome=SignInEvent.Outcome.SUCCESS,
            channel="web",
            user=request.user,
            kind=SignInEvent.Kind.SIGN_OUT,
        )
    logout(request)
    response = redirect("/login/")
    response["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


@tenant_host_only
@login_required
def account_view(request):
    context = {
        "me": me_payload(request.user),
        "history": selectors.signin_history(user=request.user)[:20],
        "sessions": selectors.sessions_of(user=request.user),
        "current_session": sessions.session_key_hash(request.session.session_key or ""),
        "tokens": selectors.tokens_of(user=request.user).filter(expires_at__gt=timezone.now()),
        "languages": User._meta.get_field("language").choices,
    }
    return render(request, "accounts/account.html", context)


@tenant_host_only
@login_required
@require_http_methods(["GET", "POST"])
def password_change_view(request):
    policy = policy_for(request.user)
    problems = {}
    if request.method == "POST":
        try:
            services.password_change(
                user=request.user,
                current_password=request.POST.get("current_password", ""),
                new_password=request.POST.get("new_password", ""),
                keep_session_key=request.session.session_key or "",
            )
        except services.PolicyViolation as violation:
            problems = violation.problems
        else:
            old_key = request.session.session_key or ""
            update_session_auth_hash(request, request.user)  # keeps this session, with a new id
            sessions.session_rekey(user=request.user, old_key=old_key, new_key=request.session.session_key)
            messages.success(request, _("Your password was changed; your other sessions were signed out."))
            return redirect("/account/")
    return render(request, "accounts/password.html", {"policy": policy, "problems": problems})


def _qr_data_uri(text: str) -> str:
    import qrcode
    import qrcode.image.svg

    buffer = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@tenant_host_only
@login_required
@require_http_methods(["GET", "POST"])
def mfa_view(request):
    context = {"enrolled": mfa.has_device(request.user)}
    if request.method == "POST" and request.POST.get("action") == "start":
        device = mfa.totp_enrol(user=request.user)
        uri = mfa.totp_uri(device)
        context.update(device=device, qr=_qr_data_uri(uri), secret=mfa.totp_secret_base32(device))
    elif request.method == "POST" and request.POST.get("action") == "confirm":
        try:
            codes = mfa.totp_confirm(
                user=request.user,
                device_id=int(request.POST.get("device_id", "0")),
                otp=request.POST.get("otp", ""),
            )
        except (mfa.MfaError, ValueError) as error:
            context["error"] = str(error)
        else:
            context.update(enrolled=True, backup_codes=codes)
    return render(request, "accounts/mfa.html", context)


@tenant_host_only
@login_required
@require_POST
def session_revoke_view(request, session_id):
    if not sessions.session_revoke(user=request.user, session_id=session_id):
        raise Http404
    return redirect("/account/")


@tenant_host_only
@login_required
@require_POST
def token_revoke_view(request, token_id):
    token = selectors.tokens_of(user=request.user).filter(pk=token_id).first()
    if token is None:
        raise Http404
    tokens.token_revoke(token=token)
    messages.success(request, _("The token was revoked."))
    return redirect("/account/")


@tenant_host_only
@login_required
@require_POST
def language_view(request):
    """The user's own choice of language for the web pages (empty: the browser's)."""
    language = request.POST.get("language", "")
    if language not in {code for code, _name in User._meta.get_field("language").choices} | {""}:
        messages.error(request, _("Unknown language."))
        return redirect("/account/")
    request.user.language = language
    request.user.save(update_fields=["language"])
    return redirect("/account/")
