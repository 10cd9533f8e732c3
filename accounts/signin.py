"""Signing in: password, lockout, OTP and password age, with every attempt recorded.

Both the token endpoint and the web sign-in call `signin_check`; they differ only in what
they hand out afterwards (a token or a session).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, user_login_failed
from django.utils import timezone

from accounts import lockout, mfa
from accounts.models import User
from accounts.policy import DEFAULT_POLICY, Policy, password_expired, policy_for
from accounts.usernames import username_normalize
from auditlog.models import PlatformEvent, SignInEvent
from auditlog.redact import clean
from auditlog.services import platform_event_record, signin_event_record
from core.alerts import burst_note
from core.counters import counter_add, counter_get
from core.net import client_ip
from core.observability import LOCKOUTS, SIGNIN_FAILURES
from tenants.context import current_tenant_id, get_current_tenant


class SignInRefused(Exception):
    """The attempt failed; `code` and `status` are the API's answer."""

    def __init__(
        self, code: str, status: int, detail: str, retry_after: int | None = None, user=None, enrol=False
    ):
        super().__init__(detail)
        self.code, self.status, self.detail, self.retry_after = code, status, detail, retry_after
        self.user = user  # set for otp_required: the password was right
        self.enrol = enrol  # platform staff with no authenticator yet: enrol before anything else


def signin_record(
    *,
    request,
    username: str,
    outcome: str,
    reason: str = "",
    channel: str,
    user=None,
    kind: str = SignInEvent.Kind.SIGN_IN,
) -> None:
    """Record a sign-in event: a tenant's in its sign-in log; platform staff's (no tenant) in the
    platform log, kind `staff_sign_in`, on the audit connection so a refusal's record stays."""
    if current_tenant_id() is not None:
        signin_event_record(
            request=request,
            username=username,
            outcome=outcome,
            reason=reason,
            channel=channel,
            user=user,
            kind=kind,
        )
        return
    platform_event_record(
        kind=PlatformEvent.Kind.STAFF_SIGN_IN,
        actor=username,
        request_id=getattr(request, "audit_request_id", None),
        detail={
            "event": kind,
            "outcome": outcome,
            "reason": reason,
            "channel": channel,
            "user": str(user.pk) if user is not None else None,
            "ip": client_ip(request) if request is not None else None,
            "host": clean(request.get_host(), 253) if request is not None else "",
        },
    )


@dataclass
class SignIn:
    user: User
    policy: Policy
    password_change_required: bool
    second_factor: bool = False  # a TOTP or backup code was checked in this sign-in


def _ip_counter_key(ip: str) -> str:
    return f"signin-failures-ip:{ip}:{timezone.now():%Y%m%d%H}"


def _ip_failures(ip: str) -> int:
    return counter_get(_ip_counter_key(ip))


def _ip_failure_add(ip: str) -> None:
    counter_add(_ip_counter_key(ip), 3600)


def _tenant_label() -> str:
    tenant = get_current_tenant()
    return tenant.slug if tenant is not None else "platform"


def _failure_noted(channel: str, reason: str) -> None:
    """Metrics, and an alert when one tenant sees a burst of failed sign-ins."""
    SIGNIN_FAILURES.labels(channel, reason).inc()
    burst_note("signin_failures", tenant=_tenant_label(), threshold=settings.KASSA_ALERT_SIGNIN_FAILURES)


def _lockout_noted(channel: str) -> None:
    LOCKOUTS.labels(channel).inc()
    burst_note("lockouts", tenant=_tenant_label(), threshold=settings.KASSA_ALERT_LOCKOUTS)


def mfa_needed(user: User, policy: Policy) -> bool:
    """OTP is needed once a device is enrolled, or when the role requires it and the grace ended;
    platform staff need it always."""
    if user.is_platform_staff or mfa.has_device(user):
        return True
    if not policy.mfa_required:
        return False
    return user.mfa_grace_until is None or user.mfa_grace_until <= timezone.now()


