from django.contrib.auth import logout
from django.shortcuts import redirect
from django.utils import timezone

from accounts import authz
from accounts.models import UserSession
from accounts.policy import password_expired, policy_for
from accounts.sessions import session_key_hash, session_seen
from accounts.tokens import last_use_granularity

ALLOWED_BEFORE_PASSWORD_CHANGE = ("/account/password/", "/logout/", "/static/")


class SessionPolicyMiddleware:
    """Browser sessions: revocation, idle timeout and absolute lifetime from the role policy,
    and a forced password change before anything else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path.startswith("/api/"):
            return self.get_response(request)
        now = timezone.now()
        staff = user.tenant_id is None  # platform staff: no session row (a tenant table), Redis only
        record = (
            None
            if staff
            else UserSession.objects.filter(
                user=user, key_hash=session_key_hash(request.session.session_key or "")
            ).first()
        )
        policy = policy_for(user)
        started = request.session.get("kassa_started", 0)
        seen = request.session.get("kassa_seen", 0)
        if (
            (record is None and not staff)
            or user.is_service
            or (staff and not request.session.get("kassa_second_factor"))
            or (record is not None and record.revoked_at is not None)
            or now.timestamp() - seen > policy.session_idle_seconds
            or now.timestamp() - started > policy.session_lifetime_seconds
        ):
            logout(request)
            return redirect(f"/login/?next={request.path}")
        authz.second_factor_set(user, bool(request.session.get("kassa_second_factor")))
        last_seen = record.last_seen_at.timestamp() if record is not None else seen
        if now.timestamp() - last_seen >= last_use_granularity(policy.session_idle_seconds).total_seconds():
            request.session["kassa_seen"] = now.timestamp()
            if record is not None:
                session_seen(session=record, now=now)
        if password_expired(user, policy) and not request.path.startswith(ALLOWED_BEFORE_PASSWORD_CHANGE):
            return redirect("/account/password/")
        return self.get_response(request)
