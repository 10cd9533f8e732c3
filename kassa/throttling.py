"""Requests per API token (or per client IP without one), counted in Redis (the cache)."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from kassa.net import client_ip


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def get_rate(self):
        return settings.KASSA_API_RATE

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        ident = f"token:{token.pk}" if getattr(token, "pk", None) else f"ip:{client_ip(request)}"
        return f"throttle:{self.scope}:{ident}"
