"""Security headers on every response: a strict Content-Security-Policy and its companions.

Pages load nothing from outside the project: scripts, styles and images come from 'self'
(images also as data: URIs, for the QR code). No inline script or style is allowed.
"""

from django.conf import settings

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Sent with a sign-out (web and API): the browser drops what it cached and stored for the site.
CLEAR_SITE_DATA = '"cache", "storage"'
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def carries_credentials(request) -> bool:
    """The request came with a credential (a bearer token or a session cookie) or signed in on the
    way: its answer may hold what only that user may see. No query: headers, cookies and what
    the request already knows."""
    if request.META.get("HTTP_AUTHORIZATION") or settings.SESSION_COOKIE_NAME in request.COOKIES:
        return True
    user = request.__dict__.get("user")  # set by AuthenticationMiddleware (lazily) or login()
    wrapped = getattr(user, "_wrapped", user)  # an unevaluated SimpleLazyObject holds a sentinel
    return getattr(wrapped, "is_authenticated", False) is True


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")  # also on answers made before Django's
        if carries_credentials(request):
            # Pages, API answers, downloads and streamed CSVs of a signed-in user: never cached
            # by the browser or a proxy (a shared computer's back button, a disk cache).
            if "no-store" not in response.headers.get("Cache-Control", ""):
                response.headers["Cache-Control"] = "no-store"
        elif request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
