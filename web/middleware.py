from django.utils import timezone, translation

from tenants.timezones import zone_of


class UserLanguageMiddleware:
    """A signed-in user's chosen language wins over the browser's (LocaleMiddleware picked that)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


class TenantTimeZoneMiddleware:
    """Pages on a tenant host speak the chain's local time: "today", dates in templates and the
    day filters follow the tenant's time zone (a store's page may use the store's, as receipts
    do). The API keeps its timestamps as they are (ISO 8601 with the offset)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is None or request.path.startswith("/api/"):
            return self.get_response(request)
        timezone.activate(zone_of(tenant))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
