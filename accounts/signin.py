"""Signing in: password, lockout, OTP and password age, with every attempt recorded.

Both the token endpoint and the web sign-in call `signin_check`; they differ only in what
they hand out afterwards (a token or a session).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, user_login_failed
from django.core.cache import cache
from django.utils import timezone

from accounts import lockout, mfa
from accounts.models import User
from accounts.policy import DEFAULT_POLICY, Policy, password_expired, policy_for
from auditlog.models import SignInEvent
from auditlog.services import signin_event_record
from kassa.net import client_ip


class SignInRefused(Exception):
    """The attempt failed; `code` and `status` are the API's answer."""

    def __init__(self, code: str, status: int, detail: str, retry_after: int | None = None, user=None):
        super().__init__(detail)
        self.code, self.status, self.detail, self.retry_after = code, status, detail, retry_after
        self.user = user  # set for otp_required: the password was right


@dataclass
class SignIn:
    user: User
    policy: Policy
    password_change_required: bool


def _ip_counter_key(ip: str) -> str:
    return f"signin-failures-ip:{ip}:{timezone.now():%Y%m%d%H}"


def _ip_failures(ip: str) -> int:
    return cache.get(_ip_counter_key(ip), 0)


def _ip_failure_add(ip: str) -> None:
    key = _ip_counter_key(ip)
    if not cache.add(key, 1, 3600):
        cache.incr(key)


def mfa_needed(user: User, policy: Policy) -> bool:
    """OTP is needed once a device is enrolled, or when the role requires it and the grace ended."""
    if mfa.has_device(user):
        return True
    if not policy.mfa_required:
        return False
    return user.mfa_grace_until is None or user.mfa_grace_until <= timezone.now()


def signin_check(*, request, username: str, password: str, otp: str | None, channel: str) -> SignIn:
    """Check one attempt for a user of the current tenant; raise SignInRefused or return the user."""
    ip = client_ip(request)

    def refuse(outcome, reason, code, status, detail, retry_after=None, user=None):
        signin_event_record(
            request=request, username=username, outcome=outcome, reason=reason, channel=channel, user=user
        )
        raise SignInRefused(code, status, detail, retry_after)

    if _ip_failures(ip) >= settings.KASSA_SIGNIN_FAILURES_PER_IP_HOUR:
        refuse(
            "failure", "ip_throttled", "throttled", 429, "Too many failed sign-ins from this address.", 3600
        )
    known = User.objects.filter(username__iexact=username).first()
    policy = policy_for(known) if known is not None else DEFAULT_POLICY
    request.kassa_signin_policy = policy
    key = lockout.lockout_key(request, {"username": username})
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
    user = authenticate(request, username=username, password=password)
    if user is None:
        _ip_failure_add(ip)
        if lockout.is_locked(key, policy):
            signin_event_record(
                request=request,
                username=username,
                outcome="locked_out",
                reason="locked_out",
                channel=channel,
                user=known,
                kind=SignInEvent.Kind.LOCKOUT,
            )
        reason = "unknown_user" if known is None else "inactive" if not known.is_active else "bad_password"
        refuse("failure", reason, "invalid_credentials", 401, "Wrong username or password.", user=known)
    if mfa_needed(user, policy):
        if not otp:
            signin_event_record(
                request=request,
                username=username,
                outcome="failure",
                reason="otp_missing",
                channel=channel,
                user=user,
            )
            raise SignInRefused("otp_required", 401, "A one-time code is required.", user=user)
        second_factor_check(request=request, user=user, otp=otp, channel=channel)
    return signin_complete(request=request, user=user, policy=policy, channel=channel)


def second_factor_check(*, request, user: User, otp: str, channel: str) -> None:
    """Check a TOTP or backup code; a wrong one counts towards the lockout like a wrong password."""
    if not mfa.otp_verify(user, otp):
        _ip_failure_add(client_ip(request))
        user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)
        signin_event_record(
            request=request,
            username=user.username,
            outcome="failure",
            reason="otp_wrong",
            channel=channel,
            user=user,
        )
        raise SignInRefused("invalid_otp", 401, "The one-time code is wrong or used.")


def signin_complete(*, request, user: User, policy: Policy, channel: str) -> SignIn:
    username = user.username
    key = lockout.lockout_key(request, {"username": username})
    expired = password_expired(user, policy)
    lockout.lockout_clear(key)
    signin_event_record(
        request=request,
        username=username,
        outcome="success",
        reason="password_expired" if expired else "",
        channel=channel,
        user=user,
    )
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return SignIn(user=user, policy=policy, password_change_required=expired)
