"""django-axes hooks: lockout per tenant and username, with the threshold of the user's role."""

from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.db.models import Max, Sum
from django.utils import timezone

from accounts.policy import DEFAULT_POLICY
from tenants.context import current_tenant_id


def lockout_key(request, credentials) -> str:
    """The lockout counter's key: tenant and username, whatever the case, IP or channel."""
    username = ((credentials or {}).get("username") or "").strip().lower()
    tenant_id = current_tenant_id()
    return f"{tenant_id.hex if tenant_id else 'platform'}:{username}"


def _policy(request):
    return getattr(request, "kassa_signin_policy", None) or DEFAULT_POLICY


def failure_limit(request, credentials) -> int:
    return _policy(request).lockout_threshold


def cooloff(request) -> timedelta:
    return timedelta(seconds=_policy(request).lockout_cooloff_seconds)


def _recent_attempts(key: str, policy):
    since = timezone.now() - timedelta(seconds=policy.lockout_cooloff_seconds)
    # Axes keeps a row per username, address and browser: the account's count is their sum.
    return AccessAttempt.objects.filter(username=key, attempt_time__gte=since)


def retry_after_seconds(key: str, policy) -> int:
    """Seconds until a locked account may try again."""
    latest = _recent_attempts(key, policy).aggregate(latest=Max("attempt_time"))["latest"]
    if latest is None:
        return 0
    until = latest + timedelta(seconds=policy.lockout_cooloff_seconds)
    return max(1, int((until - timezone.now()).total_seconds()))


def is_locked(key: str, policy) -> bool:
    failures = _recent_attempts(key, policy).aggregate(total=Sum("failures_since_start"))["total"] or 0
    return failures >= policy.lockout_threshold


def lockout_clear(key: str) -> int:
    return AxesProxyHandler.reset_attempts(username=key)
