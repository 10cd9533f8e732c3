"""Query discipline: no API list or detail endpoint may make more queries for more rows (N+1).

Each list is read at two page sizes over the same rows; the number of statements on the
request's connection must be the same. Details are read for an object with few and one with
many related rows (a sale's lines and payments) and must cost the same, within a small budget.
The access-log write (its own connection) and the tenant's set_config (folded into the
transaction) are not counted here: both are one per request whatever the page size.
"""

from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from tenants.context import tenant_context

ROWS = 12
SMALL, LARGE = 2, 10
DETAIL_BUDGET = 10  # statements, BEGIN and COMMIT included

LISTS = [
    "/api/v1/products/",
    "/api/v1/stores/",
    "/api/v1/customers/",
    "/api/v1/suppliers/",
    "/api/v1/categories/",
    "/api/v1/stock/",
    "/api/v1/stock-movements/",
    "/api/v1/sales/",
    "/api/v1/users/",
    "/api/v1/roles/",
    "/api/v1/audit/access/",
    "/api/v1/audit/logins/",
    "/api/v1/audit/changes/",
    "/api/v1/audit/api-calls/",
    "/api/v1/purchase-orders/",
    "/api/v1/stocktakes/",
    "/api/v1/transfers/",
]


@pytest.fixture
def world(cast_a, tenant_a, stores_a):
    """Rows enough for two page sizes in every list, made through the services."""
    from accounts.permissions import VIEW_PRODUCTS
    from accounts.services import role_create, user_create
    from auditlog.models import SignInEvent
    from inventory.models import Category
    from inventory.services.catalogue import product_create, store_create, supplier_create
    from inventory.services.customers import customer_create
    from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
    from inventory.services.stock import stock_receive

    owner = cast_a["owner"]
    with tenant_context(tenant_a):
        stores = [*stores_a] + [store_create(actor=owner, name=f"Store {i}") for i in range(ROWS)]
        products = [
            product_create(actor=owner, sku=f"SKU-{i}", name=f"Product {i}", price=Decimal("3.00"))
            for i in range(ROWS)
        ]
        suppliers = []
        for i in range(ROWS):
            suppliers.append(supplier_create(actor=owner, name=f"Supplier {i}"))
            Category.objects.create(name=f"Category {i}")
            customer_create(actor=owner, name=f"Customer {i}", email=f"c{i}@example.com")
            user_create(username=f"user{i}", password="correct-horse-battery-7", must_change_password=False)
            role_create(actor=owner, name=f"Role {i}", permissions=[VIEW_PRODUCTS])
            stock_receive(store=stores[0], product=products[i], quantity=100, actor=owner)
        sales = [
            sale_create(
                store=stores[0],
                lines=[SaleLineInput(product=p, quantity=1) for p in products[: 1 + i % 6]],
                payments=[PaymentInput(method="card", amount=Decimal("3.00") * (1 + i % 6))],
                actor=owner,
            )
            for i in range(ROWS)
        ]
        SignInEvent.objects.bulk_create(
            [
                SignInEvent(
                    tenant_id=tenant_a.pk,
                    username="alice",
                    user_id=owner.pk,
                    outcome=SignInEvent.Outcome.values[0],
                )
                for _ in range(ROWS)
            ]
        )
        back_office = _back_office(owner, stores, products, suppliers[0])
    return {"owner": owner, "stores": stores, "products": products, "sales": sales, **back_office}


def _back_office(owner, stores, products, supplier) -> dict:
    """Purchase orders, transfers and stocktakes of 1 to 6 lines each."""
    from backoffice.services.purchasing import OrderLineInput, purchase_order_create
    from backoffice.services.stocktakes import stocktake_start
    from backoffice.services.transfers import TransferLineInput, transfer_send

    def some(i):
        return products[: 1 + i % 6]

    return {
        "purchase-orders": [
            purchase_order_create(
                supplier=supplier,
                store=stores[0],
                lines=[OrderLineInput(product=p, quantity=2) for p in some(i)],
                actor=owner,
            )
            for i in range(ROWS)
        ],
        "transfers": [
            transfer_send(
                from_store=stores[0],
                to_store=stores[1],
                lines=[TransferLineInput(product=p, quantity=1) for p in some(i)],
                actor=owner,
            )
            for i in range(ROWS)
        ],
        "stocktakes": [
            stocktake_start(store=stores[2 + i], products=some(i), actor=owner) for i in range(ROWS)
        ],
    }


def _count(client, path) -> int:
    with CaptureQueriesContext(connections["default"]) as captured:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    return len(captured.captured_queries)


def test_list_queries_do_not_grow_with_the_page_size(api, world):
    client = api(world["owner"])
    for _ in range(ROWS):  # access-log and API-call rows enough for the larger page
        client.get("/api/v1/me/")
    counts = {}
    for path in LISTS:
        client.get(f"{path}?page_size={SMALL}")  # warm: the token's last-use write, caches
        small = _count(client, f"{path}?page_size={SMALL}")
        large = _count(client, f"{path}?page_size={LARGE}")
        rows = len(client.get(f"{path}?page_size={LARGE}").json()["results"])
        assert rows == LARGE, (path, rows)
        counts[path] = (small, large)
    print("list queries (page of 2, page of 10):", counts)
    grew = {path: c for path, c in counts.items() if c[1] != c[0]}
    assert not grew, f"queries grow with the page size (N+1): {grew}"


def test_detail_queries_are_few_and_fixed(api, world):
    from accounts.models import Role, User
    from inventory.models import Category, Customer, StockLevel, Supplier

    client = api(world["owner"])
    client.get("/api/v1/me/")
    tenant = world["owner"].tenant
    with tenant_context(tenant):
        ids = {
            "products": [p.pk for p in world["products"][:2]],
            "stores": [s.pk for s in world["stores"][:2]],
            "customers": list(Customer.objects.values_list("pk", flat=True)[:2]),
            "suppliers": list(Supplier.objects.values_list("pk", flat=True)[:2]),
            "categories": list(Category.objects.values_list("pk", flat=True)[:2]),
            "stock": list(StockLevel.objects.values_list("pk", flat=True)[:2]),
            # a sale with one line and one with six
            "sales": [world["sales"][0].pk, world["sales"][5].pk],
            "users": list(User.objects.values_list("pk", flat=True)[:2]),
            "roles": list(Role.objects.values_list("pk", flat=True)[:2]),
            # one line and six
            **{
                name: [world[name][0].pk, world[name][5].pk]
                for name in ("purchase-orders", "transfers", "stocktakes")
            },
        }
    counts = {}
    for name, (first, second) in ids.items():
        client.get(f"/api/v1/{name}/{first}/")
        counts[name] = (
            _count(client, f"/api/v1/{name}/{first}/"),
            _count(client, f"/api/v1/{name}/{second}/"),
        )
    print("detail queries:", counts)
    differ = {name: c for name, c in counts.items() if c[0] != c[1]}
    assert not differ, f"detail queries depend on the object's related rows: {differ}"
    over = {name: c for name, c in counts.items() if c[0] > DETAIL_BUDGET}
    assert not over, f"detail requests over {DETAIL_BUDGET} statements: {over}"
