"""django-axes hooks: lockout per tenant and account, with the threshold of the user's role.

The counter's key is the user's primary key when the username names a user, so every spelling
that signs in as that user (any case; a long s, U+017F, for an s) counts on one counter; for a name that
names nobody it is the name as the database folds it (`upper()`, the same folding as the
lookup), so guessing spellings of an unknown name does not multiply its counters either.
"""

from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.db import connection
from django.db.models import Max, Sum
from django.utils import timezone

from accounts.policy import DEFAULT_POLICY
from tenants.context import current_tenant_id


def _prefix() -> str:
    tenant_id = current_tenant_id()
    return tenant_id.hex if tenant_id else "platform"


def lockout_key_for(*, user=None, username: str = "") -> str:
    """The key of `user`'s counter, or of a name that names no user."""
    if user is not None:
        return f"{_prefix()}:user:{user.pk}"
    from accounts.usernames import username_normalize

    with connection.cursor() as cursor:
        cursor.execute("SELECT upper(%s)", [username_normalize(username)])
        (folded,) = cursor.fetchone()
    return f"{_prefix()}:name:{folded}"[:255]


def lockout_key(request, credentials) -> str:
    """AXES_USERNAME_CALLABLE: the key the sign-in in progress chose (accounts.signin), else the
    key of the user the credentials name."""
    chosen = getattr(request, "kassa_lockout_key", None)
    if chosen:
        return chosen
    from accounts.models import User
    from accounts.usernames import username_normalize

    username = username_normalize((credentials or {}).get("username") or "")
    return lockout_key_for(user=User.objects.filter(username__iexact=username).first(), username=username)


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
