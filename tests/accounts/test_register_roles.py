"""The register's part of roles: the discount ceiling (0-100), the home page after sign-in, and the
new permissions in every existing tenant's built-in roles (the data migration)."""

import importlib
from decimal import Decimal

from django.apps import apps as django_apps

from accounts.models import Role
from accounts.permissions import (
    BUILTIN_ROLES,
    CATALOGUE,
    GIVE_DISCOUNT,
    MANAGE_SHIFTS,
    REFUND_WITHOUT_RECEIPT,
)
from tests.conftest import signed_in


def test_the_catalogue_and_the_built_in_roles_hold_the_new_permissions(tenant_a, as_tenant):
    assert {GIVE_DISCOUNT, REFUND_WITHOUT_RECEIPT, MANAGE_SHIFTS} <= set(CATALOGUE)
    with as_tenant(tenant_a):
        roles = {role.builtin: role for role in Role.objects.exclude(builtin="")}
    assert {GIVE_DISCOUNT, MANAGE_SHIFTS} <= set(roles["cashier"].permissions)
    assert REFUND_WITHOUT_RECEIPT not in roles["cashier"].permissions
    assert {GIVE_DISCOUNT, REFUND_WITHOUT_RECEIPT, MANAGE_SHIFTS} <= set(roles["store_manager"].permissions)
    assert (roles["cashier"].max_discount_percent, roles["cashier"].home) == (Decimal("10.00"), "register")
    assert roles["store_manager"].max_discount_percent == Decimal("100.00")
    assert set(roles["owner"].permissions) == set(CATALOGUE)
    assert BUILTIN_ROLES["cashier"]["max_discount_percent"] == 10


def test_the_migration_gives_existing_tenants_roles_the_new_permissions(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        Role.objects.filter(builtin="cashier").update(
            permissions=["sell", "view_products"], max_discount_percent=0
        )
        Role.objects.filter(builtin="store_manager").update(permissions=["sell"])
    migration = importlib.import_module("accounts.migrations.0010_role_register_fields")
    from django.db import connection

    class Editor:  # what RunPython hands the function
        pass

    editor = Editor()
    editor.connection = connection
    migration.forwards(django_apps, editor)
    with as_tenant(tenant_a):
        cashier = Role.objects.get(builtin="cashier")
        manager = Role.objects.get(builtin="store_manager")
    assert cashier.permissions == sorted({"sell", "view_products", GIVE_DISCOUNT, MANAGE_SHIFTS})
    assert cashier.max_discount_percent == Decimal("10.00") and cashier.home == "register"
    assert set(manager.permissions) == {"sell", GIVE_DISCOUNT, REFUND_WITHOUT_RECEIPT, MANAGE_SHIFTS}


def test_a_roles_ceiling_is_0_to_100_and_its_home_one_of_the_homes(api, cast_a, tenant_a, as_tenant):
    client = api(cast_a["owner"])
    with as_tenant(tenant_a):
        role = Role.objects.get(builtin="cashier")
    for field, value in (
        ("max_discount_percent", "100.01"),
        ("max_discount_percent", "-1"),
        ("home", "moon"),
    ):
        answer = client.patch(f"/api/v1/roles/{role.pk}/", {field: value})
        assert answer.status_code == 400 and field in answer.json()["fields"], answer.content
    with as_tenant(tenant_a):
        assert Role.objects.get(pk=role.pk).max_discount_percent == Decimal("10.00")
    ok = client.patch(f"/api/v1/roles/{role.pk}/", {"max_discount_percent": "15.50"})
    assert ok.status_code == 200 and ok.json()["max_discount_percent"] == "15.50"


def test_staff_land_on_their_roles_home_unless_a_page_was_asked_for(cast_a):
    from tests.conftest import PASSWORD, web_client

    client = web_client()
    landed = client.post("/login/", {"username": "cody", "password": PASSWORD}, secure=True)
    assert landed["Location"] == "/pos/"
    asked = web_client().post(
        "/login/", {"username": "cody", "password": PASSWORD, "next": "/account/"}, secure=True
    )
    assert asked["Location"] == "/account/"
    owner = web_client().post("/login/", {"username": "alice", "password": PASSWORD}, secure=True)
    assert owner["Location"] == "/account/"
    assert (
        signed_in(cast_a["cashier"]).get("/pos/", secure=True).status_code == 302
    )  # one store: its register
