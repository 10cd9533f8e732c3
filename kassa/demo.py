"""The demo tenant `make run` seeds, so a newcomer sees a living shop."""

import json
import random
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from accounts.models import Role, User
from accounts.permissions import AUDITOR, CASHIER, INTEGRATOR, STORE_MANAGER
from accounts.services import password_reset
from lifecycle.services.onboarding import password_generate, tenant_create
from tenants.context import tenant_context
from tenants.models import Store, Tenant
from tenants.selectors import tenant_host

DEMO_SLUG = "demo"
DEMO_OWNER = "owner"
# username -> built-in role; the store manager and the cashier work in the first store only.
DEMO_STAFF = {"manager": STORE_MANAGER, "cashier": CASHIER, "integrator": INTEGRATOR, "auditor": AUDITOR}
DEMO_BUSINESS_ID = "1234567-8"
DEMO_STORES = [("Main Street", "MAIN", "1 Main Street"), ("Harbour", "HARB", "7 Quay Road")]
DEMO_CATALOGUE = {
    "Coffee": [
        ("Espresso beans 1 kg", "18.90"),
        ("Filter coffee 500 g", "7.49"),
        ("Decaf beans 500 g", "8.99"),
    ],
    "Tea": [("Green tea 100 g", "4.99"), ("Earl Grey 50 bags", "3.79"), ("Chamomile 20 bags", "2.49")],
    "Bakery": [
        ("Croissant", "1.60"),
        ("Sourdough loaf", "4.20"),
        ("Cinnamon roll", "2.40"),
        ("Bagel", "1.30"),
    ],
    "Dairy": [
        ("Whole milk 1 l", "1.19"),
        ("Oat drink 1 l", "2.29"),
        ("Butter 250 g", "2.79"),
        ("Yoghurt", "0.99"),
    ],
    "Snacks": [
        ("Dark chocolate", "2.19"),
        ("Almonds 200 g", "3.99"),
        ("Oat biscuits", "1.89"),
        ("Crisps", "1.49"),
    ],
    "Household": [
        ("Reusable cup", "9.90"),
        ("Kettle descaler", "5.49"),
        ("Tea towel", "6.90"),
        ("Candle", "7.90"),
    ],
    "Drinks": [
        ("Sparkling water", "0.89"),
        ("Orange juice 1 l", "2.99"),
        ("Cola 0.33 l", "1.29"),
        ("Lemonade", "1.79"),
    ],
}
REDUCED_RATE_CATEGORIES = {"Coffee", "Tea", "Bakery", "Dairy", "Snacks"}


@transaction.atomic
def demo_seed() -> tuple[dict, bool]:
    """Create the demo tenant unless it exists; write and return its users' credentials."""
    path = settings.VAR_DIR / "demo-credentials.json"
    tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
    if tenant is not None and path.exists():
        return json.loads(path.read_text()), False
    password = password_generate()
    created = tenant is None
    if tenant is None:
        tenant, _ = tenant_create(
            slug=DEMO_SLUG,
            name="Demo Retail",
            region=settings.KASSA_REGION,
            owner_username=DEMO_OWNER,
            owner_password=password,
        )
    else:  # the credentials file was lost: give the demo users new passwords
        with tenant_context(tenant):
            owner = User.objects.get(username=DEMO_OWNER)
            password_reset(user=owner, actor=None, new_password=password, must_change_password=False)
    with tenant_context(tenant):
        stores = demo_shop_seed()
        users = {DEMO_OWNER: password, **demo_staff_seed(stores)}
    credentials = {
        "url": f"https://{tenant_host(DEMO_SLUG)}:8443/",
        "tenant": DEMO_SLUG,
        "users": users,
        "username": DEMO_OWNER,
        "password": password,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(credentials, indent=2) + "\n")
    return credentials, created


