"""Issue 16, item 6: an export needs the view permission of what it holds; the cashier creates
customers but neither changes, exports nor erases them."""

from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connections

from accounts.models import Role
from accounts.permissions import BUILTIN_ROLES, CATALOGUE
from exports.models import Export
from inventory.models import Customer
from inventory.services.customers import customer_create
from tenants.context import tenant_context
from tests.conftest import make_user


def role_id(tenant, key) -> str:
    with tenant_context(tenant):
        return str(Role.objects.get(builtin=key).pk)


def exports_of(tenant) -> int:
    with tenant_context(tenant):
        return Export.objects.count()


def test_the_catalogue_and_the_cashier_role(cast_a, api):
    codes = {entry["code"] for entry in api(cast_a["cashier"]).get("/api/v1/permissions/").json()}
    assert "create_customers" in codes and set(CATALOGUE) == codes
    cashier = BUILTIN_ROLES["cashier"]["permissions"]
    assert {"view_customers", "create_customers"} <= set(cashier)
    assert not {"manage_customers", "export"} & set(cashier)
    assert set(api(cast_a["cashier"]).get("/api/v1/me/").json()["permissions"]) == {
        "view_products",
        "sell",
        "view_customers",
        "create_customers",
        "count_stock",  # counting at a stocktake (issue 19)
        "give_discount",  # up to the role's 10 % ceiling (issue 18)
        "manage_shifts",  # opening and closing the register's shift (issue 18)
    }


def test_a_cashier_creates_a_customer_but_cannot_change_export_or_erase_one(cast_a, api, tenant_a):
    client = api(cast_a["cashier"])
    created = client.post("/api/v1/customers/", {"name": "Walk-in", "email": "walk@example.com"})
    assert created.status_code == 201
    customer_id = created.json()["id"]
    assert client.get(f"/api/v1/customers/{customer_id}/").status_code == 200
    for method, path, body in [
        ("patch", f"/api/v1/customers/{customer_id}/", {"name": "Changed"}),
        ("get", f"/api/v1/customers/{customer_id}/export/", None),
        ("post", f"/api/v1/customers/{customer_id}/erase/", None),
        ("post", "/api/v1/exports/", {"kind": "customers"}),
        ("get", "/api/v1/exports/customers.csv", None),
    ]:
        answer = getattr(client, method)(path, body)
        assert answer.status_code == 403, (method, path, answer.content)
        assert answer.json()["code"] == "permission_denied"
    with tenant_context(tenant_a):
        customer = Customer.objects.get(pk=customer_id)
        assert customer.name == "Walk-in" and customer.erased_at is None
    assert exports_of(tenant_a) == 0


def test_a_cashier_adds_a_customer_in_the_admin_but_cannot_change_one(cast_a, tenant_a, web):
    client = web(cast_a["cashier"])
    answer = client.post(
        "/admin/inventory/customer/add/", {"name": "Till customer", "email": "", "phone": ""}, secure=True
    )
    assert answer.status_code == 302, answer.content[:300]
    with tenant_context(tenant_a):
        customer = Customer.objects.get()
    page = client.post(f"/admin/inventory/customer/{customer.pk}/change/", {"name": "Renamed"}, secure=True)
    assert page.status_code == 403
    with tenant_context(tenant_a):
        assert Customer.objects.get().name == "Till customer"


@pytest.mark.parametrize(
    ("kind", "allowed"),
    [
        ("audit", True),
        ("sales", True),
        ("products", True),
        ("stock", True),
        ("customers", False),
        ("full", False),
    ],
)
def test_the_auditor_exports_only_what_it_may_view(cast_a, api, tenant_a, kind, allowed):
    """The auditor holds `export` and view_products, view_sales, view_chain_logs, not view_customers."""
    answer = api(cast_a["auditor"]).post("/api/v1/exports/", {"kind": kind})
    if allowed:
        assert answer.status_code == 202, answer.content
        assert exports_of(tenant_a) == 1
    else:
        assert answer.status_code == 403
        assert answer.json()["code"] == "permission_denied" and "view_customers" in answer.json()["detail"]
        assert exports_of(tenant_a) == 0


