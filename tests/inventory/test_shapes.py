"""The product and the sale are rendered by hand (inventory.shapes), not by DRF's fields.

Held equal to what DRF renders from the serializers' declared fields (the schema): for any
values the models can hold (hypothesis, in memory), and through the API for sales built with
every feature a sale has, whether just written (the POST's answer, from the rows sale_create
handed back) or read back (GET, the lists, a refund later).
"""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from inventory.models import Payment, Product, Sale, SaleLine, SaleTax
from inventory.serializers import ProductSerializer, SaleOut
from tests.inventory.conftest import product_make, stock_put

ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]


def as_json(data) -> dict:
    """What a client reads: the body the API's renderer writes."""
    return json.loads(JSONRenderer().render(data))


def drf(serializer_class, instance) -> dict:
    """What DRF renders from the serializer's declared fields (the hand-written rendering skipped)."""
    return as_json(serializers.Serializer.to_representation(serializer_class(instance), instance))


def ours(serializer_class, instance) -> dict:
    return as_json(serializer_class(instance).data)


def _value(field: models.Field):
    """A strategy for any value the column holds, as the database gives it back."""
    if isinstance(field, models.DecimalField):
        limit = 10**field.max_digits - 1
        value = st.integers(min_value=-limit, max_value=limit).map(
            lambda n: Decimal(n).scaleb(-field.decimal_places)
        )
    elif isinstance(field, models.ForeignKey | models.UUIDField):
        value = st.uuids()
    elif isinstance(field, models.BooleanField):
        value = st.booleans()
    elif isinstance(field, models.DateTimeField):
        # hypothesis takes naive bounds and attaches the zones itself
        bounds = datetime(1990, 1, 1), datetime(2200, 1, 1)  # noqa: DTZ001
        value = st.datetimes(*bounds, timezones=st.sampled_from(ZONES))
    elif isinstance(field, models.CharField | models.TextField):
        value = st.text(max_size=min(field.max_length or 80, 80))
    elif isinstance(field, models.IntegerField):
        value = st.integers(min_value=0, max_value=2**53)
    else:
        raise AssertionError(f"no strategy for {field!r}")
    return st.one_of(st.none(), value) if field.null else value


@st.composite
def rows(draw, model, **fixed):
    values = {
        field.attname: draw(_value(field))
        for field in model._meta.concrete_fields
        if field.attname not in fixed and field.name != "tenant"
    }
    return model(**values, **fixed)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows(Product))
def test_a_product_renders_as_its_serializers_fields_would(product):
    assert ours(ProductSerializer, product) == drf(ProductSerializer, product)


@st.composite
def sales(draw):
    sale = draw(rows(Sale))
    # As the database and sale_create give them: lines by position, one tax row per rate.
    lines = [draw(rows(SaleLine, sale_id=sale.pk, position=n)) for n in range(draw(st.integers(1, 4)))]
    payments = draw(st.lists(rows(Payment, sale_id=sale.pk), max_size=3))
    rates = sorted(set(draw(st.lists(_value(SaleTax._meta.get_field("rate")), max_size=3))))
    taxes = [draw(rows(SaleTax, sale_id=sale.pk, rate=rate)) for rate in rates]
    sale._prefetched_objects_cache = {"lines": lines, "payments": payments, "taxes": taxes}
    return sale


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sales())
def test_a_sale_renders_as_its_serializers_fields_would(sale):
    assert ours(SaleOut, sale) == drf(SaleOut, sale)


def test_the_strategies_reach_the_corners():
    """Guards the tests above: the values drawn include nulls, other offsets, both kinds of sale."""
    seen = {"no category": False, "offset": False, "no basket discount": False, "basket discount": False}

    @settings(max_examples=200, deadline=None)
    @given(rows(Product), sales())
    def look(product, sale):
        seen["no category"] |= product.category_id is None
        seen["offset"] |= product.created_at.utcoffset() != timedelta(0)
        seen["no basket discount"] |= drf(SaleOut, sale)["discount"] is None
        seen["basket discount"] |= drf(SaleOut, sale)["discount"] is not None

    look()
    assert all(seen.values()), seen


def _sold(client, body) -> dict:
    answer = client.post("/api/v1/sales/", body)
    assert answer.status_code == 201, answer.content
    return answer.json()


