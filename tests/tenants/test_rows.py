"""`tenants.rows.row_get`: the current tenant's row by primary key in one hand-built statement,
the same instance the ORM builds, never another tenant's row, and only for models that need no
conversion of their columns."""

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import Customer, Product
from tenants.rows import row_built, row_get, rows_get
from tests.inventory.conftest import product_make, sale_post, stock_put


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
        for malformed in ("not-a-uuid", "", "0" * 10_000, "\x00", 12, -1, 2**129, None, True, {}, [], 1.5):
            assert row_get(Product, malformed) is None
    with as_tenant(tenant_b):
        assert row_get(Product, str(bobs.pk)) == bobs


def test_rows_by_many_keys_are_the_tenants_own_in_one_statement(tenant_a, tenant_b, as_tenant):
    mine = [product_make(tenant_a, f"MANY-{n}") for n in range(3)]
    bobs = product_make(tenant_b, "BOB-2")
    asked = [str(mine[0].pk), mine[1].pk, str(mine[2].pk).upper(), str(bobs.pk), "not-a-uuid", None, 7]
    with as_tenant(tenant_a):
        with CaptureQueriesContext(connection) as statements:
            found = rows_get(Product, asked)
        assert len(statements) == 1
        assert sorted(_fields(p)["sku"] for p in found) == ["MANY-0", "MANY-1", "MANY-2"]
        assert {p.pk: _fields(p) for p in found} == {
            p.pk: _fields(Product.objects.get(pk=p.pk)) for p in mine
        }
        with CaptureQueriesContext(connection) as statements:
            assert rows_get(Product, ["x", {}, []]) == [] and rows_get(Product, []) == []
        assert len(statements) == 0  # nothing well-formed to ask for


def test_an_instance_built_from_a_hand_read_row_is_the_orms_with_its_fields_converted(
    api, cast_a, tenant_a, as_tenant
):
    created = api(cast_a["owner"]).post(
        "/api/v1/customers/", {"name": 'Äiti "Ö" 漢字', "email": "aiti@example.com", "phone": "+358 40 1"}
    )
    assert created.status_code == 201, created.content
    with as_tenant(tenant_a):
        orm = Customer.objects.get(pk=created.json()["id"])
        names = [field.attname for field in Customer._meta.concrete_fields]
        with connection.cursor() as cursor:  # every column, in another order, as raw bytes
            cursor.execute(
                f"SELECT {', '.join(reversed(names))} FROM inventory_customer WHERE id = %s", [orm.pk]
            )
            row = dict(zip(reversed(names), cursor.fetchone(), strict=True))
        assert isinstance(row["email"], bytes | memoryview)  # encrypted at rest
        built = row_built(Customer, row)
        assert _fields(built) == _fields(orm) and built.name == 'Äiti "Ö" 漢字'
        assert built._state.adding is False and not built.get_deferred_fields()
        some = row_built(Customer, {"id": row["id"], "tenant_id": row["tenant_id"], "email": row["email"]})
        assert some.email == "aiti@example.com" and "name" in some.get_deferred_fields()


def test_a_model_whose_columns_need_converting_is_refused(tenant_a, as_tenant):
    # Customer's contact data is decrypted by its field's from_db_value: the ORM's job.
    with as_tenant(tenant_a), pytest.raises(ImproperlyConfigured, match="needs a converter"):
        row_get(Customer, uuid.uuid4())


def _columns(model, **filters) -> list[dict]:
    skip = {model._meta.pk.attname}
    rows = model.objects.filter(**filters).values()
    return sorted(({k: v for k, v in row.items() if k not in skip} for row in rows), key=repr)


def test_rows_insert_writes_what_bulk_create_writes(api, cast_a, tenant_a, stores_a, as_tenant):
    from inventory.models import Payment, Sale, SaleTax
    from tenants.rows import rows_insert

    product = product_make(tenant_a, "RW-2", "4.50", "14.00")
    stock_put(tenant_a, stores_a[0], product, 10)
    sale_id = sale_post(api(cast_a["owner"]), stores_a[0], product, quantity=2)
    with as_tenant(tenant_a):
        sale = Sale.objects.get(pk=sale_id)
        Payment.objects.filter(sale=sale).delete()
        SaleTax.objects.filter(sale=sale).delete()

        def payments():
            return [
                Payment(
                    tenant_id=tenant_a.pk, sale=sale, method="card", amount=Decimal("1.5"), reference="Ä-1"
                ),
                Payment(
                    tenant_id=tenant_a.pk, sale=sale, method="cash", amount=Decimal("0.00"), reference=""
                ),
            ]

        def taxes():  # a serial primary key: the database's, read back by RETURNING
            return [
                SaleTax(
                    tenant_id=tenant_a.pk, sale=sale, rate=Decimal(r), net=1, tax=Decimal("0.14"), gross=2
                )
                for r in ("0", "14")
            ]

        ours = rows_insert(Payment, payments()), rows_insert(SaleTax, taxes())
        assert all(row._state.adding is False for row in (*ours[0], *ours[1]))
        # Each instance got its own row's serial key, in the order given.
        assert {t.pk: t.rate for t in SaleTax.objects.filter(sale=sale)} == {t.pk: t.rate for t in ours[1]}
        mine = _columns(Payment, sale=sale), _columns(SaleTax, sale=sale)
        Payment.objects.filter(sale=sale).delete()
        SaleTax.objects.filter(sale=sale).delete()
        Payment.objects.bulk_create(payments())
        SaleTax.objects.bulk_create(taxes())
        assert (_columns(Payment, sale=sale), _columns(SaleTax, sale=sale)) == mine


def test_rows_insert_refuses_another_tenants_row_and_prepared_fields(tenant_a, tenant_b, stores_a, as_tenant):
    from inventory.models import Payment, Sale
    from tenants.context import NoTenantSelected
    from tenants.rows import rows_insert

    with as_tenant(tenant_a):
        count = Payment.objects.count()
        with pytest.raises(NoTenantSelected):
            rows_insert(
                Payment, [Payment(tenant_id=tenant_b.pk, sale_id=uuid.uuid4(), method="cash", amount=1)]
            )
        with pytest.raises(ImproperlyConfigured, match="prepared by its field"):
            rows_insert(Customer, [Customer(name="Eve")])
        assert Payment.objects.count() == count and not Sale.objects.exists()
