"""Rows appended on the hot path take time-ordered ids (UUIDv7), so each table's primary-key
index takes a new row at one edge instead of on a random page of the whole index (a random id
dirtied one page a row there: 5-7 kB of WAL an insert over millions of rows, bench/RESULTS.md
tenth pass). Two sales through the API, as a register sends them, with a webhook subscribed,
and a refund of one, restocked."""

import uuid
from decimal import Decimal

from auditlog.models import AccessEvent, ApiCall
from idempotency.models import IdempotencyRecord
from integrations.models import Delivery, Event
from inventory.models import Payment, Product, Refund, RefundLine, Sale, SaleLine, StockMovement
from tenants.context import tenant_context
from tests.conftest import HOST_A, HttpsApiClient, token_for, transactional


@transactional
def test_a_sale_and_everything_it_appends_take_time_ordered_ids(cast_a, tenant_a, stores_a):
    from integrations.services import webhook_create
    from inventory.services.catalogue import product_create
    from inventory.services.stock import stock_receive

    owner, store = cast_a["owner"], stores_a[0]
    with tenant_context(tenant_a):
        products = [
            product_create(actor=owner, sku=f"ID-{i}", name=f"Product {i}", price=Decimal("2.50"))
            for i in range(2)
        ]
        for product in products:
            stock_receive(store=store, product=product, quantity=10, actor=owner)
        webhook_create(actor=owner, url="https://hooks.example.com/", events=["sale.created"])
    client = HttpsApiClient(token_for(cast_a["cashier"]), host=HOST_A)
    sold = []
    for _ in range(2):
        body = {
            "store": str(store.pk),
            "lines": [{"product": str(p.pk), "quantity": 1} for p in products],
            "payments": [{"method": "cash", "amount": "100.00"}],
        }
        response = client.post("/api/v1/sales/", body, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
        assert response.status_code == 201, response.content[:300]
        sold.append((uuid.UUID(response.json()["id"]), uuid.UUID(response["X-Request-ID"])))
    refunded = HttpsApiClient(token_for(owner), host=HOST_A).post(
        f"/api/v1/sales/{sold[0][0]}/refund/", {"restock": True}
    )
    assert refunded.status_code == 201, refunded.content[:300]
    with tenant_context(tenant_a):
        sales = [Sale.objects.get(pk=sale_id) for sale_id, _ in sold]
        appended = {
            "sale": [s.pk for s in sales],
            "line": list(SaleLine.objects.filter(sale__in=sales).values_list("pk", flat=True)),
            "payment": list(Payment.objects.filter(sale__in=sales).values_list("pk", flat=True)),
            "movement": list(StockMovement.objects.filter(kind="sale").values_list("pk", flat=True)),
            "event": list(Event.objects.filter(kind="sale.created").values_list("pk", flat=True)),
            "key": list(IdempotencyRecord.objects.values_list("pk", flat=True)),
            "access": [e.request_id for e in AccessEvent.objects.filter(request_id__in=[r for _, r in sold])],
            "api call": [e.request_id for e in ApiCall.objects.filter(request_id__in=[r for _, r in sold])],
            "refund": list(Refund.objects.values_list("pk", flat=True)),
            "refund line": list(RefundLine.objects.values_list("pk", flat=True)),
            "restock": list(StockMovement.objects.filter(kind="refund").values_list("pk", flat=True)),
        }
        catalogue = list(Product.objects.values_list("pk", flat=True))
        assert Delivery.objects.count() == 2
    assert {kind: len(ids) for kind, ids in appended.items()} == {
        "sale": 2,
        "line": 4,
        "payment": 2,
        "movement": 4,
        "event": 2,
        "key": 2,
        "access": 2,
        "api call": 2,
        "refund": 1,
        "refund line": 2,
        "restock": 2,
    }
    assert {kind: {i.version for i in ids} for kind, ids in appended.items()} == {k: {7} for k in appended}
    # The second sale's rows sort after the first's: the same edge of each index.
    first, second = sold
    assert first[0] < second[0] and first[1] < second[1]
    # A product's id is not appended on every sale: it stays random.
    assert {i.version for i in catalogue} == {4}
