"""Requests per API token (or per client IP without one), counted in Redis (the cache).

A sliding-window counter: one round trip per request (`core.cache.cache_round_trip`: INCR this
window's counter, read the previous one) instead of DRF's read-modify-write of a list of
timestamps. The estimate weighs the previous window by the part of it still inside the sliding
window; refused requests count too, so a client that keeps hammering stays refused.

Every API answer carries the budget from that same count (`RateLimit-Limit`, `-Remaining`,
`-Reset`): the throttle leaves it on the request, and `RateLimitHeadersMiddleware` writes it.
An answer made before the throttle ran (a bad token, a missing permission, an unknown path, a
body too large) is counted by the middleware instead, so each request costs one round trip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from core.cache import cache_round_trip
from core.net import client_ip

ATTRIBUTE = "kassa_ratelimit"  # on the Django request: the Budget of this request


@dataclass(frozen=True)
class Budget:
    limit: int
    remaining: int
    reset: int  # seconds until the current window ends
    allowed: bool
    wait: int  # for Retry-After when refused

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _rate() -> tuple[int, int]:
    """KASSA_API_RATE, "N/second|minute|hour|day", as (requests, seconds)."""
    count, period = settings.KASSA_API_RATE.split("/")
    return int(count), PERIODS[period[0]]


def key_for(request) -> str:
    token_id = getattr(getattr(request, "auth", None), "pk", None)
    ident = f"token:{token_id}" if token_id else f"ip:{client_ip(request)}"
    return f"throttle:token:{ident}"


def budget_count(key: str, now: float) -> Budget:
    """Count one request under `key` and answer the budget left (one pipelined round trip)."""
    limit, duration = _rate()
    window = int(now // duration)
    into = (now - window * duration) / duration
    current = cache.make_and_validate_key(f"{key}:{window}")
    previous = cache.make_and_validate_key(f"{key}:{window - 1}")
    count, _, before = cache_round_trip(
        key=current, commands=[("INCR", current), ("EXPIRE", current, duration * 2), ("GET", previous)]
    )
    estimate = int(before or 0) * (1 - into) + count
    left = max(1, math.ceil((1 - into) * duration))
    return Budget(
        limit=limit,
        remaining=max(0, limit - math.ceil(estimate)),
        reset=left,
        allowed=estimate <= limit,
        wait=left,
    )


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def get_rate(self):
        return settings.KASSA_API_RATE

    def get_cache_key(self, request, view):
        return key_for(request)

    def allow_request(self, request, view):
        # The rate is read per request (settings may change under test).
        self.num_requests, self.duration = _rate()
        budget = budget_count(self.get_cache_key(request, view), self.timer())
        setattr(request._request, ATTRIBUTE, budget)
        if budget.allowed:
            return True
        self._wait = budget.wait
        return self.throttle_failure()

    def wait(self):
        return getattr(self, "_wait", self.duration)


class RateLimitHeadersMiddleware:
    """`RateLimit-*` on every answer under /api/, from the throttle's count of this request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/api/"):
            return response
        budget = getattr(request, ATTRIBUTE, None)
        if budget is None:  # answered before the throttle ran: count it here
            import time

            budget = budget_count(key_for(request), time.time())
        for name, value in budget.headers().items():
            response.headers[name] = value
        return response


class TenantRateThrottle(SimpleRateThrottle):
    """A limit per tenant for one costly action (a view sets `scope` and the setting's name).

    DRF's own counting (a list of times in the cache): these actions are rare, and the request's
    RateLimit-* budget stays the token's."""

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


class CertificateClaimThrottle(SimpleRateThrottle):
    """Claims of a purge certificate, per client address (anonymous: the token is the credential).

    DRF's own counting, keyed by the address only (never by the token)."""

    scope = "certificate-claim"

    def get_rate(self):
        return settings.KASSA_CERTIFICATE_CLAIM_RATE

    def get_cache_key(self, request, view):
        return f"throttle:{self.scope}:ip:{client_ip(request)}"
