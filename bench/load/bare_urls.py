"""Minimal DRF endpoints on Kassa's tables: the baseline every load figure is divided by.

The tenant is named by the `X-Bench-Tenant` header (its id, no lookup) and selected for the
transaction, which the database requires; nothing else of Kassa's request path runs.
"""

import uuid
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.http import JsonResponse
from django.urls import path
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.models import Payment, Product, ReceiptCounter, Sale, SaleLine, StockLevel, StockMovement
from tenants.context import tenant_context
from tenants.models import Store, Tenant


class ProductOut(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "barcode", "name", "description", "category", "supplier", "price", "cost"]
        fields += ["tax_rate", "active", "created_at", "updated_at"]


class StockOut(serializers.ModelSerializer):
    class Meta:
        model = StockLevel
        fields = ["id", "store", "product", "quantity", "reorder_point", "updated_at"]


class Bare(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def tenant(self, request):
        tenant = Tenant(pk=uuid.UUID(request.headers["X-Bench-Tenant"]))
        return tenant_context(tenant)


class Page(PageNumberPagination):
    page_size = 50


class ProductList(Bare):
    def get(self, request):
        with self.tenant(request):
            paginator = Page()
            page = paginator.paginate_queryset(Product.objects.order_by("sku"), request, view=self)
            return paginator.get_paginated_response(ProductOut(page, many=True).data)


class ProductDetail(Bare):
    def get(self, request, product_id):
        with self.tenant(request):
            return Response(ProductOut(Product.objects.get(pk=product_id)).data)


class StockList(Bare):
    def get(self, request):
        with self.tenant(request):
            paginator = Page()
            levels = StockLevel.objects.filter(store_id=request.query_params["store"]).order_by("product_id")
            page = paginator.paginate_queryset(levels, request, view=self)
            return paginator.get_paginated_response(StockOut(page, many=True).data)


class SaleCreate(Bare):
    """A sale with plain ORM calls: sale, lines, payment, locked stock rows and movements."""

    def post(self, request):
        with self.tenant(request), transaction.atomic():
            store = Store.objects.get(pk=request.data["store"])
            wanted = {line["product"]: int(line["quantity"]) for line in request.data["lines"]}
            products = Product.objects.in_bulk(list(wanted))
            levels = list(
                StockLevel.objects.select_for_update()
                .filter(store=store, product_id__in=list(wanted))
                .order_by("product_id")
            )
            total = sum((p.price * wanted[str(p.pk)] for p in products.values()), Decimal(0))
            ReceiptCounter.objects.filter(store=store).update(last_number=F("last_number") + 1)
            number = ReceiptCounter.objects.filter(store=store).values_list("last_number", flat=True).get()
            sale = Sale.objects.create(
                store=store,
                receipt_number=number,
                currency="EUR",
                subtotal=total,
                tax_total=Decimal(0),
                total=total,
                paid=total,
            )
            SaleLine.objects.bulk_create(
                [
                    SaleLine(
                        tenant_id=store.tenant_id,
                        sale=sale,
                        product=p,
                        sku=p.sku,
                        name=p.name,
                        quantity=wanted[str(p.pk)],
                        unit_price=p.price,
                        tax_rate=p.tax_rate,
                        line_total=p.price * wanted[str(p.pk)],
                        line_tax=Decimal(0),
                    )
                    for p in products.values()
                ]
            )
            Payment.objects.create(sale=sale, method="cash", amount=total)
            for level in levels:
                delta = -wanted[str(level.product_id)]
                StockLevel.objects.filter(pk=level.pk).update(quantity=F("quantity") + delta)
                StockMovement.objects.create(
                    store=store,
                    product_id=level.product_id,
                    kind="sale",
                    quantity=delta,
                    balance_after=level.quantity + delta,
                    sale=sale,
                )
            return Response({"id": str(sale.pk)}, status=201)


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz),
    path("bare/products/", ProductList.as_view()),
    path("bare/products/<uuid:product_id>/", ProductDetail.as_view()),
    path("bare/stock/", StockList.as_view()),
    path("bare/sales/", SaleCreate.as_view()),
]
