"""Issue 16, item 3: integrator keys only for service users, never for oneself, scopes within what
the user holds; list, revoke, rotate with overlap; an expiry warning; never on the platform host."""

import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import ApiToken, Role, User
from accounts.services import keys_expiry_warn
from auditlog.models import SignInEvent
from tenants.context import tenant_context
from tests.conftest import PASSWORD, HttpsApiClient, key_for, make_user, transactional, web_client
from tests.factories import ServiceUserFactory

HOST_A = "alice-chain.localhost"


def role_id(tenant, key) -> str:
    with tenant_context(tenant):
        return str(Role.objects.get(builtin=key).pk)


def keys_of(tenant, user) -> list[ApiToken]:
    with tenant_context(tenant):
        return list(ApiToken.objects.filter(user=user).order_by("created_at"))


def new_key(client, user, **body):
    return client.post(f"/api/v1/users/{user.pk}/keys/", {"name": "erp", "scopes": ["view_products"], **body})


def test_a_service_user_is_made_without_a_password_and_cannot_sign_in(cast_a, tenant_a, mfa_api):
    owner = mfa_api(cast_a["owner"])
    body = {"username": "erp-sync", "roles": [role_id(tenant_a, "integrator")], "is_service": True}
    created = owner.post("/api/v1/users/", body)
    assert created.status_code == 201 and created.json()["is_service"] is True
    assert owner.post(
        "/api/v1/users/", {**body, "username": "x2", "password": "a-strong-password-77"}
    ).json()["fields"] == {"password": ["A service user has no password; it acts through keys."]}
    person = owner.post("/api/v1/users/", {**body, "username": "x3", "is_service": False})
    assert person.status_code == 400 and "password" in person.json()["fields"]
    with tenant_context(tenant_a):
        service = User.objects.get(username="erp-sync")
        assert not service.has_usable_password()
        assert not User.objects.filter(username__in=["x2", "x3"]).exists()
    # No password sign-in anywhere; and an administrator cannot give it one.
    signin = HttpsApiClient().post(
        "/api/v1/auth/token/", {"tenant": "alice-chain", "username": "erp-sync", "password": "any-password-1"}
    )
    assert signin.status_code == 401 and signin.json()["code"] == "invalid_credentials"
    page = web_client().post(
        "/login/", {"username": "erp-sync", "password": "anything-at-all-1"}, secure=True
    )
    assert page.status_code == 200 and b"Wrong username or password" in page.content
    reset = owner.post(f"/api/v1/users/{service.pk}/password/", {"new_password": "a-strong-password-77"})
    assert reset.status_code == 400 and "new_password" in reset.json()["fields"]
    with tenant_context(tenant_a):
        assert SignInEvent.objects.filter(username="erp-sync", reason="service_user").exists()
        assert not User.objects.get(pk=service.pk).has_usable_password()


def test_a_key_works_for_its_service_user_on_the_tenant_host_only(cast_a, tenant_a, mfa_api):
    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    answer = new_key(mfa_api(cast_a["owner"]), service)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert set(body) == {"id", "token", "prefix", "scopes", "expires_at", "idle_timeout_seconds"}
    assert body["scopes"] == ["view_products"] and body["idle_timeout_seconds"] is None
    on_tenant = HttpsApiClient(body["token"], host=HOST_A)
    assert on_tenant.get("/api/v1/me/").json()["permissions"] == ["view_products"]
    on_platform = HttpsApiClient(body["token"])  # 127.0.0.1, the platform host
    refused = on_platform.get("/api/v1/me/")
    assert refused.status_code == 401 and refused.json()["code"] == "not_authenticated"


def test_keys_are_only_for_service_users(cast_a, tenant_a, mfa_api):
    answer = new_key(mfa_api(cast_a["owner"]), cast_a["cashier"])
    assert answer.status_code == 400 and answer.json()["fields"] == {
        "user": ["Keys are only for service users."]
    }
    assert [k for k in keys_of(tenant_a, cast_a["cashier"]) if k.kind == "integrator"] == []


def test_nobody_makes_a_key_for_themselves(cast_a, tenant_a, mfa_api):
    owner = cast_a["owner"]
    answer = new_key(mfa_api(owner), owner)
    assert answer.status_code == 403 and answer.json()["code"] == "permission_denied"
    assert not [k for k in keys_of(tenant_a, owner) if k.kind == "integrator"]


def test_a_service_users_key_cannot_make_a_key_for_itself_or_another(cast_a, tenant_a, stores_a):
    """A key holding manage_users still has no second factor, so keys cannot mint keys."""
    admin = ServiceUserFactory(tenant=tenant_a, username="provisioner", role="owner")
    other = ServiceUserFactory(tenant=tenant_a, username="other")
    client = key_for(admin, scopes=["manage_users", "view_products"])
    assert new_key(client, admin).status_code == 403
    refused = new_key(client, other)
    assert refused.status_code == 403 and refused.json()["code"] == "second_factor_required"
    assert len(keys_of(tenant_a, other)) == 0


