from django.urls import path

from pos import views

urlpatterns = [
    path("", views.store_choose, name="pos-choose"),
    path("<uuid:store_id>/", views.register, name="pos-register"),
    path("<uuid:store_id>/products/", views.product_lookup, name="pos-products"),
    path("<uuid:store_id>/customers/", views.customer_lookup, name="pos-customers"),
    path("<uuid:store_id>/sales/", views.sale_create, name="pos-sale-create"),
    path("<uuid:store_id>/receipts/", views.receipt_find, name="pos-receipt-find"),
    path("<uuid:store_id>/sales/<uuid:sale_id>/", views.receipt, name="pos-receipt"),
    path("<uuid:store_id>/sales/<uuid:sale_id>/refund/", views.sale_refund, name="pos-refund"),
    path("<uuid:store_id>/returns/", views.return_create, name="pos-return"),
    path("<uuid:store_id>/shifts/", views.shift_open, name="pos-shifts"),
    path("<uuid:store_id>/shifts/<uuid:shift_id>/", views.shift_report, name="pos-shift"),
    path("<uuid:store_id>/shifts/<uuid:shift_id>/cash/", views.shift_cash, name="pos-shift-cash"),
    path("<uuid:store_id>/shifts/<uuid:shift_id>/close/", views.shift_close, name="pos-shift-close"),
    path("<uuid:store_id>/session/", views.session_extend, name="pos-session"),
    path("<uuid:store_id>/signin/", views.session_signin, name="pos-signin"),
]
