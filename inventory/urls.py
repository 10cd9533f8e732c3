from django.urls import path
from rest_framework.routers import SimpleRouter

from inventory import apis

router = SimpleRouter()
router.register("stores", apis.StoreViewSet, basename="store")
router.register("products", apis.ProductViewSet, basename="product")
router.register("categories", apis.CategoryViewSet, basename="category")
router.register("suppliers", apis.SupplierViewSet, basename="supplier")
router.register("customers", apis.CustomerViewSet, basename="customer")
router.register("stock", apis.StockViewSet, basename="stock")

urlpatterns = [
    path("stock-movements/", apis.StockMovementListCreateApi.as_view(), name="stock-movements"),
    path("sales/", apis.SaleListCreateApi.as_view(), name="sales"),
    path("sales/<uuid:sale_id>/", apis.SaleDetailApi.as_view(), name="sale-detail"),
    path("sales/<uuid:sale_id>/refund/", apis.SaleRefundApi.as_view(), name="sale-refund"),
    path("refunds/", apis.RefundListApi.as_view(), name="refunds"),
    path("products/bulk/", apis.ProductBulkApi.as_view(), name="products-bulk"),
    path("stock-counts/bulk/", apis.StockCountBulkApi.as_view(), name="stock-counts-bulk"),
    path("returns/", apis.ReturnCreateApi.as_view(), name="returns"),
    path("shifts/", apis.ShiftListCreateApi.as_view(), name="shifts"),
    path("shifts/<uuid:shift_id>/", apis.ShiftDetailApi.as_view(), name="shift-detail"),
    path("shifts/<uuid:shift_id>/cash/", apis.ShiftCashApi.as_view(), name="shift-cash"),
    path("shifts/<uuid:shift_id>/close/", apis.ShiftCloseApi.as_view(), name="shift-close"),
    path("shifts/<uuid:shift_id>/report/", apis.ShiftReportApi.as_view(), name="shift-report"),
    path(
        "product-imports/<uuid:import_id>/",
        apis.ProductImportDetailApi.as_view(),
        name="product-import-detail",
    ),
    *router.urls,
]
