from django.urls import path

from pos import views

urlpatterns = [
    path("", views.store_choose, name="pos-choose"),
    path("<uuid:store_id>/", views.register, name="pos-register"),
    path("<uuid:store_id>/products/", views.product_lookup, name="pos-products"),
    path("<uuid:store_id>/sales/", views.sale_create, name="pos-sale-create"),
    path("<uuid:store_id>/receipts/", views.receipt_find, name="pos-receipt-find"),
    path("<uuid:store_id>/sales/<uuid:sale_id>/", views.receipt, name="pos-receipt"),
    path("<uuid:store_id>/sales/<uuid:sale_id>/refund/", views.sale_refund, name="pos-refund"),
]
