from django.shortcuts import redirect
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from kassa import admin as kassa_admin
from kassa import errors, health, observability


def home(request):
    return redirect("/login/")


urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", observability.metrics_view),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("inventory.urls")),
    path("api/v1/", include("auditlog.urls")),
    path("api/v1/", include("lifecycle.urls")),
    path("api/v1/", include("exports.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("accounts.web_urls")),
    path("pos/", include("pos.urls")),
    path("audit/", include("web.urls")),
    path("admin/", kassa_admin.site.urls),
    path("", home),
]

handler404 = errors.not_found
handler500 = errors.server_error