def test_scopes_are_required_and_within_the_users_permissions(cast_a, tenant_a, mfa_api):
    service = ServiceUserFactory(tenant=tenant_a, username="erp")  # the integrator role
    owner = mfa_api(cast_a["owner"])
    for scopes, fragment in [
        ([], "scopes"),
        (["manage_users"], "scopes"),  # the integrator role does not hold it
        (["view_products", "export"], "scopes"),
        (["no_such_permission"], "scopes"),
        (["x" * 10_000], "scopes"),
    ]:
        answer = owner.post(f"/api/v1/users/{service.pk}/keys/", {"name": "erp", "scopes": scopes})
        assert answer.status_code == 400, (scopes, answer.content)
        assert answer.json()["code"] == "invalid" and fragment in answer.json()["fields"]
    missing = owner.post(f"/api/v1/users/{service.pk}/keys/", {"name": "erp"})
    assert missing.status_code == 400 and "scopes" in missing.json()["fields"]
    beyond = owner.post(f"/api/v1/users/{service.pk}/keys/", {"name": "erp", "scopes": ["manage_users"]})
    assert "does not hold: manage_users" in beyond.json()["fields"]["scopes"][0]
    assert keys_of(tenant_a, service) == []


def test_key_management_needs_the_callers_second_factor(cast_a, tenant_a, api):
    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    answer = new_key(api(cast_a["owner"]), service)
    assert answer.status_code == 403 and answer.json()["code"] == "second_factor_required"
    assert keys_of(tenant_a, service) == []


def test_the_list_shows_everything_but_the_secret(cast_a, tenant_a, mfa_api):
    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    owner = mfa_api(cast_a["owner"])
    created = new_key(owner, service, allowed_ips=["10.0.0.0/8"]).json()
    listed = owner.get(f"/api/v1/users/{service.pk}/keys/")
    assert listed.status_code == 200
    (row,) = listed.json()["results"]
    assert set(row) == {
        "id",
        "name",
        "prefix",
        "scopes",
        "allowed_ips",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "rotated_at",
        "expires_soon",
    }
    assert row["id"] == created["id"] and row["prefix"] == created["prefix"] and row["expires_soon"] is False
    assert created["token"] not in listed.content.decode()
    with tenant_context(tenant_a):
        stored = ApiToken.objects.get(pk=created["id"])
    assert stored.token_hash not in listed.content.decode()


def test_revoke_stops_the_key_now(cast_a, tenant_a, mfa_api, api):
    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    owner = mfa_api(cast_a["owner"])
    created = new_key(owner, service).json()
    client = HttpsApiClient(created["token"], host=HOST_A)
    assert client.get("/api/v1/products/").status_code == 200
    refused = api(cast_a["cashier"]).post(f"/api/v1/keys/{created['id']}/revoke/")
    assert refused.status_code == 403
    assert client.get("/api/v1/products/").status_code == 200
    assert api(cast_a["owner"]).post(f"/api/v1/keys/{created['id']}/revoke/").status_code == 204
    assert client.get("/api/v1/products/").status_code == 401


def test_rotate_gives_a_new_secret_and_the_old_one_works_for_the_overlap(cast_a, tenant_a, mfa_api):
    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    owner = mfa_api(cast_a["owner"])
    created = new_key(owner, service, allowed_ips=["127.0.0.0/8"]).json()
    old = HttpsApiClient(created["token"], host=HOST_A)
    rotated = owner.post(f"/api/v1/keys/{created['id']}/rotate/")
    assert rotated.status_code == 201, rotated.content
    body = rotated.json()
    assert body["token"] != created["token"] and body["scopes"] == ["view_products"]
    new = HttpsApiClient(body["token"], host=HOST_A)
    assert old.get("/api/v1/products/").status_code == 200 and new.get("/api/v1/products/").status_code == 200
    with tenant_context(tenant_a):
        fresh = ApiToken.objects.get(pk=body["id"])
        assert fresh.allowed_ips == ["127.0.0.0/8"] and fresh.name == "erp"
    again = owner.post(f"/api/v1/keys/{created['id']}/rotate/")
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=23)):
        assert old.get("/api/v1/products/").status_code == 200
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=24, minutes=1)):
        assert old.get("/api/v1/products/").json()["code"] == "token_expired"
        assert new.get("/api/v1/products/").status_code == 200


def test_rotate_takes_a_stated_overlap_within_bounds(cast_a, tenant_a, mfa_api):
    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    owner = mfa_api(cast_a["owner"])
    created = new_key(owner, service).json()
    for overlap in (-1, 7 * 86400 + 1, "soon", 10**30):
        answer = owner.post(f"/api/v1/keys/{created['id']}/rotate/", {"overlap_seconds": overlap})
        assert answer.status_code == 400 and "overlap_seconds" in answer.json()["fields"]
    assert len(keys_of(tenant_a, service)) == 1
    immediate = owner.post(f"/api/v1/keys/{created['id']}/rotate/", {"overlap_seconds": 0})
    assert immediate.status_code == 201
    assert HttpsApiClient(created["token"], host=HOST_A).get("/api/v1/me/").json()["code"] == "token_expired"