@pytest.mark.django_db
def test_sales_through_the_api_answer_alike_when_written_read_listed_and_refunded(
    api, cast_a, tenant_a, stores_a, as_tenant
):
    store = stores_a[0]
    coffee = product_make(tenant_a, "COF-S", "4.50", "14.00")
    tea = product_make(tenant_a, "TEA-S", "2.99", "7.00")
    cake = product_make(tenant_a, "CAK-S", "3.10", "24.00")
    for product in (coffee, tea, cake):
        stock_put(tenant_a, store, product, 50)
    owner = api(cast_a["owner"])
    customer = owner.post("/api/v1/customers/", {"name": "Åsa Ñandú", "email": "asa@example.com"}).json()
    bodies = [
        # cash over the total: change due
        {
            "lines": [{"product": str(coffee.pk), "quantity": 1}],
            "payments": [{"method": "cash", "amount": "20.00"}],
        },
        # three rates, a percent and an amount off lines, a card with its reference, a customer
        {
            "lines": [
                {"product": str(coffee.pk), "quantity": 3, "discount": {"percent": "12.5", "reason": "dent"}},
                {"product": str(tea.pk), "quantity": 2, "discount": {"amount": "0.98", "reason": "old"}},
                {"product": str(cake.pk), "quantity": 1},
            ],
            "payments": [
                {"method": "card", "amount": "1.00", "reference": "AUTH-7 ✓"},
                {"method": "cash", "amount": "50.00"},
            ],
            "customer": customer["id"],
        },
        # a basket discount by percent (given as a whole number) and one by amount
        {
            "lines": [{"product": str(tea.pk), "quantity": 4}],
            "discount": {"percent": "5", "reason": "staff"},
            "payments": [{"method": "cash", "amount": "20.00"}],
        },
        {
            "lines": [{"product": str(cake.pk), "quantity": 2}, {"product": str(coffee.pk), "quantity": 1}],
            "discount": {"amount": "1", "reason": ""},
            "payments": [{"method": "card", "amount": "5.00"}, {"method": "cash", "amount": "10.00"}],
        },
    ]
    written = [_sold(owner, {"store": str(store.pk), **body}) for body in bodies]
    listed = {sale["id"]: sale for sale in owner.get("/api/v1/sales/?page_size=50").json()["results"]}
    for sale in written:
        read = owner.get(f"/api/v1/sales/{sale['id']}/").json()
        assert sale == read == listed[sale["id"]]
        with as_tenant(tenant_a):
            loaded = Sale.objects.prefetch_related("lines", "payments", "taxes").get(pk=sale["id"])
            assert read == drf(SaleOut, loaded)
    assert {tax["rate"] for tax in written[1]["taxes"]} == {"7.00", "14.00", "24.00"}
    assert written[2]["discount"] == {"percent": "5.00", "amount": None, "reason": "staff"}
    assert written[0]["change_due"] != "0.00" and written[1]["customer"] == customer["id"]

    refund = owner.post(
        f"/api/v1/sales/{written[1]['id']}/refund/",
        {"lines": [{"line": written[1]["lines"][0]["id"], "quantity": 1}], "restock": True},
    )
    assert refund.status_code == 201, refund.content
    read = owner.get(f"/api/v1/sales/{written[1]['id']}/").json()
    assert read["refunded_total"] != "0.00" and read["lines"][0]["refunded_quantity"] == 1
    with as_tenant(tenant_a):
        loaded = Sale.objects.prefetch_related("lines", "payments", "taxes").get(pk=written[1]["id"])
        assert read == drf(SaleOut, loaded)


@pytest.mark.django_db
def test_products_through_the_api_answer_alike_when_written_read_and_listed(api, cast_a, tenant_a, as_tenant):
    owner = api(cast_a["owner"])
    created = owner.post(
        "/api/v1/products/",
        {"sku": "ŽŽ-1", "name": "Kahvi ☕", "price": "5", "tax_rate": "25.5", "barcode": "", "cost": "1.2"},
    )
    assert created.status_code == 201, created.content
    product = created.json()
    assert (product["price"], product["cost"], product["tax_rate"]) == ("5.00", "1.20", "25.50")
    changed = owner.patch(f"/api/v1/products/{product['id']}/", {"price": "7.1", "active": False}).json()
    read = owner.get(f"/api/v1/products/{product['id']}/").json()
    listed = {item["id"]: item for item in owner.get("/api/v1/products/?page_size=100").json()["results"]}
    assert changed == read == listed[product["id"]]
    assert read["price"] == "7.10" and read["active"] is False
    with as_tenant(tenant_a):
        assert read == drf(ProductSerializer, Product.objects.get(pk=product["id"]))
    assert created.json() == {**read, "price": "5.00", "active": True, "updated_at": product["updated_at"]}
