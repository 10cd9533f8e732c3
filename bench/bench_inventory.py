"""Inventory API throughput against a bare DRF endpoint on the same data, in the same run.

A database of its own (created and dropped here) with 100,000 products in one tenant.
Requests run in process through Django's test client (no network, one client at a time):

- Kassa: the real endpoints with every layer — bearer token, per-token throttle (in Redis,
  with a rate too high to refuse), tenant selection and row-level security, the audit
  middleware, idempotency on the sale, permission checks, row locks.
- bare: plain APIViews (no authentication, throttle, audit or idempotency; only Django's
  CommonMiddleware) on a URLconf of their own, reading the same tables with the tenant set
  (which the database requires) and, for the sale, writing the sale, its line, payment,
  movement and stock update with plain ORM calls.

Rounds of both alternate, so drift of the machine affects both alike.
"""

import os
import statistics
import time
import uuid
from decimal import Decimal

PRODUCTS = 100_000
ROUNDS = 5
LIST_REQUESTS = 60
DETAIL_REQUESTS = 120
SALE_REQUESTS = 60

# --- the bare endpoints ---------------------------------------------------------------------


def _bare_urls():
    from django.db import transaction
    from django.db.models import F, Max
    from django.urls import path
    from rest_framework import serializers
    from rest_framework.pagination import PageNumberPagination
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from inventory.models import Payment, Product, Sale, SaleLine, StockLevel, StockMovement
    from tenants.context import tenant_context
    from tenants.models import Store, Tenant

    class ProductOut(serializers.ModelSerializer):
        class Meta:
            model = Product
            fields = ["id", "sku", "barcode", "name", "description", "category", "supplier", "price", "cost"]
            fields += ["tax_rate", "active", "created_at", "updated_at"]

    class Bare(APIView):
        authentication_classes: list = []
        permission_classes = [AllowAny]
        throttle_classes: list = []

        def tenant(self):
            return tenant_context(Tenant.objects.get(slug="bench"))

    class ProductList(Bare):
        def get(self, request):
            with self.tenant():
                paginator = PageNumberPagination()
                paginator.page_size = 50
                page = paginator.paginate_queryset(Product.objects.order_by("sku"), request, view=self)
                return paginator.get_paginated_response(ProductOut(page, many=True).data)

    class ProductDetail(Bare):
        def get(self, request, product_id):
            with self.tenant():
                return Response(ProductOut(Product.objects.get(pk=product_id)).data)

    class SaleCreate(Bare):
        def post(self, request):
            with self.tenant(), transaction.atomic():
                store = Store.objects.get(pk=request.data["store"])
                line = request.data["lines"][0]
                product = Product.objects.get(pk=line["product"])
                quantity = int(line["quantity"])
                total = product.price * quantity
                number = (Sale.objects.filter(store=store).aggregate(n=Max("receipt_number"))["n"] or 0) + 1
                sale = Sale.objects.create(
                    store=store,
                    receipt_number=number,
                    currency="EUR",
                    subtotal=total,
                    tax_total=Decimal(0),
                    total=total,
                    paid=total,
                )
                SaleLine.objects.create(
                    sale=sale,
                    product=product,
                    sku=product.sku,
                    name=product.name,
                    quantity=quantity,
                    unit_price=product.price,
                    tax_rate=product.tax_rate,
                    line_total=total,
                    line_tax=Decimal(0),
                )
                Payment.objects.create(sale=sale, method="cash", amount=total)
                StockLevel.objects.filter(store=store, product=product).update(
                    quantity=F("quantity") - quantity
                )
                StockMovement.objects.create(
                    store=store, product=product, kind="sale", quantity=-quantity, balance_after=0, sale=sale
                )
                return Response({"id": str(sale.pk)}, status=201)

    return [
        path("bare/products/", ProductList.as_view()),
        path("bare/products/<uuid:product_id>/", ProductDetail.as_view()),
        path("bare/sales/", SaleCreate.as_view()),
    ]


urlpatterns: list = []  # filled by main() once Django is set up; the bare URLconf is this module


# --- setup ----------------------------------------------------------------------------------


def _setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    # As the test suite: every role's connection, the requests measured as the application role.
    os.environ.setdefault("KASSA_PROCESS", "manage")
    os.environ.setdefault("KASSA_DB_ACT_AS_APP", "true")
    os.environ["KASSA_TEST_DB_NAME"] = f"bench_kassa_{os.getpid()}"
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # setup speed only
    settings.KASSA_API_RATE = "100000000/minute"  # counted in Redis as usual, never refused
    return setup_databases(verbosity=0, interactive=False, aliases={"owner", "default"})


def _teardown(config):
    from django.db import connections
    from django.test.utils import teardown_databases

    try:
        from auditlog import writer

        writer.close_all()
    except ImportError:
        pass
    connections.close_all()
    teardown_databases(config, verbosity=0)


