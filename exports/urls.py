from django.urls import path, re_path

from exports import apis

urlpatterns = [
    path("exports/", apis.ExportListCreateApi.as_view(), name="exports"),
    re_path(r"^exports/(?P<kind>[a-z]+)\.csv$", apis.EntityCsvApi.as_view(), name="export-entity-csv"),
    path("exports/<uuid:export_id>/", apis.ExportDetailApi.as_view(), name="export-detail"),
    path("exports/<uuid:export_id>/download/", apis.ExportDownloadApi.as_view(), name="export-download"),
    path("customers/<uuid:customer_id>/export/", apis.CustomerExportApi.as_view(), name="customer-export"),
    path("customers/<uuid:customer_id>/erase/", apis.CustomerEraseApi.as_view(), name="customer-erase"),
    path(
        "customer-erasures/<uuid:erasure_id>/",
        apis.CustomerErasureDetailApi.as_view(),
        name="customer-erasure",
    ),
]
