"""Every URL pattern that names an object, walked with another tenant's ids: 404, every method.

A new URL pattern with a parameter fails `test_every_pattern_is_covered` until it is added to
TARGETS below, so no endpoint or admin page escapes this check.
"""

import re
import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts.models import ApiToken, Role, SupportGrant, UserSession
from auditlog.models import AccessEvent, SignInEvent
from backoffice.services.purchasing import OrderLineInput, purchase_order_create, purchase_order_order
from backoffice.services.stocktakes import stocktake_start
from backoffice.services.transfers import TransferLineInput, transfer_send
from exports.models import CustomerErasure
from exports.services import export_create
from integrations.services import webhook_create
from inventory.importing import product_import_create
from inventory.models import Category, Customer, Product, Sale, StockLevel, StockMovement, Supplier
from inventory.services.catalogue import category_create, product_create, supplier_create
from inventory.services.customers import customer_create
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
from inventory.services.shifts import shift_open
from inventory.services.stock import stock_receive
from lifecycle.models import Backup, RestoreDrill
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tenants.models import Store
from tests.conftest import key_for, tenant_host, token_for
from tests.factories import ServiceUserFactory

# route name (or admin model) -> which of tenant B's objects fills its parameter
TARGETS = {
    "me-token-revoke": "token",
    "user-detail": "user",
    "user-deactivate": "user",
    "user-unlock": "user",
    "user-password-reset": "user",
    "user-keys": "user",
    "user-mfa-reset": "user",
    "user-reactivate": "user",
    "key-revoke": "key",
    "key-rotate": "key",
    "role-detail": "role",
    "support-grant-revoke": "grant",
    "sale-detail": "sale",
    "sale-refund": "sale",
    "store-detail": "store",
    "product-detail": "product",
    "category-detail": "category",
    "supplier-detail": "supplier",
    "customer-detail": "customer",
    "stock-detail": "stocklevel",
    "account-session-revoke": "session",
    "account-token-revoke": "token",
    "pos-register": "store",
    "pos-products": "store",
    "pos-sale-create": "store",
    "pos-receipt-find": "store",
    "pos-receipt": {"store_id": "store", "sale_id": "sale"},
    "pos-refund": {"store_id": "store", "sale_id": "sale"},
    "pos-customers": "store",
    "pos-return": "store",
    "pos-shifts": "store",
    "pos-shift": {"store_id": "store", "shift_id": "shift"},
    "pos-shift-cash": {"store_id": "store", "shift_id": "shift"},
    "pos-shift-close": {"store_id": "store", "shift_id": "shift"},
    "pos-session": "store",
    "pos-signin": "store",
    "shift-detail": "shift",
    "shift-cash": "shift",
    "shift-close": "shift",
    "shift-report": "shift",
    "view_on_site": "view_on_site",
    "inventory_product_import_job": "productimport",
    "inventory_product_import_apply": "productimport",
    "product-import-detail": "productimport",
    "customer-erasure": "erasure",
}
# Patterns whose parameter names a kind of thing, not an object.
NOT_OBJECTS = {r"api/v1/^exports/(?P<kind>[a-z]+)\.csv$", "audit/export/<slug:kind>/"}
# Parameters by name, for the patterns not named above (several parameters each get their object).
PARAMETERS = {
    "export_id": "export",
    "customer_id": "customer",
    "token_id": "token",
    "key_id": "key",
    "store_id": "store",
    "sale_id": "sale",
    "user_id": "user",
    "role_id": "role",
    "grant_id": "grant",
    "session_id": "session",
    "order_id": "purchaseorder",
    "stocktake_id": "stocktake",
    "transfer_id": "transfer",
    "webhook_id": "webhook",
    "shift_id": "shift",
}
ADMIN_MODELS = {
    "tenants/store": "store",
    "inventory/category": "category",
    "inventory/supplier": "supplier",
    "inventory/product": "product",
    "inventory/customer": "customer",
    "inventory/stocklevel": "stocklevel",
    "inventory/stockmovement": "movement",
    "inventory/sale": "sale",
    "exports/export": "export",
    "accounts/user": "user",
    "accounts/role": "role",
    "accounts/integratorkey": "key",
    "auditlog/signinevent": "signinevent",
    "auditlog/accessevent": "accessevent",
    "lifecycle/backup": "backup",
    "lifecycle/restoredrill": "drill",
    "backoffice/purchaseorder": "purchaseorder",
    "backoffice/stocktake": "stocktake",
    "backoffice/transfer": "transfer",
}
METHODS = ("get", "post", "put", "patch", "delete")
# Routes that answer 404 to Bob too, so the control (Bob reading his own ids) leaves them out. They
# stay in the matrix: what would make them answer must not make them answer another tenant.
NOT_FOUND_FOR_ANYONE = {
    # No model has get_absolute_url, so the admin's "view on site" finds no page for any object.
    "admin/r/<path:content_type_id>/<path:object_id>/",
    # The export is queued, not built (building reads through the owner role: a transactional
    # test; tests/exports checks another tenant's download of a built one).
    "admin/exports/export/<uuid:export_id>/download/",
}