def test_the_streamed_csv_needs_the_view_permission_too(cast_a, api):
    client = api(cast_a["auditor"])
    assert client.get("/api/v1/exports/products.csv").status_code == 200
    refused = client.get("/api/v1/exports/customers.csv")
    assert refused.status_code == 403 and "view_customers" in refused.json()["detail"]


def test_an_export_of_sales_needs_view_sales_in_every_store(cast_a, api, tenant_a, stores_a):
    custom = api(cast_a["owner"]).post(
        "/api/v1/roles/", {"name": "Store exporter", "permissions": ["export", "view_sales", "view_products"]}
    )
    assert custom.status_code == 201
    with tenant_context(tenant_a):
        role = Role.objects.get(pk=custom.json()["id"])
    from accounts.services import user_create
    from tests.factories import PASSWORD

    with tenant_context(tenant_a):
        exporter = user_create(
            username="exporter",
            password=PASSWORD,
            roles=[role],
            stores=[stores_a[0]],
            must_change_password=False,
        )
    answer = api(exporter).post("/api/v1/exports/", {"kind": "sales"})
    assert answer.status_code == 403 and "every store" in answer.json()["detail"]
    assert exports_of(tenant_a) == 0


def test_a_refused_export_kind_cannot_be_downloaded_later(cast_a, api, tenant_a, stores_a):
    """An export made while the permission was held is not downloadable once it is lost."""
    from exports.services import export_create

    auditor = make_user(tenant_a, "aud2", "auditor")
    with tenant_context(tenant_a):
        export = export_create(actor=auditor, kind="audit", enqueue=False)
        Export.objects.filter(pk=export.pk).update(status=Export.Status.DONE, object_key="x")
        role = Role.objects.get(builtin="auditor")
        role.permissions = [p for p in role.permissions if p != "view_chain_logs"]
        role.save(update_fields=["permissions"])
    answer = api(auditor).get(f"/api/v1/exports/{export.pk}/download/")
    assert answer.status_code == 403


def test_the_data_migration_updates_the_roles_of_existing_tenants(cast_a, tenant_a, tenant_b):
    from importlib import import_module

    migration = import_module("accounts.migrations.0004_customer_permissions")
    old_cashier = ["manage_customers", "sell", "view_customers", "view_products"]
    with tenant_context(tenant_a):
        Role.objects.filter(builtin="cashier").update(permissions=old_cashier)
        Role.objects.filter(builtin="store_manager").update(
            permissions=[p for p in BUILTIN_ROLES["store_manager"]["permissions"] if p != "create_customers"]
        )
        Role.objects.filter(builtin="owner").update(permissions=sorted(set(CATALOGUE) - {"create_customers"}))
        custom = Role.objects.create(name="Loyalty desk", permissions=["manage_customers", "view_customers"])
    with tenant_context(tenant_b):
        Role.objects.filter(builtin="cashier").update(permissions=old_cashier)
    touched = migration.customer_permissions_update(apps, SimpleNamespace(connection=connections["default"]))
    assert touched >= 2
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            assert Role.objects.get(builtin="cashier").permissions == [
                "create_customers",
                "sell",
                "view_customers",
                "view_products",
            ]
    with tenant_context(tenant_a):
        assert Role.objects.get(pk=custom.pk).permissions == [
            "create_customers",
            "manage_customers",
            "view_customers",
        ]
        assert set(Role.objects.get(builtin="owner").permissions) == set(CATALOGUE)
        assert "create_customers" in Role.objects.get(builtin="store_manager").permissions
        assert set(Role.objects.get(builtin="auditor").permissions) == set(
            BUILTIN_ROLES["auditor"]["permissions"]
        )
    # Running it again changes nothing.
    migration.customer_permissions_update(apps, SimpleNamespace(connection=connections["default"]))
    with tenant_context(tenant_a):
        assert Role.objects.get(builtin="cashier").permissions == [
            "create_customers",
            "sell",
            "view_customers",
            "view_products",
        ]


def test_customer_create_service_refuses_an_actor_without_create_customers(cast_a, tenant_a):
    from django.core.exceptions import PermissionDenied

    with tenant_context(tenant_a), pytest.raises(PermissionDenied):
        customer_create(actor=cast_a["auditor"], name="Nope")
    with tenant_context(tenant_a):
        assert not Customer.objects.exists()
