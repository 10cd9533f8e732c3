"""Counters in Redis that expire: sign-in failures per IP, alert bursts."""

from django.core.cache import cache


def counter_add(key: str, ttl_seconds: int) -> int:
    """Add one to `key` (created with a time to live) and return the new count, atomically."""
    client = cache._cache.get_client(write=True)
    full_key = cache.make_and_validate_key(key)
    with client.pipeline() as pipe:  # MULTI: create with its expiry if absent, then add
        pipe.set(full_key, 0, ex=ttl_seconds, nx=True)
        pipe.incr(full_key)
        _, count = pipe.execute()
    return int(count)


def counter_get(key: str) -> int:
    client = cache._cache.get_client()
    value = client.get(cache.make_and_validate_key(key))
    return int(value) if value is not None else 0
