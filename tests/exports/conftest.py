import io
import zipfile
from decimal import Decimal

import pytest

from tenants.context import tenant_context

CUSTOMER = {"name": "Zelda Quartermaine", "email": "zelda.q@example.org", "phone": "+49 170 5551234"}


@pytest.fixture
def shop_a(cast_a, stores_a, api):
    """Alice's chain with a catalogue, stock, a customer who bought twice, a supplier and a refund."""
    owner = cast_a["owner"]
    client = api(owner)
    store = stores_a[0]
    supplier = client.post("/api/v1/suppliers/", {"name": "Acme", "email": "sales@acme.test"}).json()
    products = []
    for i in range(3):
        answer = client.post(
            "/api/v1/products/",
            {
                "sku": f"SKU-{i}",
                "name": f"=cmd|' /C calc'!A{i}" if i == 0 else f"Product {i}",
                "price": "9.99",
                "tax_rate": "19.00",
                "supplier": supplier["id"],
            },
        )
        assert answer.status_code == 201, answer.content
        products.append(answer.json())
        assert (
            client.post(
                "/api/v1/stock-movements/",
                {
                    "store": str(store.pk),
                    "product": products[-1]["id"],
                    "kind": "receive",
                    "quantity": 50,
                    "reason": "delivery",
                },
            ).status_code
            == 201
        )
    customer = client.post("/api/v1/customers/", CUSTOMER)
    assert customer.status_code == 201, customer.content
    customer = customer.json()
    sales = []
    for quantity in (1, 2):
        sale = client.post(
            "/api/v1/sales/",
            {
                "store": str(store.pk),
                "lines": [{"product": products[1]["id"], "quantity": quantity}],
                "payments": [{"method": "cash", "amount": str(Decimal("9.99") * quantity)}],
                "customer": customer["id"],
            },
        )
        assert sale.status_code == 201, sale.content
        sales.append(sale.json())
    # The customer is searched by e-mail, so the address reaches the access and API-call logs.
    assert client.get("/api/v1/customers/", {"email": CUSTOMER["email"]}).status_code == 200
    return {"client": client, "store": store, "products": products, "customer": customer, "sales": sales}


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def run_export(tenant, user, kind="full"):
    from exports import services
    from exports.models import Export

    with tenant_context(tenant):
        export = Export.objects.create(kind=kind, requested_by=user)
    return services.export_run(tenant=tenant, export_id=export.pk)


def export_bytes(tenant, export) -> bytes:
    from exports import services

    return b"".join(services.export_chunks(tenant=tenant, export=export))


@pytest.fixture
def worker_storage(file_storage, monkeypatch):
    """The Celery worker started after this writes into this test's storage directory."""
    monkeypatch.setenv("KASSA_STORAGE_URL", f"file://{file_storage}")
    return file_storage
