"""The drill's shop: tenants with a store, products in stock and cashiers (JSON on stdout).

Run by deploy/ha/drill.py with the drill's environment, through the services like any write.
"""

import json
import os
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402

from accounts.models import Role  # noqa: E402
from accounts.permissions import CASHIER  # noqa: E402
from accounts.services import user_create  # noqa: E402
from inventory.services.catalogue import product_create, store_create  # noqa: E402
from inventory.services.stock import stock_receive  # noqa: E402
from lifecycle.services.onboarding import password_generate, tenant_create  # noqa: E402
from tenants.context import tenant_context  # noqa: E402
from tenants.models import Store  # noqa: E402

TENANTS = int(os.environ.get("DRILL_TENANTS", "3"))
CASHIERS = int(os.environ.get("DRILL_CASHIERS", "2"))
STOCK = 1_000_000
# Rows that make the first tenant's export last long enough to kill its worker in the middle.
EXPORT_BULK_ROWS = int(os.environ.get("DRILL_EXPORT_ROWS", "40000"))


@transaction.atomic
def shop(index: int) -> dict:
    password = password_generate()
    tenant, _ = tenant_create(
        slug=f"drill-{index}",
        name=f"Drill shop {index}",
        region=settings.KASSA_REGION,
        owner_username="owner",
        owner_password=password,
    )
    with tenant_context(tenant):
        store = store_create(actor=None, name="Main", code="MAIN", address="1 Drill Road")
        products = []
        for number in range(1, 6):
            product = product_create(
                actor=None,
                sku=f"D-{number:03d}",
                name=f"Drill item {number}",
                price=Decimal(number) + Decimal("0.50"),
                tax_rate=Decimal("24.00"),
            )
            stock_receive(store=store, product=product, quantity=STOCK, actor=None)
            products.append({"id": str(product.pk), "price": str(product.price)})
        cashiers = []
        role = Role.objects.get(builtin=CASHIER)
        for number in range(1, CASHIERS + 1):
            cashier_password = password_generate()
            user_create(
                username=f"cashier{number}",
                password=cashier_password,
                roles=[role],
                stores=[store],
                must_change_password=False,
            )
            cashiers.append({"username": f"cashier{number}", "password": cashier_password})
        if index == 1 and EXPORT_BULK_ROWS:
            Store.objects.bulk_create(
                [
                    Store(tenant=tenant, name=f"Archive {n}", code=f"A{n}", address="x" * 100, active=False)
                    for n in range(EXPORT_BULK_ROWS)
                ],
                batch_size=5000,
            )
    return {
        "slug": tenant.slug,
        "id": str(tenant.pk),
        "owner": {"username": "owner", "password": password},
        "cashiers": cashiers,
        "store": str(store.pk),
        "products": products,
        "stock": STOCK,
    }


print(json.dumps([shop(index) for index in range(1, TENANTS + 1)]))
