from django.urls import path

from web import backoffice as views

STORE = "<uuid:store_id>/"
ORDER = STORE + "purchase-orders/<uuid:order_id>/"
STOCKTAKE = STORE + "stocktakes/<uuid:stocktake_id>/"
TRANSFER = STORE + "transfers/<uuid:transfer_id>/"

urlpatterns = [
    path("", views.store_choose, name="backoffice-choose"),
    path(STORE, views.store_home, name="backoffice-store"),
    path(STORE + "products/", views.product_lookup, name="backoffice-products"),
    path(STORE + "purchase-orders/new/", views.order_create, name="backoffice-order-create"),
    path(ORDER, views.order_page, name="backoffice-order"),
    path(ORDER + "lines/", views.order_lines_save, name="backoffice-order-lines"),
    path(ORDER + "order/", views.order_order, name="backoffice-order-order"),
    path(ORDER + "cancel/", views.order_cancel, name="backoffice-order-cancel"),
    path(ORDER + "receive/", views.order_receive, name="backoffice-order-receive"),
    path(ORDER + "document.csv", views.order_document, name="backoffice-order-document"),
    path(STORE + "stocktakes/new/", views.stocktake_start, name="backoffice-stocktake-start"),
    path(STOCKTAKE, views.stocktake_page, name="backoffice-stocktake"),
    path(STOCKTAKE + "lines/", views.stocktake_lookup, name="backoffice-stocktake-lookup"),
    path(STOCKTAKE + "counts/", views.stocktake_counts, name="backoffice-stocktake-counts"),
    path(STOCKTAKE + "finish/", views.stocktake_finish, name="backoffice-stocktake-finish"),
    path(STOCKTAKE + "cancel/", views.stocktake_cancel, name="backoffice-stocktake-cancel"),
    path(STOCKTAKE + "report.csv", views.stocktake_report, name="backoffice-stocktake-report"),
    path(STOCKTAKE + "import/", views.stocktake_import, name="backoffice-stocktake-import"),
    path(STORE + "transfers/new/", views.transfer_new, name="backoffice-transfer-new"),
    path(TRANSFER, views.transfer_page, name="backoffice-transfer"),
    path(TRANSFER + "receive/", views.transfer_receive, name="backoffice-transfer-receive"),
    path(STORE + "reorder/", views.reorder_page, name="backoffice-reorder"),
    path(STORE + "sales-today/", views.sales_today, name="backoffice-sales-today"),
]
