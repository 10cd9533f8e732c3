"""No one gives anyone more than they hold, or acts outside their stores."""

from accounts.models import Role, RoleAssignment, User
from tests.conftest import make_user


def role_id(tenant, key, as_tenant):
    with as_tenant(tenant):
        return str(Role.objects.get(builtin=key).pk)


def test_a_store_manager_cannot_create_an_owner(cast_a, api, tenant_a, stores_a, as_tenant):
    response = api(cast_a["store_manager"]).post(
        "/api/v1/users/",
        {
            "username": "mallory",
            "password": "a-strong-password-77",
            "roles": [role_id(tenant_a, "owner", as_tenant)],
            "stores": [str(stores_a[0].pk)],
        },
    )
    assert response.status_code == 403
    with as_tenant(tenant_a):
        assert not User.objects.filter(username="mallory").exists()


def test_a_store_manager_cannot_grant_a_permission_they_lack(cast_a, api, tenant_a, stores_a, as_tenant):
    custom = (
        api(cast_a["owner"])
        .post("/api/v1/roles/", {"name": "Exporter", "permissions": ["export", "sell"]})
        .json()
    )
    response = api(cast_a["store_manager"]).post(
        "/api/v1/users/",
        {
            "username": "mallory",
            "password": "a-strong-password-77",
            "roles": [custom["id"]],
            "stores": [str(stores_a[0].pk)],
        },
    )
    assert response.status_code == 403
    assert "export" in response.json()["detail"]


def test_a_store_manager_can_create_a_cashier_in_their_store_only(cast_a, api, tenant_a, stores_a, as_tenant):
    cashier = role_id(tenant_a, "cashier", as_tenant)
    client = api(cast_a["store_manager"])
    body = {"username": "newcashier", "password": "a-strong-password-77", "roles": [cashier]}
    assert client.post("/api/v1/users/", {**body, "stores": [str(stores_a[1].pk)]}).status_code == 403
    assert client.post("/api/v1/users/", body).status_code == 403  # no stores means every store
    created = client.post("/api/v1/users/", {**body, "stores": [str(stores_a[0].pk)]})
    assert created.status_code == 201
    assert created.json()["stores"] == [str(stores_a[0].pk)]


def test_a_store_manager_cannot_act_on_a_user_outside_their_stores(cast_a, api, tenant_a, stores_a):
    other = make_user(tenant_a, "far", "cashier", [stores_a[1]])
    client = api(cast_a["store_manager"])
    assert client.get(f"/api/v1/users/{other.pk}/").status_code == 404
    assert client.post(f"/api/v1/users/{other.pk}/deactivate/").status_code == 404
    listed = {u["username"] for u in client.get("/api/v1/users/").json()["results"]}
    assert "far" not in listed and "cody" in listed


def test_a_store_manager_cannot_touch_the_owner(cast_a, api):
    response = api(cast_a["store_manager"]).post(
        f"/api/v1/users/{cast_a['owner'].pk}/password/", {"new_password": "hijack-password-99"}
    )
    assert response.status_code in (403, 404)


def test_no_one_changes_their_own_roles(cast_a, api, tenant_a, as_tenant):
    owner_role = role_id(tenant_a, "owner", as_tenant)
    response = api(cast_a["store_manager"]).patch(
        f"/api/v1/users/{cast_a['store_manager'].pk}/", {"roles": [owner_role]}
    )
    assert response.status_code == 403
    with as_tenant(tenant_a):
        assert not RoleAssignment.objects.filter(user=cast_a["store_manager"], role__builtin="owner").exists()


def test_mass_assignment_of_tenant_id_and_flags_is_ignored(cast_a, api, tenant_a, tenant_b, as_tenant):
    cashier = role_id(tenant_a, "cashier", as_tenant)
    response = api(cast_a["owner"]).post(
        "/api/v1/users/",
        {
            "username": "sneaky",
            "password": "a-strong-password-77",
            "roles": [cashier],
            "tenant": str(tenant_b.pk),
            "is_platform_staff": True,
            "id": "00000000-0000-0000-0000-000000000001",
        },
    )
    assert response.status_code == 201
    assert response.json()["id"] != "00000000-0000-0000-0000-000000000001"
    with as_tenant(tenant_a):
        user = User.objects.get(username="sneaky")
    assert user.tenant_id == tenant_a.pk and not user.is_platform_staff


def test_a_role_from_another_tenant_cannot_be_assigned(cast_a, api, tenant_b, as_tenant):
    foreign = role_id(tenant_b, "owner", as_tenant)
    response = api(cast_a["owner"]).post(
        "/api/v1/users/", {"username": "x1", "password": "a-strong-password-77", "roles": [foreign]}
    )
    assert response.status_code == 400
    assert "roles" in response.json()["fields"]


def test_a_role_policy_cannot_go_below_the_floor(cast_a, api, tenant_a, as_tenant):
    role = role_id(tenant_a, "cashier", as_tenant)
    response = api(cast_a["owner"]).patch(
        f"/api/v1/roles/{role}/",
        {"password_min_length": 8, "lockout_threshold": 50, "lockout_cooloff_seconds": 60},
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "password_min_length",
        "lockout_threshold",
        "lockout_cooloff_seconds",
    }
    with as_tenant(tenant_a):
        assert Role.objects.get(pk=role).password_min_length == 15


def test_deactivation_ends_every_token(cast_a, api):
    cashier_client = api(cast_a["cashier"])
    assert cashier_client.get("/api/v1/me/").status_code == 200
    assert api(cast_a["owner"]).post(f"/api/v1/users/{cast_a['cashier'].pk}/deactivate/").status_code == 200
    assert cashier_client.get("/api/v1/me/").status_code == 401


def test_integrator_key_scopes_and_ip_allow_list(cast_a, tenant_a, mfa_api):
    from tests.conftest import HttpsApiClient
    from tests.factories import ServiceUserFactory

    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    owner = mfa_api(cast_a["owner"])
    key = owner.post(f"/api/v1/users/{service.pk}/keys/", {"name": "erp", "scopes": ["view_products"]}).json()
    me = HttpsApiClient(key["token"], host="alice-chain.localhost").get("/api/v1/me/").json()
    assert me["permissions"] == ["view_products"]
    assert key["idle_timeout_seconds"] is None
    fenced = owner.post(
        f"/api/v1/users/{service.pk}/keys/",
        {"name": "erp2", "scopes": ["view_products"], "allowed_ips": ["10.9.9.0/24"]},
    ).json()
    assert HttpsApiClient(fenced["token"], host="alice-chain.localhost").get("/api/v1/me/").status_code == 401
