from django.urls import path

from backoffice import apis

urlpatterns = [
    path("purchase-orders/", apis.PurchaseOrderListCreateApi.as_view(), name="purchase-orders"),
    path(
        "purchase-orders/<uuid:order_id>/",
        apis.PurchaseOrderDetailApi.as_view(),
        name="purchase-order-detail",
    ),
    path(
        "purchase-orders/<uuid:order_id>/order/",
        apis.PurchaseOrderOrderApi.as_view(),
        name="purchase-order-order",
    ),
    path(
        "purchase-orders/<uuid:order_id>/cancel/",
        apis.PurchaseOrderCancelApi.as_view(),
        name="purchase-order-cancel",
    ),
    path(
        "purchase-orders/<uuid:order_id>/receive/",
        apis.PurchaseOrderReceiveApi.as_view(),
        name="purchase-order-receive",
    ),
    path("stocktakes/", apis.StocktakeListCreateApi.as_view(), name="stocktakes"),
    path("stocktakes/<uuid:stocktake_id>/", apis.StocktakeDetailApi.as_view(), name="stocktake-detail"),
    path(
        "stocktakes/<uuid:stocktake_id>/counts/", apis.StocktakeCountsApi.as_view(), name="stocktake-counts"
    ),
    path(
        "stocktakes/<uuid:stocktake_id>/finish/", apis.StocktakeFinishApi.as_view(), name="stocktake-finish"
    ),
    path(
        "stocktakes/<uuid:stocktake_id>/cancel/", apis.StocktakeCancelApi.as_view(), name="stocktake-cancel"
    ),
    path("transfers/", apis.TransferListCreateApi.as_view(), name="transfers"),
    path("transfers/<uuid:transfer_id>/", apis.TransferDetailApi.as_view(), name="transfer-detail"),
    path("transfers/<uuid:transfer_id>/receive/", apis.TransferReceiveApi.as_view(), name="transfer-receive"),
    path("reorder/", apis.ReorderApi.as_view(), name="reorder"),
]
