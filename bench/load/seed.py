"""The load test's data: 10 tenants x 5 stores, 10,000 products each, users and their tokens.

Each tenant has an owner (the administrator who reads the access log), one cashier per store
(holding the cashier role in that store only) and an integrator. Every store holds stock of the
first STOCKED products, put there by a receive movement, so the stock always equals the ledger.
"""

import time
from decimal import Decimal

TENANTS = 10
STORES = 5
PRODUCTS = 10_000
STOCKED = 100
START_QUANTITY = 1_000_000
PASSWORD = "bench-Password-123"  # nosec B105 - a throwaway database's users


def seed() -> dict:
    from django.db import connections, transaction

    from accounts.models import Role
    from accounts.permissions import CASHIER, INTEGRATOR
    from accounts.services import user_create
    from inventory.models import Product, ReceiptCounter, StockLevel, StockMovement
    from inventory.services.shifts import shift_open
    from lifecycle.services.onboarding import tenant_create
    from tenants.context import tenant_context
    from tenants.models import Store
    from tenants.selectors import tenant_host

    began = time.perf_counter()
    tenants = []
    for t in range(TENANTS):
        slug = f"bench{t:02d}"
        tenant, owner = tenant_create(
            slug=slug, name=f"Bench {t}", region="local", owner_username="owner", owner_password=PASSWORD
        )
        with tenant_context(tenant), transaction.atomic():
            stores = [Store.objects.create(name=f"Store {s}", code=f"S{s}") for s in range(STORES)]
            ReceiptCounter.objects.bulk_create([ReceiptCounter(tenant_id=tenant.pk, store=s) for s in stores])
            Product.objects.bulk_create(
                [
                    Product(
                        tenant_id=tenant.pk,
                        sku=f"SKU-{i:06d}",
                        barcode=f"{4000000000000 + i}",
                        name=f"Product number {i}",
                        price=Decimal("2.50") + Decimal(i % 100) / 10,
                        tax_rate=Decimal("14.00"),
                    )
                    for i in range(PRODUCTS)
                ],
                batch_size=5000,
            )
            stocked = list(Product.objects.order_by("sku").values_list("pk", flat=True)[:STOCKED])
            StockLevel.objects.bulk_create(
                [
                    StockLevel(tenant_id=tenant.pk, store=s, product_id=p, quantity=START_QUANTITY)
                    for s in stores
                    for p in stocked
                ]
            )
            StockMovement.objects.bulk_create(
                [
                    StockMovement(
                        tenant_id=tenant.pk,
                        store=s,
                        product_id=p,
                        kind="receive",
                        quantity=START_QUANTITY,
                        balance_after=START_QUANTITY,
                        reason="bench seed",
                    )
                    for s in stores
                    for p in stocked
                ]
            )
            cashier_role = Role.objects.get(builtin=CASHIER)
            cashiers = [
                user_create(
                    username=f"cashier{s}",
                    password=PASSWORD,
                    roles=[cashier_role],
                    stores=[store],
                    must_change_password=False,
                )
                for s, store in enumerate(stores)
            ]
            for store, cashier in zip(stores, cashiers, strict=True):  # cash sales need an open shift
                shift_open(store=store, register="1", opening_float=Decimal("200.00"), actor=cashier)
            integrator = user_create(
                username="integrator",
                password=PASSWORD,
                roles=[Role.objects.get(builtin=INTEGRATOR)],
                must_change_password=False,
            )

            tenants.append(
                {
                    "id": str(tenant.pk),
                    "slug": slug,
                    "host": tenant_host(slug),
                    "owner": {"id": str(owner.pk)},
                    "integrator": {"id": str(integrator.pk)},
                    "stores": [
                        {"id": str(store.pk), "cashier": {"id": str(c.pk)}}
                        for store, c in zip(stores, cashiers, strict=True)
                    ],
                    "stocked": [str(p) for p in stocked],
                    "products": PRODUCTS,
                }
            )
    with connections["owner"].cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"seeded {TENANTS} tenants x {STORES} stores, {TENANTS * PRODUCTS} products, "
        f"{TENANTS * (STORES + 2)} users in {time.perf_counter() - began:.0f} s"
    )
    return {"tenants": tenants}


def tokens_issue(fixture: dict) -> None:
    """A fresh token for every user of the fixture (tokens of an earlier run may have idled out)."""
    from accounts.models import User
    from accounts.policy import policy_for
    from accounts.tokens import token_issue
    from tenants.context import tenant_context
    from tenants.models import Tenant

    for entry in fixture["tenants"]:
        with tenant_context(Tenant.objects.get(pk=entry["id"])):
            people = [entry["owner"], entry["integrator"], *(s["cashier"] for s in entry["stores"])]
            for person in people:
                user = User.objects.get(pk=person["id"])
                person["token"] = token_issue(user=user, policy=policy_for(user))[1]
