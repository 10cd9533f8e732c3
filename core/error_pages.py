"""Django's own 404 and 500 pages, in the API's error shape under /api/."""

from django.views import defaults

from core.api import json_error


def not_found(request, exception):
    if request.path.startswith("/api/"):
        return json_error(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_error(500, "server_error", "Internal error; it has been logged.")
    return defaults.server_error(request)
