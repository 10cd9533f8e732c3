"""The catalogue: stores, categories, suppliers and products."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from accounts.permissions import MANAGE_PRODUCTS, MANAGE_SETTINGS
from inventory import events
from inventory.models import Category, Product, Supplier
from inventory.services._rules import clean, refresh_stamp, require
from tenants.context import get_current_tenant
from tenants.models import Store

PRODUCT_FIELDS = (
    "sku",
    "barcode",
    "name",
    "description",
    "category",
    "supplier",
    "price",
    "cost",
    "tax_rate",
    "active",
    "external_id",
)
CATEGORY_FIELDS = ("name", "parent")


def _check_product_values(product: Product) -> None:
    errors = {}
    if product.price is not None and product.price < 0:
        errors["price"] = gettext("The price cannot be negative.")
    if product.cost is not None and product.cost < 0:
        errors["cost"] = gettext("The cost cannot be negative.")
    if product.tax_rate is not None and not (0 <= product.tax_rate <= 100):
        errors["tax_rate"] = gettext("The tax rate is a percentage between 0 and 100.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def product_create(*, actor, sku: str, name: str, price: Decimal, **fields) -> Product:
    require(actor, MANAGE_PRODUCTS)
    unknown = set(fields) - set(PRODUCT_FIELDS)
    if unknown:
        raise TypeError(f"unknown product fields: {sorted(unknown)}")
    product = Product(sku=sku, name=name, price=price, **fields)
    _check_product_values(product)
    clean(product)
    product.save()
    events.products_changed([product])
    return product


@transaction.atomic
def product_update(*, product: Product, actor, **fields) -> Product:
    require(actor, MANAGE_PRODUCTS)
    for name, value in fields.items():
        if name not in PRODUCT_FIELDS:
            raise TypeError(f"unknown product field: {name}")
        setattr(product, name, value)
    _check_product_values(product)
    clean(product)
    product.save(update_fields=[*fields])
    refresh_stamp(product)
    events.products_changed([product])
    return product


@transaction.atomic
def category_create(*, actor, name: str, parent: Category | None = None) -> Category:
    require(actor, MANAGE_PRODUCTS)
    category = Category(name=name, parent=parent)
    clean(category)
    category.save()
    return category


@transaction.atomic
def category_update(*, category: Category, actor, **fields) -> Category:
    require(actor, MANAGE_PRODUCTS)
    for name, value in fields.items():
        if name not in CATEGORY_FIELDS:
            raise TypeError(f"unknown category field: {name}")
        setattr(category, name, value)
    clean(category)
    category.save(update_fields=list(fields))
    refresh_stamp(category)
    return category


@transaction.atomic
def supplier_create(*, actor, name: str, **fields) -> Supplier:
    require(actor, MANAGE_PRODUCTS)
    supplier = Supplier(name=name, **fields)
    clean(supplier)
    supplier.save()
    return supplier


@transaction.atomic
def supplier_update(*, supplier: Supplier, actor, **fields) -> Supplier:
    require(actor, MANAGE_PRODUCTS)
    for name, value in fields.items():
        setattr(supplier, name, value)
    clean(supplier)
    supplier.save(update_fields=list(fields))
    refresh_stamp(supplier)
    return supplier


@transaction.atomic
def store_create(*, actor, name: str, **fields) -> Store:
    require(actor, MANAGE_SETTINGS)
    tenant = get_current_tenant()
    if "time_zone" not in fields and tenant is not None:
        fields["time_zone"] = tenant.time_zone  # a new store keeps the chain's local time
    store = Store(name=name, **fields)
    clean(store)
    store.save()
    return store


@transaction.atomic
def store_update(*, store: Store, actor, **fields) -> Store:
    require(actor, MANAGE_SETTINGS)
    for name, value in fields.items():
        setattr(store, name, value)
    clean(store)
    store.save(update_fields=list(fields))
    return store
