from django.urls import path

from reports import apis

urlpatterns = [
    path("reports/sales/", apis.SalesReportApi.as_view(), name="reports-sales"),
    path("reports/tax/", apis.TaxReportApi.as_view(), name="reports-tax"),
    path("reports/stock-value/", apis.StockValueReportApi.as_view(), name="reports-stock-value"),
]
