from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import error_pages, health, observability


def home(request):
    return redirect("/login/")


urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", observability.metrics_view),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("inventory.urls")),
    path("api/v1/", include("backoffice.urls")),
    path("api/v1/", include("auditlog.urls")),
    path("api/v1/", include("lifecycle.urls")),
    path("api/v1/", include("exports.urls")),
    path("api/v1/", include("integrations.urls")),
    path("api/v1/", include("reports.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("accounts.web_urls")),
    path("pos/", include("pos.urls")),
    path("audit/", include("web.urls")),
    path("backoffice/", include("web.backoffice_urls")),
    path("reports/", include("web.report_urls")),
    path("admin/", admin.site.urls),
    path("", home),
]

handler404 = error_pages.not_found
handler500 = error_pages.server_error
