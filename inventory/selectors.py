"""Reads of the catalogue, stock and sales, limited to the current tenant and the user's stores.

A missing id and another tenant's (or another store's) id answer alike: NotFound.
"""

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from accounts import authz
from accounts.permissions import MANAGE_SETTINGS, STORE_SCOPED, VIEW_PRODUCTS, VIEW_SALES
from core.errors import NotFound
from inventory import hashing
from inventory.models import Customer, Product, Refund, Sale, StockLevel, StockMovement, Supplier
from tenants.models import Store


def _get(queryset: QuerySet, pk):
    try:
        obj = queryset.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):  # not an id at all: missing all the same
        obj = None
    if obj is None:
        raise NotFound()
    return obj


def _in_stores(queryset: QuerySet, user, permission: str, field: str = "store_id") -> QuerySet:
    stores = authz.store_ids(user, permission)
    if stores is authz.ALL_STORES:
        return queryset
    return queryset.filter(**{f"{field}__in": stores})


def product_list() -> QuerySet[Product]:
    return Product.objects.all()


def product_get(*, product_id: UUID) -> Product:
    return _get(Product.objects.all(), product_id)


def product_search(*, queryset: QuerySet[Product], text: str) -> QuerySet[Product]:
    return queryset.filter(Q(name__icontains=text) | Q(sku__iexact=text) | Q(barcode=text))


def supplier_get(*, supplier_id: UUID) -> Supplier:
    return _get(Supplier.objects.all(), supplier_id)


def stores_visible_to(*, user) -> QuerySet[Store]:
    """The stores a user works in (for any store-scoped permission), or all for chain-wide staff."""
    grants = authz.grants_of(user)
    if MANAGE_SETTINGS in grants:
        return Store.objects.all()
    ids: set = set()
    for permission, stores in grants.items():
        if permission in STORE_SCOPED:
            if stores is authz.ALL_STORES:
                return Store.objects.all()
            ids |= stores
    return Store.objects.filter(pk__in=ids)


def store_get(*, store_id: UUID) -> Store:
    """One of the tenant's stores, whoever may work in it (the caller checks the permission)."""
    return _get(Store.objects.all(), store_id)


def stores_open_to(*, user, permission: str) -> QuerySet[Store]:
    """The active stores where `user` holds `permission`."""
    return _in_stores(Store.objects.filter(active=True), user, permission, field="pk")


def customer_get(*, customer_id: UUID) -> Customer:
    return _get(Customer.objects.all(), customer_id)


def customer_find(*, queryset: QuerySet[Customer], email: str = "", phone: str = "") -> QuerySet[Customer]:
    """Customers with exactly this e-mail address and/or phone number (by keyed hash)."""
    for value, digest, field in (
        (email, hashing.email_hash, "email_hash"),
        (phone, hashing.phone_hash, "phone_hash"),
    ):
        if value:
            wanted = digest(value)
            # A value that normalises to nothing (a phone without digits) matches no one.
            queryset = queryset.filter(**{field: wanted}) if wanted else queryset.none()
    return queryset


def stock_quantities(*, store: Store, products) -> dict[UUID, int]:
    """The store's stock of each of `products`, by product id (missing: no stock row yet)."""
    return dict(
        StockLevel.objects.filter(store=store, product__in=products).values_list("product_id", "quantity")
    )


def stock_levels_visible_to(*, user) -> QuerySet[StockLevel]:
    return _in_stores(StockLevel.objects.select_related("product"), user, VIEW_PRODUCTS)


def stock_level_get(*, user, stock_level_id: UUID) -> StockLevel:
    return _get(stock_levels_visible_to(user=user), stock_level_id)


def movements_visible_to(*, user) -> QuerySet[StockMovement]:
    return _in_stores(StockMovement.objects.all(), user, VIEW_SALES)


def sales_visible_to(*, user, permission: str | None = VIEW_SALES) -> QuerySet[Sale]:
    """The sales of the stores where the user holds `permission` (None: all of the tenant's)."""
    if permission is None:
        return Sale.objects.all()
    return _in_stores(Sale.objects.all(), user, permission)


def refunds_visible_to(*, user) -> QuerySet[Refund]:
    """The refunds of the stores where the user may view sales."""
    return _in_stores(Refund.objects.all(), user, VIEW_SALES)


def sale_get(*, user, sale_id: UUID, permission: str | None = VIEW_SALES) -> Sale:
    sales = sales_visible_to(user=user, permission=permission).select_related("store", "customer")
    return _get(sales.prefetch_related("lines", "payments"), sale_id)


def store_sales_recent(*, store: Store, limit: int) -> QuerySet[Sale]:
    return Sale.objects.filter(store=store).order_by("-created_at")[:limit]


def store_sale_get(*, store: Store, sale_id: UUID) -> Sale:
    """A sale of `store`, with what its receipt shows (lines, payments, refunds)."""
    sales = Sale.objects.filter(store=store).select_related("store", "cashier")
    return _get(sales.prefetch_related("lines", "payments", "refunds"), sale_id)


def store_sale_by_receipt_number(*, store: Store, receipt_number: int) -> Sale | None:
    return Sale.objects.filter(store=store, receipt_number=receipt_number).first()