def _walk(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _parameters(route: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>", route)


def object_patterns():
    """(route, pattern, target) for every pattern with a parameter that names an object.

    `target` is one of tenant B's objects, or a {parameter: object} mapping.
    """
    found = []
    for route, pattern in _walk(get_resolver()):
        if ("<" not in route and "(?P<" not in route) or route in NOT_OBJECTS:
            continue
        if route.startswith("admin/"):
            model = "/".join(route.split("/")[1:3])
            if route == "admin/(?P<url>.*)$" or "(?P<app_label>" in route:
                continue  # the catch-all and the app index name no object
            target = TARGETS.get(pattern.name) or ADMIN_MODELS.get(model)
        else:
            target = TARGETS.get(pattern.name)
        if target is None:
            names = _parameters(route)
            if names and all(name in PARAMETERS for name in names):
                target = {name: PARAMETERS[name] for name in names}
        found.append((route, pattern, target))
    return found


def test_every_pattern_is_covered():
    uncovered = [route for route, _, target in object_patterns() if target is None]
    assert not uncovered, f"add these URL patterns to the cross-tenant matrix: {uncovered}"


@pytest.fixture
def bobs_objects(cast_b, tenant_b, stores_b):
    """One of everything in Bob's chain, made by his staff of every role (cast_b)."""
    owner = cast_b["owner"]
    token_for(cast_b["integrator"])
    service = ServiceUserFactory(tenant=tenant_b, username="bobs-erp")
    key_for(service)
    with tenant_context(tenant_b):
        store = stores_b[0]
        category = category_create(actor=None, name="Bob's shelf")
        supplier = supplier_create(actor=None, name="Bob's supplier")
        product = product_create(actor=None, sku="B-1", name="Bob's tea", price=Decimal("2.00"))
        customer = customer_create(actor=None, name="Bob's customer", email="c@bob.example")
        movement = stock_receive(store=store, product=product, quantity=5, actor=None)
        shift = shift_open(store=store, register="1", opening_float=Decimal("50.00"), actor=owner)
        sale = sale_create(
            store=store,
            lines=[SaleLineInput(product=product, quantity=1)],
            payments=[PaymentInput(method="card", amount=Decimal("2.00"))],
            actor=cast_b["cashier"],
        )
        with as_maintenance():  # the privileged worker records these
            backup = Backup.objects.create(tenant=tenant_b, region="local")
            drill = RestoreDrill.objects.create(tenant=tenant_b, status=RestoreDrill.Status.PASSED)
        objects = {
            "user": cast_b["cashier"].pk,
            "role": Role.objects.get(builtin="cashier").pk,
            "grant": SupportGrant.objects.create(
                staff_username="s",
                reason="r",
                permissions=[],
                granted_by=owner,
                expires_at=timezone.now() + timezone.timedelta(days=1),
            ).pk,
            "token": ApiToken.objects.get(user=cast_b["integrator"]).pk,
            "key": ApiToken.objects.get(user=service, kind="integrator").pk,
            "session": UserSession.objects.create(user=cast_b["store_manager"], key_hash="x" * 64).pk,
            "store": store.pk,
            "category": category.pk,
            "supplier": supplier.pk,
            "product": product.pk,
            "customer": customer.pk,
            "stocklevel": StockLevel.objects.get(store=store, product=product).pk,
            "movement": movement.pk,
            "sale": sale.pk,
            "shift": shift.pk,
            "export": export_create(actor=owner, kind="products").pk,
            "signinevent": SignInEvent.objects.create(
                username=cast_b["auditor"].username, outcome="failure", channel="web"
            ).pk,
            "accessevent": AccessEvent.objects.create(
                tenant_id=tenant_b.pk,
                request_id=uuid.uuid4(),
                store_id=store.pk,
                host="bob-chain.localhost",
                method="GET",
                path="/bobs/",
                status=200,
                duration_ms=1.0,
            ).pk,
            "backup": backup.pk,
            "drill": drill.pk,
            "productimport": product_import_create(actor=owner, data="sku,name,price\nB-2,Tea,1\n").pk,
            **_bobs_back_office(store, supplier, product),
            "webhook": webhook_create(actor=owner, url="https://hooks.bob.example/", events=["sale.created"])[
                0
            ].pk,
            "erasure": CustomerErasure.objects.create(
                customer_id=customer.pk, requested_by=owner, reason="r"
            ).pk,
        }
    return objects


def _bobs_back_office(store, supplier, product) -> dict:
    """An ordered purchase order, a stocktake in progress and a transfer in transit of Bob's."""
    second = Store.objects.create(name="Bob's back room")
    order = purchase_order_create(
        supplier=supplier, store=store, lines=[OrderLineInput(product=product, quantity=2)], actor=None
    )
    purchase_order_order(order=order, actor=None)
    transfer = transfer_send(
        from_store=store, to_store=second, lines=[TransferLineInput(product=product, quantity=1)], actor=None
    )
    return {
        "purchaseorder": order.pk,
        "stocktake": stocktake_start(store=store, actor=None).pk,
        "transfer": transfer.pk,
    }


def _url(route: str, target, objects: dict) -> str:
    def value(match):
        name = match.group(1)
        return str(objects[target[name]] if isinstance(target, dict) else objects[target])

    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", value, route)
    path = re.sub(r"<(?:\w+:)?(\w+)>", value, path)
    return "/" + path.lstrip("^").rstrip("$").replace("^", "")


def _methods(pattern) -> list[str]:
    callback = pattern.callback
    if hasattr(callback, "actions"):
        return [m for m in callback.actions if m in callback.cls.http_method_names]
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        return [m for m in METHODS if hasattr(view_class, m)]
    return ["get", "post"]


def _browser(user) -> Client:
    """A web client on the user's tenant host, signed in (the session as sign-in leaves it)."""
    from accounts.sessions import session_key_hash

    browser = Client(HTTP_HOST=tenant_host(user))
    with tenant_context(user.tenant):
        browser.force_login(user)
        session = browser.session
        session["kassa_started"] = session["kassa_seen"] = timezone.now().timestamp()
        session.save()
        UserSession.objects.create(user=user, key_hash=session_key_hash(session.session_key))
    return browser


def _requests(owner_api, browser, objects: dict, targets=None, methods=METHODS, skip=()):
    """(route, method, url, response) for every object pattern, its parameters filled from `objects`.

    Only the patterns whose target is in `targets` (all if None) and whose route is not in `skip`,
    only `methods`.
    """
    from django.contrib.contenttypes.models import ContentType

    for route, pattern, target in object_patterns():
        if target is None:
            continue  # reported by test_every_pattern_is_covered
        if route in skip:
            continue
        if targets is not None and not targets & (
            set(target.values()) if isinstance(target, dict) else {target}
        ):
            continue
        if target == "view_on_site":
            content_type = ContentType.objects.get_for_model(Product)
            url = f"/admin/r/{content_type.pk}/{objects['product']}/"
        else:
            url = _url(route, target, objects)
        for method in _methods(pattern):
            if method not in methods:
                continue
            if route.startswith("api/"):
                response = getattr(owner_api, method)(url, {})
            else:
                response = getattr(browser, method)(url, secure=True)
                if response.status_code in (301, 302) and "/change/" in response.get("Location", ""):
                    response = browser.get(response["Location"], secure=True)
                if response.status_code == 405 and not hasattr(pattern.callback, "view_class"):
                    continue  # a function view that does not serve this method reveals nothing
            yield route, method, url, response


def test_another_tenants_ids_answer_404_everywhere(cast_a, bobs_objects, api):
    checked = 0
    for _, method, url, response in _requests(api(cast_a["owner"]), _browser(cast_a["owner"]), bobs_objects):
        assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"
        checked += 1
    print(f"cross-tenant matrix: {checked} requests over {len(object_patterns())} object patterns")
    assert checked >= 60


def test_every_one_of_bobs_staff_answers_404_to_alices_owner(cast_a, cast_b, bobs_objects, api):
    """Each user page and endpoint, with each of Bob's users (owner to auditor), for every method."""
    owner_api, browser = api(cast_a["owner"]), _browser(cast_a["owner"])
    checked = 0
    for role, user in cast_b.items():
        objects = {**bobs_objects, "user": user.pk}
        for _, method, url, response in _requests(owner_api, browser, objects, targets={"user"}):
            assert response.status_code == 404, (
                f"{role}: {method.upper()} {url} answered {response.status_code}"
            )
            checked += 1
    assert checked >= 5 * 10


def test_bobs_ids_lead_bob_to_his_objects(cast_b, bobs_objects, api):
    """The control: the same URLs read (GET) by Bob's owner find every object, so each 404 above
    comes from the tenant boundary, not from an id or URL that names nothing."""
    found = {}
    for _, method, url, response in _requests(
        api(cast_b["owner"]),
        _browser(cast_b["owner"]),
        bobs_objects,
        methods=("get",),
        skip=NOT_FOUND_FOR_ANYONE,
    ):
        found[f"{method.upper()} {url}"] = response.status_code
    missing = {request: status for request, status in found.items() if status == 404}
    assert not missing
    assert len(found) >= 40


def test_bobs_objects_exist_for_bob(bobs_objects, tenant_b):
    """The ids above are real: under Bob's tenant every one of them is found."""
    with tenant_context(tenant_b):
        assert Product.objects.filter(pk=bobs_objects["product"]).exists()
        assert Sale.objects.filter(pk=bobs_objects["sale"]).exists()
        assert Customer.objects.filter(pk=bobs_objects["customer"]).exists()
        assert Category.objects.filter(pk=bobs_objects["category"]).exists()
        assert Supplier.objects.filter(pk=bobs_objects["supplier"]).exists()
        assert StockMovement.objects.filter(pk=bobs_objects["movement"]).exists()
        assert Store.objects.filter(pk=bobs_objects["store"]).exists()


# Patterns without an object that act on the host's own chain (the matrix above walks only the
# patterns with a parameter): with Bob's session or token on Alice's host they show nothing of
# Alice's chain and change nothing; the claim of a purge certificate is the platform host's.
HOST_SCOPED = ["admin/lifecycle/termination/", "api/v1/termination/", "api/v1/purge-certificate/"]


def test_the_chains_end_is_not_reached_from_another_chain(cast_a, cast_b, tenant_a, api):
    from tenants.models import Tenant

    routes = {route for route, _ in _walk(get_resolver())}
    assert set(HOST_SCOPED) <= routes
    alice_host = tenant_host(cast_a["owner"])
    bob_browser = _browser(cast_b["owner"])
    bob_on_alice = Client(HTTP_HOST=alice_host)
    bob_on_alice.cookies = bob_browser.cookies
    page = bob_on_alice.get("/admin/lifecycle/termination/", secure=True)
    assert page.status_code == 302 and "login" in page["Location"]  # no admin user here
    posted = bob_on_alice.post("/admin/lifecycle/termination/", {"confirm": tenant_a.slug}, secure=True)
    assert posted.status_code == 302
    bob_api = api(cast_b["owner"])
    bob_api.client.defaults["HTTP_HOST"] = alice_host
    assert bob_api.get("/api/v1/termination/").status_code == 401  # a token works on its own host
    assert bob_api.post("/api/v1/termination/", {"confirm": tenant_a.slug}).status_code == 401
    claim = api().client.get("/api/v1/purge-certificate/", secure=True, HTTP_HOST=alice_host)
    assert claim.status_code == 404  # only on the platform host
    assert Tenant.objects.get(pk=tenant_a.pk).status == Tenant.Status.ACTIVE
