"""Two middleware stacks in one process: the whole stack for browsers, a shorter one for API
requests with a bearer token.

A bearer-token API request carries its credential in a header, never in a cookie: sessions,
CSRF, messages, the signed-in user's language and session policy, clickjacking headers and
static files have nothing to do for it, yet each layer costs a call, a wrapper and work on
every request. `KassaWSGIHandler` loads the stack twice, the second time without
`settings.KASSA_BROWSER_ONLY_MIDDLEWARE`, and sends each request to one of them:

- the API stack: a path under /api/ and an `Authorization: Bearer …` header (DRF's bearer
  authentication then reads the token fresh, or refuses the request);
- the whole stack: everything else — pages, the admin, sign-in, and API requests that come
  with a session cookie and no bearer token (DRF's session authentication, which enforces
  CSRF itself, needs the session and authentication layers).

Everything else (audit, security headers, rate-limit headers, metrics, tenant, body limits,
locale, common) runs in both, in the same order.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIHandler


def bearer_api(request) -> bool:
    """An API request with a bearer token (the API stack serves it)."""
    return request.path_info.startswith("/api/") and (
        request.META.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
    )


def api_middleware() -> list[str]:
    skipped = set(settings.KASSA_BROWSER_ONLY_MIDDLEWARE)
    return [path for path in settings.MIDDLEWARE if path not in skipped]


class _ApiStack(BaseHandler):
    def load_middleware(self, is_async=False):
        # BaseHandler reads the list from settings: it is swapped only while this stack loads
        # (once, when the process starts, before any request).
        whole = settings.MIDDLEWARE
        settings.MIDDLEWARE = api_middleware()
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = whole


class KassaWSGIHandler(WSGIHandler):
    """Django's WSGI handler, with bearer API requests sent through the API stack."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_stack = _ApiStack()
        self.api_stack.load_middleware()

    def get_response(self, request):
        if bearer_api(request):
            return self.api_stack.get_response(request)
        return BaseHandler.get_response(self, request)  # the whole stack (also for the tests' client)


def get_wsgi_application() -> KassaWSGIHandler:
    import django

    django.setup(set_prefix=False)
    return KassaWSGIHandler()
