"""`tenants.rows.row_get`: the current tenant's row by primary key in one hand-built statement,
the same instance the ORM builds, never another tenant's row, and only for models that need no
conversion of their columns."""

import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import Customer, Product
from tenants.rows import row_get
from tests.inventory.conftest import product_make


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_the_row_is_the_instance_the_orm_builds(api, cast_a, tenant_a, as_tenant):
    created = api(cast_a["owner"]).post(
        "/api/v1/products/",
        {"sku": "RW-1", "name": "Ruis ✓", "price": "3.40", "tax_rate": "14", "cost": "1.05", "barcode": "64"},
    )
    assert created.status_code == 201, created.content
    with as_tenant(tenant_a):
        with CaptureQueriesContext(connection) as statements:
            found = row_get(Product, created.json()["id"])
        orm = Product.objects.get(pk=created.json()["id"])
    assert len(statements) == 1  # the tenant's set_config travels in the same query string
    assert _fields(found) == _fields(orm) and found == orm
    assert found._state.adding is False and found._state.db == orm._state.db


def test_another_tenants_row_a_missing_one_and_a_malformed_id_are_none(tenant_a, tenant_b, as_tenant):
    bobs = product_make(tenant_b, "BOB-1")
    with as_tenant(tenant_a):
        assert row_get(Product, bobs.pk) is None
        assert row_get(Product, str(bobs.pk)) is None
        assert row_get(Product, uuid.uuid4()) is None
        for malformed in ("not-a-uuid", "", "0" * 10_000, "\x00", 12):
            assert row_get(Product, malformed) is None
    with as_tenant(tenant_b):
        assert row_get(Product, str(bobs.pk)) == bobs


def test_a_model_whose_columns_need_converting_is_refused(tenant_a, as_tenant):
    # Customer's contact data is decrypted by its field's from_db_value: the ORM's job.
    with as_tenant(tenant_a), pytest.raises(ImproperlyConfigured, match="needs a converter"):
        row_get(Customer, uuid.uuid4())