def signin_check(*, request, username: str, password: str, otp: str | None, channel: str) -> SignIn:
    """Check one attempt for a user of the current tenant; raise SignInRefused or return the user."""
    ip = client_ip(request)
    username = username_normalize(username)

    def refuse(outcome, reason, code, status, detail, retry_after=None, user=None):
        signin_record(
            request=request, username=username, outcome=outcome, reason=reason, channel=channel, user=user
        )
        _failure_noted(channel, reason)
        raise SignInRefused(code, status, detail, retry_after)

    if _ip_failures(ip) >= settings.KASSA_SIGNIN_FAILURES_PER_IP_HOUR:
        refuse(
            "failure", "ip_throttled", "throttled", 429, "Too many failed sign-ins from this address.", 3600
        )
    known = User.objects.filter(username__iexact=username).first()
    policy = policy_for(known) if known is not None else DEFAULT_POLICY
    request.kassa_signin_policy = policy
    # One counter per account, whatever spelling found it (axes reads the same key back).
    key = request.kassa_lockout_key = lockout.lockout_key_for(user=known, username=username)
    if lockout.is_locked(key, policy):
        refuse(
            "locked_out",
            "locked_out",
            "locked_out",
            429,
            "Too many failed attempts; try again later.",
            lockout.retry_after_seconds(key, policy),
            known,
        )
    if known is not None and known.is_service:
        # Service users act through keys only: no password, web or API sign-in, answered alike.
        refuse(
            "failure", "service_user", "invalid_credentials", 401, "Wrong username or password.", user=known
        )
    user = authenticate(request, username=username, password=password)
    if user is None:
        _ip_failure_add(ip)
        if lockout.is_locked(key, policy):
            _lockout_noted(channel)
            signin_record(
                request=request,
                username=username,
                outcome=SignInEvent.Outcome.LOCKED_OUT,
                reason="locked_out",
                channel=channel,
                user=known,
                kind=SignInEvent.Kind.LOCKOUT,
            )
        reason = "unknown_user" if known is None else "inactive" if not known.is_active else "bad_password"
        refuse("failure", reason, "invalid_credentials", 401, "Wrong username or password.", user=known)
    # A terminated tenant's grace period is for its owners to export; nobody else signs in.
    if (
        user.tenant is not None
        and user.tenant.status == "terminated"
        and not user.assignments.filter(role__builtin="owner").exists()
    ):
        refuse(
            "failure",
            "tenant_terminated",
            "tenant_terminated",
            403,
            "This chain's subscription has ended.",
            user=user,
        )
    if user.is_platform_staff and not mfa.has_device(user):
        # Platform staff always need TOTP; with none yet, enrolment comes first (web sign-in).
        signin_record(
            request=request,
            username=username,
            outcome=SignInEvent.Outcome.FAILURE,
            reason="otp_enrolment_needed",
            channel=channel,
            user=user,
        )
        raise SignInRefused(
            "otp_required",
            401,
            "Enrol an authenticator first: sign in on the platform host's /login/.",
            user=user,
            enrol=True,
        )
    if mfa_needed(user, policy):
        if not otp:
            signin_record(
                request=request,
                username=username,
                outcome=str(SignInEvent.Outcome.PENDING),  # (a labelled member: str() is its value)
                reason="code_pending",
                channel=channel,
                user=user,
            )
            raise SignInRefused("otp_required", 401, "A one-time code is required.", user=user)
        second_factor_check(request=request, user=user, otp=otp, channel=channel)
        return signin_complete(request=request, user=user, policy=policy, channel=channel, second_factor=True)
    return signin_complete(request=request, user=user, policy=policy, channel=channel)


def second_factor_check(*, request, user: User, otp: str, channel: str) -> None:
    """Check a TOTP or backup code; a wrong one counts towards the lockout like a wrong password."""
    if not mfa.otp_verify(user, otp):
        _ip_failure_add(client_ip(request))
        request.kassa_lockout_key = lockout.lockout_key_for(user=user)
        user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)
        signin_record(
            request=request,
            username=user.username,
            outcome=SignInEvent.Outcome.FAILURE,
            reason="otp_wrong",
            channel=channel,
            user=user,
        )
        _failure_noted(channel, "otp_wrong")
        raise SignInRefused("invalid_otp", 401, "The one-time code is wrong or used.")


def signin_complete(
    *, request, user: User, policy: Policy, channel: str, second_factor: bool = False
) -> SignIn:
    username = user.username
    key = lockout.lockout_key_for(user=user)
    expired = password_expired(user, policy)
    lockout.lockout_clear(key)
    signin_record(
        request=request,
        username=username,
        outcome=SignInEvent.Outcome.SUCCESS,
        reason="password_expired" if expired else "",
        channel=channel,
        user=user,
    )
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return SignIn(user=user, policy=policy, password_change_required=expired, second_factor=second_factor)