def demo_staff_seed(stores: list[Store]) -> dict[str, str]:
    """One user per built-in role besides the owner, each with a new password."""
    from accounts.services import user_create

    passwords = {}
    for username, role_key in DEMO_STAFF.items():
        password = password_generate()
        user = User.objects.filter(username=username).first()
        if user is None:
            scoped = role_key in (STORE_MANAGER, CASHIER)
            user_create(
                username=username,
                password=password,
                roles=[Role.objects.get(builtin=role_key)],
                stores=stores[:1] if scoped else [],
                must_change_password=False,
            )
        else:
            password_reset(user=user, actor=None, new_password=password, must_change_password=False)
        passwords[username] = password
    return passwords


def demo_shop_seed() -> list[Store]:
    """Two stores, a catalogue with stock, and some sales; skipped where they exist already."""
    from inventory.models import Category, Product
    from inventory.services.catalogue import category_create, product_create, store_create, supplier_create
    from inventory.services.customers import customer_create
    from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
    from inventory.services.shifts import shift_open
    from inventory.services.stock import stock_receive, stock_reorder_set

    stores = []
    for name, code, address in DEMO_STORES:
        store = Store.objects.filter(code=code).first()
        stores.append(
            store
            or store_create(actor=None, name=name, code=code, address=address, business_id=DEMO_BUSINESS_ID)
        )
    if Product.objects.exists():
        return stores
    owner = User.objects.get(username=DEMO_OWNER)
    for store in stores:  # the day has begun: register 1 of each store is open, 150.00 in the drawer
        shift_open(store=store, register="1", opening_float=Decimal("150.00"), actor=owner)
    rng = random.Random(7)  # noqa: S311  # nosec B311 - demo data, not secrets
    supplier = supplier_create(actor=None, name="Harbour Wholesale", email="orders@example.com")
    products = []
    for category_name, items in DEMO_CATALOGUE.items():
        category = Category.objects.filter(name=category_name).first() or category_create(
            actor=None, name=category_name
        )
        for index, (name, price) in enumerate(items, start=1):
            price = Decimal(price)
            products.append(
                product_create(
                    actor=None,
                    sku=f"{category_name[:3].upper()}-{index:03d}",
                    barcode=f"200{len(products):09d}",
                    name=name,
                    price=price,
                    cost=(price * Decimal("0.55")).quantize(Decimal("0.01")),
                    tax_rate=Decimal("7.00")
                    if category_name in REDUCED_RATE_CATEGORIES
                    else Decimal("19.00"),
                    category=category,
                    supplier=supplier,
                )
            )
    for store in stores:
        for product in products:
            stock_receive(
                store=store, product=product, quantity=rng.randint(8, 60), supplier=supplier, actor=None
            )
            stock_reorder_set(store=store, product=product, reorder_point=10, reorder_quantity=24, actor=None)
    customer = customer_create(actor=None, name="Dana Demo", email="dana@example.com")
    for number in range(12):
        store = stores[number % 2]
        basket = rng.sample(products, rng.randint(1, 4))
        lines = [SaleLineInput(product=product, quantity=rng.randint(1, 3)) for product in basket]
        total = sum(line.product.price * line.quantity for line in lines)
        sale_create(
            store=store,
            lines=lines,
            payments=[PaymentInput(method="card" if number % 3 else "cash", amount=total)],
            customer=customer if number % 4 == 0 else None,
            actor=None,
        )
    demo_back_office_seed(stores, supplier, products)
    return stores


def demo_back_office_seed(stores: list[Store], supplier, products) -> None:
    """An order on its way to the first store, a transfer from the second, and the second's drafts
    from its reorder list: something to receive, count and order on /backoffice/."""
    from backoffice.services.purchasing import OrderLineInput, purchase_order_create, purchase_order_order
    from backoffice.services.reorder import reorder_orders_create
    from backoffice.services.transfers import TransferLineInput, transfer_send

    order = purchase_order_create(
        supplier=supplier,
        store=stores[0],
        lines=[OrderLineInput(product=product, quantity=24) for product in products[:4]],
        notes="Weekly order",
        actor=None,
    )
    purchase_order_order(order=order, actor=None)
    transfer_send(
        from_store=stores[1],
        to_store=stores[0],
        lines=[TransferLineInput(product=product, quantity=3) for product in products[4:6]],
        note="For the weekend",
        actor=None,
    )
    reorder_orders_create(store=stores[1], actor=None)
