"""Requests per API token (or per client IP without one), counted in Redis (the cache).

A sliding-window counter: one pipelined round trip per request (INCR this window's counter,
read the previous one) instead of DRF's read-modify-write of a list of timestamps. The estimate
weighs the previous window by the part of it still inside the sliding window; refused requests
count too, so a client that keeps hammering stays refused.
"""

import math

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from core.net import client_ip


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def get_rate(self):
        return settings.KASSA_API_RATE

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        ident = f"token:{token.pk}" if getattr(token, "pk", None) else f"ip:{client_ip(request)}"
        return f"throttle:{self.scope}:{ident}"

    def allow_request(self, request, view):
        # The rate is read per request (settings may change under test).
        self.num_requests, self.duration = self.parse_rate(self.get_rate())
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        into = (now - window * self.duration) / self.duration
        current = cache.make_and_validate_key(f"{key}:{window}")
        previous = cache.make_and_validate_key(f"{key}:{window - 1}")
        pipe = cache._cache.get_client(current, write=True).pipeline(transaction=False)
        pipe.incr(current)
        pipe.expire(current, self.duration * 2)
        pipe.get(previous)
        count, _, before = pipe.execute()
        estimate = int(before or 0) * (1 - into) + count
        if estimate <= self.num_requests:
            return True
        self._wait = max(1, math.ceil((1 - into) * self.duration))
        return self.throttle_failure()

    def wait(self):
        return getattr(self, "_wait", self.duration)


class TenantRateThrottle(TokenRateThrottle):
    """A limit per tenant for one costly action (a view sets `scope` and the setting's name)."""

    setting = ""

    def get_rate(self):
        return getattr(settings, self.setting)

    def get_cache_key(self, request, view):
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            return None
        return f"throttle:{self.scope}:tenant:{tenant.pk}"


class BackupRequestThrottle(TenantRateThrottle):
    scope = "backup-request"
    setting = "KASSA_BACKUP_REQUEST_RATE"
