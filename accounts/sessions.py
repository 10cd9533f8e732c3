"""Browser sessions as the server keeps them: one `UserSession` row per signed-in browser.

The session itself lives in Redis (Django's cache backend); the row holds only the SHA-256 of
its key, so sessions can be listed and revoked and a revoked one is refused on its next request
(accounts.middleware). Every write of a session row goes through this module.
"""

from __future__ import annotations

import hashlib

from django.utils import timezone

from accounts.models import ApiToken, User, UserSession
from accounts.permissions import OWNER
from accounts.tokens import tokens_revoke_for_user

# The tenant of a signed-in (or half-signed-in) browser, kept in the session itself so that a
# purge finds the tenant's sessions in Redis by their content (the table holds only key hashes).
SESSION_TENANT = "kassa_tenant"
SESSION_CACHE_PREFIX = "django.contrib.sessions.cache"


def session_key_hash(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


def session_start(*, user: User, session_key: str, ip: str | None, user_agent: str) -> UserSession | None:
    """Record a new signed-in browser session (a tenant user's; platform staff's sessions live in
    Redis only, as the sessions table is a tenant's: they end at sign-out, idle time or lifetime)."""
    if user.tenant_id is None:
        return None
    return UserSession.objects.create(
        user=user, key_hash=session_key_hash(session_key), ip=ip or None, user_agent=user_agent[:300]
    )


def session_rekey(*, user: User, old_key: str, new_key: str) -> None:
    """The same session under a new key (after a password change keeps this browser signed in)."""
    if user.tenant_id is None:
        return
    UserSession.objects.filter(user=user, key_hash=session_key_hash(old_key)).update(
        key_hash=session_key_hash(new_key)
    )


def session_seen(*, session: UserSession, now) -> None:
    UserSession.objects.filter(pk=session.pk).update(last_seen_at=now)


def session_end(*, user: User, session_key: str) -> None:
    """Sign-out: this browser's session ends."""
    if user.tenant_id is None:
        return
    UserSession.objects.filter(user=user, key_hash=session_key_hash(session_key)).update(
        revoked_at=timezone.now()
    )


def session_revoke(*, user: User, session_id) -> bool:
    """The user ends one of their own sessions; False when it is not theirs or does not exist."""
    return bool(UserSession.objects.filter(user=user, pk=session_id).update(revoked_at=timezone.now()))


def sessions_end(
    *, user: User, keep_token: ApiToken | None = None, keep_session_key: str | None = None
) -> None:
    """End every session and token of the user but the ones kept (password change, deactivation)."""
    tokens_revoke_for_user(user=user, keep=keep_token)
    sessions = UserSession.objects.filter(user=user, revoked_at__isnull=True)
    if keep_session_key:
        sessions = sessions.exclude(key_hash=session_key_hash(keep_session_key))
    sessions.update(revoked_at=timezone.now())


def non_owner_credentials_revoke() -> int:
    """End the sessions and tokens of the current tenant's users who are not owners (termination)."""
    now = timezone.now()
    revoked = (
        ApiToken.objects.filter(revoked_at__isnull=True)
        .exclude(user__assignments__role__builtin=OWNER)
        .update(revoked_at=now)
    )
    revoked += (
        UserSession.objects.filter(revoked_at__isnull=True)
        .exclude(user__assignments__role__builtin=OWNER)
        .update(revoked_at=now)
    )
    return revoked


def session_seconds_left(*, session, policy) -> int:
    """Seconds until this browser session ends by itself: idle timeout or absolute lifetime."""
    now = timezone.now().timestamp()
    idle_end = session.get("kassa_seen", 0) + policy.session_idle_seconds
    lifetime_end = session.get("kassa_started", 0) + policy.session_lifetime_seconds
    return max(0, int(min(idle_end, lifetime_end) - now))


def session_touch(*, request) -> None:
    """The user is still here (the register's "stay signed in"): the idle clock starts again."""
    now = timezone.now()
    request.session["kassa_seen"] = now.timestamp()
    UserSession.objects.filter(
        user=request.user, key_hash=session_key_hash(request.session.session_key or "")
    ).update(last_seen_at=now)


def tenant_cache_purge(*, tenant_id, slug: str = "") -> dict[str, int]:
    """Delete the tenant's browser sessions and every cache key naming the tenant from Redis.

    Sessions are found by their content (SESSION_TENANT), cache keys by the tenant id or the
    slug (between colons, so another tenant whose slug contains it is safe) in their name; a SCAN over the cache's own prefix, so other deployments sharing Redis are untouched.
    Safe to run again: what is gone is not found.
    """
    from django.conf import settings
    from django.core.cache import cache

    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    client = cache._cache.get_client(write=True)
    wanted = str(tenant_id)
    sessions_deleted = 0
    for raw in client.scan_iter(f"{prefix}:*:{SESSION_CACHE_PREFIX}*", count=1000):
        name = raw.decode() if isinstance(raw, bytes) else raw
        session_key = name.split(SESSION_CACHE_PREFIX, 1)[1]
        data = cache.get(SESSION_CACHE_PREFIX + session_key)
        if isinstance(data, dict) and data.get(SESSION_TENANT) == wanted:
            sessions_deleted += client.delete(raw)
    keys_deleted = 0
    patterns = [f"{prefix}:*{wanted}*"]
    if slug:
        patterns += [f"{prefix}:*:{slug}:*", f"{prefix}:*:{slug}"]
    for pattern in patterns:
        for raw in client.scan_iter(pattern, count=1000):
            keys_deleted += client.delete(raw)
    return {"sessions": sessions_deleted, "cache_keys": keys_deleted}