def _data():
    """The tenant, a store for each side's sales, 100,000 products, stock for the sold ones, and an owner's token."""
    from django.db import connections, transaction

    from accounts.policy import policy_for
    from accounts.tokens import token_issue
    from inventory.models import Product, StockLevel
    from lifecycle.services.onboarding import tenant_create
    from tenants.context import tenant_context
    from tenants.models import Store

    tenant, owner = tenant_create(
        slug="bench",
        name="Bench",
        region="local",
        owner_username="owner",
        owner_password="bench-Password-123",
    )
    began = time.perf_counter()
    with tenant_context(tenant):
        stores = [
            Store.objects.create(name="Kassa sales", code="B1"),
            Store.objects.create(name="Bare sales", code="B2"),
        ]
        with transaction.atomic():
            for start in range(0, PRODUCTS, 10_000):
                Product.objects.bulk_create(
                    [
                        Product(
                            tenant_id=tenant.pk,
                            sku=f"SKU-{i:06d}",
                            barcode=f"{4000000000000 + i}",
                            name=f"Product number {i}",
                            price=Decimal("2.50"),
                            tax_rate=Decimal("7.00"),
                        )
                        for i in range(start, start + 10_000)
                    ]
                )
        sold = list(Product.objects.order_by("sku")[:200])
        StockLevel.objects.bulk_create(
            [
                StockLevel(tenant_id=tenant.pk, store=store, product=p, quantity=1_000_000)
                for store in stores
                for p in sold
            ]
        )
        token = token_issue(user=owner, policy=policy_for(owner))[1]
    with connections["owner"].cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"{PRODUCTS} products in one tenant, made in {time.perf_counter() - began:.1f} s")
    return tenant, stores, sold, token


# --- measuring ------------------------------------------------------------------------------


def _clients(token):
    from django.conf import settings
    from django.test import override_settings
    from rest_framework.test import APIClient

    kassa = APIClient(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert kassa.get("/api/v1/products/", secure=True).status_code == 200
    bare_settings = {"MIDDLEWARE": ["django.middleware.common.CommonMiddleware"], "ROOT_URLCONF": __name__}
    with override_settings(**bare_settings):
        bare = APIClient(HTTP_HOST="127.0.0.1")
        assert bare.get("/bare/products/", secure=True).status_code == 200  # loads its middleware
    assert settings.ROOT_URLCONF == "kassa.urls"
    return kassa, bare, bare_settings


def _run(client, requests, overrides=None) -> float:
    """Seconds taken by `requests`: a list of (method, path, body, headers, expected status)."""
    from django.test import override_settings

    context = override_settings(**overrides) if overrides else None
    if context:
        context.enable()
    try:
        started = time.perf_counter()
        for method, path, body, headers, expected in requests:
            response = getattr(client, method)(path, body, format="json", secure=True, **headers)
            assert response.status_code == expected, (path, response.status_code, response.content[:300])
        return time.perf_counter() - started
    finally:
        if context:
            context.disable()


def _compare(name, kassa, bare, bare_settings, make_requests, count):
    _run(kassa, make_requests("kassa", 10))
    _run(bare, make_requests("bare", 10), bare_settings)
    kassa_times, bare_times = [], []
    for _ in range(ROUNDS):
        kassa_times.append(_run(kassa, make_requests("kassa", count)) / count)
        bare_times.append(_run(bare, make_requests("bare", count), bare_settings) / count)
    kassa_rps, bare_rps = 1 / statistics.median(kassa_times), 1 / statistics.median(bare_times)
    print(
        f"{name}: Kassa {kassa_rps:.0f} req/s, bare DRF {bare_rps:.0f} req/s, "
        f"ratio {kassa_rps / bare_rps:.2f} ({ROUNDS} x {count} requests each)"
    )


def main() -> None:
    config = _setup()
    try:
        urlpatterns[:] = _bare_urls()
        _tenant, stores, sold, token = _data()
        kassa, bare, bare_settings = _clients(token)
        pages = [1, 2, 50, 700, 1999]

        def lists(kind, count):
            base = "/api/v1/products/?page=" if kind == "kassa" else "/bare/products/?page="
            return [("get", f"{base}{pages[i % len(pages)]}", None, {}, 200) for i in range(count)]

        def details(kind, count):
            base = "/api/v1/products/" if kind == "kassa" else "/bare/products/"
            return [("get", f"{base}{sold[i % len(sold)].pk}/", None, {}, 200) for i in range(count)]

        def sales(kind, count):
            path = "/api/v1/sales/" if kind == "kassa" else "/bare/sales/"
            requests = []
            for i in range(count):
                body = {
                    "store": str(stores[0 if kind == "kassa" else 1].pk),
                    "lines": [{"product": str(sold[i % len(sold)].pk), "quantity": 1}],
                    "payments": [{"method": "card", "amount": "2.50"}],
                }
                headers = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())} if kind == "kassa" else {}
                requests.append(("post", path, body, headers, 201))
            return requests

        _compare("product list (page of 50)", kassa, bare, bare_settings, lists, LIST_REQUESTS)
        _compare("product detail", kassa, bare, bare_settings, details, DETAIL_REQUESTS)
        _compare("sale (one line, with Idempotency-Key)", kassa, bare, bare_settings, sales, SALE_REQUESTS)
    finally:
        _teardown(config)


if __name__ == "__main__":
    main()
