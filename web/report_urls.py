from django.urls import path

from web import reports

urlpatterns = [
    path("", reports.report, name="reports"),
    path("tax/", reports.report, {"kind": "tax"}, name="reports-tax-page"),
    path("stock-value/", reports.report, {"kind": "stock-value"}, name="reports-stock-value-page"),
]
