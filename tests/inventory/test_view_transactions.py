"""The plain CRUD views (inventory.apis.ServiceViewSet) read outside a transaction and write in
one of their own: an error answer after a write leaves nothing behind."""

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import Conflict
from inventory.apis import ProductViewSet
from inventory.models import Product
from tenants.context import tenant_context
from tests.conftest import HOST_A, HttpsApiClient, token_for, transactional


def _product(tenant, owner):
    from inventory.services.catalogue import product_create

    with tenant_context(tenant):
        return product_create(actor=owner, sku="SKU-1", name="Before", price=Decimal("2.50"))


@transactional
def test_a_write_answered_with_an_error_is_rolled_back(cast_a, tenant_a, monkeypatch):
    from inventory.services import catalogue

    product = _product(tenant_a, cast_a["owner"])

    def update_then_refuse(product, **kwargs):
        catalogue.product_update(product=product, **kwargs)
        raise Conflict("Refused after the write.")

    monkeypatch.setattr(ProductViewSet, "update_service", staticmethod(update_then_refuse))
    client = HttpsApiClient(token_for(cast_a["owner"]), host=HOST_A)
    answer = client.patch(f"/api/v1/products/{product.pk}/", {"name": "After"})
    assert answer.status_code == 409, answer.content
    with tenant_context(tenant_a):
        assert Product.objects.get(pk=product.pk).name == "Before"
    monkeypatch.undo()
    done = client.patch(f"/api/v1/products/{product.pk}/", {"name": "After"})
    assert done.status_code == 200, done.content
    with tenant_context(tenant_a):
        assert Product.objects.get(pk=product.pk).name == "After"


@transactional
def test_a_read_opens_no_transaction_and_every_select_carries_the_tenant(cast_a, tenant_a):
    product = _product(tenant_a, cast_a["owner"])
    client = HttpsApiClient(token_for(cast_a["integrator"]), host=HOST_A)
    client.get(f"/api/v1/products/{product.pk}/")
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(f"/api/v1/products/{product.pk}/")
        listed = client.get("/api/v1/products/")
    assert answer.status_code == 200 and answer.json()["name"] == "Before"
    assert [p["id"] for p in listed.json()["results"]] == [str(product.pk)]
    statements = [q["sql"] for q in captured.captured_queries]
    assert "BEGIN" not in statements and "COMMIT" not in statements
    assert all(s.startswith("SELECT set_config('kassa.tenant_id'") for s in statements), statements
    assert not connection.in_atomic_block