def test_a_store_manager_manages_keys_of_service_users_in_their_stores_only(
    cast_a, tenant_a, stores_a, mfa_api
):
    near = ServiceUserFactory(tenant=tenant_a, username="near", role="cashier", stores=[stores_a[0]])
    far = ServiceUserFactory(tenant=tenant_a, username="far", role="cashier", stores=[stores_a[1]])
    far_key = key_for(far, scopes=["sell"])
    with tenant_context(tenant_a):
        far_id = ApiToken.objects.get(user=far).pk
    manager = mfa_api(cast_a["store_manager"])
    assert new_key(manager, far, scopes=["sell"]).status_code == 404
    assert manager.get(f"/api/v1/users/{far.pk}/keys/").status_code == 404
    assert manager.post(f"/api/v1/keys/{far_id}/revoke/").status_code == 404
    assert manager.post(f"/api/v1/keys/{far_id}/rotate/").status_code == 404
    assert far_key.get("/api/v1/me/").status_code == 200
    assert new_key(manager, near, scopes=["sell"]).status_code == 201


def test_another_tenants_keys_are_not_found(cast_a, cast_b, tenant_b, mfa_api):
    bobs = ServiceUserFactory(tenant=tenant_b, username="bobs-erp")
    key = key_for(bobs)
    with tenant_context(tenant_b):
        key_id = ApiToken.objects.get(user=bobs).pk
    owner = mfa_api(cast_a["owner"])
    for path in (f"/api/v1/keys/{key_id}/revoke/", f"/api/v1/keys/{key_id}/rotate/"):
        answer = owner.post(path)
        assert answer.status_code == 404 and answer.json() == {"code": "not_found", "detail": "Not found."}
    assert owner.get(f"/api/v1/users/{bobs.pk}/keys/").status_code == 404
    assert key.get("/api/v1/me/").status_code == 200
    with tenant_context(tenant_b):
        assert ApiToken.objects.get(pk=key_id).rotated_at is None


def test_a_service_user_holds_nothing_but_keys(cast_a, tenant_a):
    from tests.conftest import token_for

    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    user_token = HttpsApiClient(token_for(service), host=HOST_A)  # as if a sign-in had issued one
    assert user_token.get("/api/v1/me/").status_code == 401
    human_key = key_for(cast_a["integrator"])  # a key of a person (made before the rule)
    assert human_key.get("/api/v1/me/").status_code == 401


def test_owners_are_warned_fourteen_days_before_a_key_expires(
    cast_a, tenant_a, stores_a, mfa_api, mfa_web, web
):
    second = make_user(tenant_a, "olga", "owner")
    with tenant_context(tenant_a):
        User.objects.filter(pk=cast_a["owner"].pk).update(email="alice@example.com")
        User.objects.filter(pk=second.pk).update(email="olga@example.com")
        User.objects.filter(pk=cast_a["cashier"].pk).update(email="cody@example.com")
    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    created = new_key(mfa_api(cast_a["owner"]), service).json()
    with time_machine.travel(timezone.now() + timezone.timedelta(days=75)), tenant_context(tenant_a):
        assert keys_expiry_warn() == 0 and mail.outbox == []  # 15 days left
    with time_machine.travel(timezone.now() + timezone.timedelta(days=77)):
        with tenant_context(tenant_a):
            assert keys_expiry_warn() == 1
            assert keys_expiry_warn() == 0  # once per key
        (message,) = mail.outbox
        assert sorted(message.to) == ["alice@example.com", "olga@example.com"]
        assert created["prefix"] in message.body and "erp" in message.body and "rotate" in message.body
        assert created["token"] not in message.body
        listed = mfa_api(cast_a["owner"]).get(f"/api/v1/users/{service.pk}/keys/").json()["results"]
        assert listed[0]["expires_soon"] is True
        dashboard = mfa_web(cast_a["owner"]).get("/admin/", secure=True)
        assert dashboard.status_code == 200 and created["prefix"].encode() in dashboard.content
        cashier_page = web(cast_a["cashier"]).get("/admin/", secure=True)
        assert created["prefix"].encode() not in cashier_page.content


@transactional
def test_the_daily_warning_task_runs_in_the_worker(cast_a, tenant_a, celery_worker):
    from accounts.tasks import keys_expiry_warn_task

    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    key_for(service)
    with tenant_context(tenant_a):
        ApiToken.objects.filter(user=service).update(expires_at=timezone.now() + timezone.timedelta(days=3))
    assert keys_expiry_warn_task.delay().get(timeout=60) == 1
    assert keys_expiry_warn_task.delay().get(timeout=60) == 0
    with tenant_context(tenant_a):
        assert ApiToken.objects.get(user=service).expiry_warned_at is not None


def test_the_password_of_a_person_is_still_required(cast_a, tenant_a, mfa_api):
    answer = mfa_api(cast_a["owner"]).post(
        "/api/v1/users/", {"username": "newbie", "roles": [role_id(tenant_a, "cashier")]}
    )
    assert answer.status_code == 400 and answer.json()["fields"]["password"]
    signin = HttpsApiClient().post(
        "/api/v1/auth/token/", {"tenant": "alice-chain", "username": "cody", "password": PASSWORD}
    )
    assert signin.status_code == 201
