"""Users, roles and the access logs in the tenant-scoped admin: the API's rules, the admin's pages."""

import uuid

import pytest

from accounts.models import Role, RoleAssignment, User
from auditlog.models import AccessEvent, SignInEvent
from tests.conftest import PASSWORD, HttpsApiClient, make_user, token_for
from tests.inventory.test_admin import get, post, signed_in

NEW_PASSWORD = "a-first-password-2024"


def sign_in_api(username, password=PASSWORD):
    body = {"tenant": "alice-chain", "username": username, "password": password}
    return HttpsApiClient().post("/api/v1/auth/token/", body)


def role(tenant, key):
    from tenants.context import tenant_context

    with tenant_context(tenant):
        return Role.objects.get(builtin=key)


def user_named(tenant, username):
    from tenants.context import tenant_context

    with tenant_context(tenant):
        return User.objects.filter(username=username).first()


def assignments(tenant, user):
    from tenants.context import tenant_context

    with tenant_context(tenant):
        return sorted(
            (a.role.builtin, a.store_id)
            for a in RoleAssignment.objects.filter(user=user).select_related("role")
        )


def errors_of(response) -> str:
    return response.content.decode()


# --- users --------------------------------------------------------------------------------


def test_the_owner_creates_a_user_who_can_then_sign_in(cast_a, tenant_a, stores_a):
    client = signed_in(cast_a["owner"])
    form = get(client, "/admin/accounts/user/add/")
    assert form.status_code == 200
    assert b'name="password"' in form.content and b"argon2" not in form.content
    cashier = role(tenant_a, "cashier")
    answer = post(
        client,
        "/admin/accounts/user/add/",
        {
            "username": "nina",
            "password": NEW_PASSWORD,
            "full_name": "Nina New",
            "email": "nina@alice.example",
            "roles": [cashier.pk],
            "stores": [stores_a[1].pk],
        },
    )
    assert answer.status_code == 302, errors_of(answer)[:3000]
    nina = user_named(tenant_a, "nina")
    assert nina.must_change_password and nina.full_name == "Nina New"
    assert nina.password.startswith("argon2")
    assert assignments(tenant_a, nina) == [("cashier", stores_a[1].pk)]
    signed = sign_in_api("nina", NEW_PASSWORD)
    assert signed.status_code == 201 and signed.json()["password_change_required"] is True
    change = get(client, f"/admin/accounts/user/{nina.pk}/change/")
    assert change.status_code == 200
    assert nina.password.encode() not in change.content and b"argon2" not in change.content
    listing = get(client, "/admin/accounts/user/?q=nin")
    assert b"nina" in listing.content and b"Nina New" in listing.content and b"Harbour" in listing.content


def test_a_password_breaking_the_policy_is_a_form_error(cast_a, tenant_a):
    answer = post(
        signed_in(cast_a["owner"]),
        "/admin/accounts/user/add/",
        {"username": "short", "password": "abc", "roles": [role(tenant_a, "cashier").pk]},
    )
    assert answer.status_code == 200 and b"errorlist" in answer.content
    assert user_named(tenant_a, "short") is None


def test_the_owner_edits_roles_and_details(cast_a, tenant_a, stores_a):
    cody = cast_a["cashier"]
    client = signed_in(cast_a["owner"])
    page = get(client, f"/admin/accounts/user/{cody.pk}/change/")
    assert page.status_code == 200
    answer = post(
        client,
        f"/admin/accounts/user/{cody.pk}/change/",
        {
            "full_name": "Cody Cash",
            "email": "cody@alice.example",
            "roles": [role(tenant_a, "cashier").pk, role(tenant_a, "auditor").pk],
            "stores": [stores_a[0].pk, stores_a[1].pk],
        },
    )
    assert answer.status_code == 302, errors_of(answer)[:3000]
    cody = user_named(tenant_a, "cody")
    assert cody.full_name == "Cody Cash" and cody.email == "cody@alice.example"
    assert {r for r, _ in assignments(tenant_a, cody)} == {"cashier", "auditor"}
    assert {s for _, s in assignments(tenant_a, cody)} == {stores_a[0].pk, stores_a[1].pk}


def test_nobody_changes_their_own_roles_here(cast_a, tenant_a):
    owner = cast_a["owner"]
    answer = post(
        signed_in(owner),
        f"/admin/accounts/user/{owner.pk}/change/",
        {"full_name": "Alice", "email": "", "roles": [role(tenant_a, "cashier").pk], "stores": []},
    )
    assert answer.status_code == 200 and b"your own roles" in answer.content
    assert assignments(tenant_a, owner) == [("owner", None)]


def test_deactivate_ends_the_users_tokens(cast_a, tenant_a):
    token = token_for(cast_a["cashier"])
    assert HttpsApiClient(token).get("/api/v1/me/").status_code == 200
    client = signed_in(cast_a["owner"])
    chosen = {"action": "deactivate", "_selected_action": [cast_a["cashier"].pk]}
    asked = post(client, "/admin/accounts/user/", chosen)  # a bulk action asks first
    assert asked.status_code == 200 and b'id="confirm-yes"' in asked.content and b"cody" in asked.content
    assert user_named(tenant_a, "cody").is_active
    answer = post(client, "/admin/accounts/user/", {**chosen, "kassa_confirmed": "yes"})
    assert answer.status_code == 302
    assert not user_named(tenant_a, "cody").is_active
    assert HttpsApiClient(token).get("/api/v1/me/").status_code == 401
    assert sign_in_api("cody").status_code == 401


def test_unlock_lets_a_locked_out_user_in_and_is_logged(cast_a, tenant_a, as_tenant):
    for _ in range(10):
        sign_in_api("cody", "wrong-password-1")
    assert sign_in_api("cody").status_code == 429
    client = signed_in(cast_a["owner"])
    chosen = {"action": "unlock", "_selected_action": [cast_a["cashier"].pk]}
    assert b'id="confirm-yes"' in post(client, "/admin/accounts/user/", chosen).content
    assert sign_in_api("cody").status_code == 429  # not before the confirmation
    answer = post(client, "/admin/accounts/user/", {**chosen, "kassa_confirmed": "yes"})
    assert answer.status_code == 302
    assert sign_in_api("cody").status_code == 201
    with as_tenant(tenant_a):
        assert SignInEvent.objects.filter(kind="unlock", username="cody").exists()


def test_password_reset_sets_a_password_to_change_at_first_use(cast_a, tenant_a):
    cody = cast_a["cashier"]
    token = token_for(cody)
    client = signed_in(cast_a["owner"])
    url = f"/admin/accounts/user/{cody.pk}/password/"
    assert get(client, url).status_code == 200
    refused = post(client, url, {"new_password": "short", "again": "short"})
    assert refused.status_code == 200 and b"errorlist" in refused.content
    assert sign_in_api("cody").status_code == 201  # unchanged
    done = post(client, url, {"new_password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert done.status_code == 302
    assert user_named(tenant_a, "cody").must_change_password
    assert HttpsApiClient(token).get("/api/v1/me/").status_code == 401
    assert sign_in_api("cody", NEW_PASSWORD).json()["password_change_required"] is True


def test_users_cannot_be_deleted(cast_a):
    client = signed_in(cast_a["owner"])
    assert get(client, f"/admin/accounts/user/{cast_a['cashier'].pk}/delete/").status_code == 403
    assert user_named(cast_a["owner"].tenant, "cody") is not None


# --- a store manager ----------------------------------------------------------------------


def test_a_store_manager_sees_only_users_of_their_stores(cast_a, tenant_a, stores_a):
    make_user(tenant_a, "hank", "cashier", [stores_a[1]])
    client = signed_in(cast_a["store_manager"])
    listing = get(client, "/admin/accounts/user/")
    assert listing.status_code == 200
    assert b"cody" in listing.content and b"hank" not in listing.content
    hank = user_named(tenant_a, "hank")
    assert get(client, f"/admin/accounts/user/{hank.pk}/change/").status_code == 404
    assert get(client, f"/admin/accounts/user/{hank.pk}/password/").status_code == 404
    form = get(client, "/admin/accounts/user/add/")
    stores = form.content.split(b'name="stores"', 1)[1] if b'name="stores"' in form.content else b""
    assert str(stores_a[0].pk).encode() in form.content and str(stores_a[1].pk).encode() not in stores


def test_a_store_manager_cannot_create_an_owner(cast_a, tenant_a, stores_a):
    answer = post(
        signed_in(cast_a["store_manager"]),
        "/admin/accounts/user/add/",
        {
            "username": "boss",
            "password": NEW_PASSWORD,
            "roles": [role(tenant_a, "owner").pk],
            "stores": [stores_a[0].pk],
        },
    )
    assert answer.status_code == 200 and b"errorlist" in answer.content
    assert b"do not hold" in answer.content
    assert user_named(tenant_a, "boss") is None


def test_a_store_manager_cannot_grant_a_permission_they_lack(cast_a, tenant_a, stores_a):
    client = signed_in(cast_a["store_manager"])
    answer = post(
        client,
        "/admin/accounts/user/add/",
        {
            "username": "audrey",
            "password": NEW_PASSWORD,
            "roles": [role(tenant_a, "auditor").pk],
            "stores": [stores_a[0].pk],
        },
    )
    assert answer.status_code == 200 and b"do not hold" in answer.content
    assert user_named(tenant_a, "audrey") is None
    cody = cast_a["cashier"]
    edit = post(
        client,
        f"/admin/accounts/user/{cody.pk}/change/",
        {"full_name": "", "email": "", "roles": [role(tenant_a, "auditor").pk], "stores": [stores_a[0].pk]},
    )
    assert edit.status_code == 200 and b"do not hold" in edit.content
    assert assignments(tenant_a, cody) == [("cashier", stores_a[0].pk)]


def test_a_store_manager_cannot_use_a_store_outside_their_scope(cast_a, tenant_a, stores_a):
    answer = post(
        signed_in(cast_a["store_manager"]),
        "/admin/accounts/user/add/",
        {
            "username": "olga",
            "password": NEW_PASSWORD,
            "roles": [role(tenant_a, "cashier").pk],
            "stores": [stores_a[1].pk],
        },
    )
    assert answer.status_code == 200 and b"errorlist" in answer.content  # the store is not offered
    assert user_named(tenant_a, "olga") is None


def test_a_store_manager_cannot_deactivate_the_owner(cast_a, tenant_a, stores_a):
    # The owner is not listed for them; an action naming the owner's id selects nothing.
    post(
        signed_in(cast_a["store_manager"]),
        "/admin/accounts/user/",
        {"action": "deactivate", "_selected_action": [cast_a["owner"].pk], "kassa_confirmed": "yes"},
    )
    assert user_named(tenant_a, "alice").is_active


# --- roles --------------------------------------------------------------------------------


def test_the_owner_creates_and_edits_a_role(cast_a, tenant_a):
    client = signed_in(cast_a["owner"])
    form = get(client, "/admin/accounts/role/add/")
    assert form.status_code == 200 and b'type="checkbox"' in form.content and b"view_products" in form.content
    data = {
        "name": "Stock clerk",
        "permissions": ["view_products", "receive_stock"],
        "password_min_length": 15,
        "password_require_classes": ["letter", "digit"],
        "password_history": 4,
        "password_max_age_days": 90,
        "lockout_threshold": 10,
        "lockout_cooloff_seconds": 1800,
        "session_idle_seconds": 900,
        "session_lifetime_seconds": 43200,
        "token_idle_seconds": 900,
        "token_lifetime_seconds": 43200,
        "max_discount_percent": "5.00",
        "home": "account",
    }
    created = post(client, "/admin/accounts/role/add/", data)
    assert created.status_code == 302, errors_of(created)[:3000]
    from tenants.context import tenant_context

    with tenant_context(tenant_a):
        clerk = Role.objects.get(name="Stock clerk")
    assert clerk.permissions == ["receive_stock", "view_products"]
    weak = post(client, f"/admin/accounts/role/{clerk.pk}/change/", {**data, "password_min_length": 6})
    assert weak.status_code == 200 and b"must be between 12 and 128" in weak.content
    changed = post(client, f"/admin/accounts/role/{clerk.pk}/change/", {**data, "lockout_threshold": 5})
    assert changed.status_code == 302, errors_of(changed)[:3000]
    with tenant_context(tenant_a):
        clerk.refresh_from_db()
    assert clerk.lockout_threshold == 5 and clerk.password_min_length == 15
    assert get(client, f"/admin/accounts/role/{clerk.pk}/delete/").status_code == 403


@pytest.mark.parametrize("role_key", ["cashier", "store_manager", "auditor"])
def test_roles_need_manage_roles(cast_a, role_key):
    client = signed_in(cast_a[role_key])
    assert get(client, "/admin/accounts/role/").status_code == 403
    assert get(client, "/admin/accounts/role/add/").status_code == 403


@pytest.mark.parametrize(
    "page", ["/admin/accounts/user/", "/admin/accounts/user/add/", "/admin/accounts/role/"]
)
def test_a_cashier_is_forbidden_users_and_roles(cast_a, page):
    assert get(signed_in(cast_a["cashier"]), page).status_code == 403


# --- another tenant -----------------------------------------------------------------------


@pytest.fixture
def bobs_things(tenant_b, stores_b):
    from tenants.context import tenant_context

    bea = make_user(tenant_b, "bea", "cashier", [stores_b[0]])
    with tenant_context(tenant_b):
        signin = SignInEvent.objects.create(username="bea", outcome="failure", channel="web")
        access = AccessEvent.objects.create(
            tenant_id=tenant_b.pk,
            request_id=uuid.uuid4(),
            host="bob-chain.localhost",
            method="GET",
            path="/bobs/secret/",
            status=200,
            duration_ms=1.0,
        )
        return {
            "user": bea.pk,
            "role": Role.objects.get(builtin="cashier").pk,
            "signinevent": signin.pk,
            "accessevent": access.pk,
        }


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("accounts/user", "user"),
        ("accounts/role", "role"),
        ("auditlog/signinevent", "signinevent"),
        ("auditlog/accessevent", "accessevent"),
    ],
)
@pytest.mark.parametrize("page", ["change", "history", "delete"])
def test_another_tenants_users_roles_and_entries_answer_404(cast_a, bobs_things, model, key, page):
    client = signed_in(cast_a["owner"])
    assert get(client, f"/admin/{model}/{bobs_things[key]}/{page}/").status_code == 404
    assert post(client, f"/admin/{model}/{bobs_things[key]}/{page}/", {}).status_code == 404


def test_another_tenants_user_has_no_password_reset_here(cast_a, bobs_things, tenant_b):
    client = signed_in(cast_a["owner"])
    url = f"/admin/accounts/user/{bobs_things['user']}/password/"
    assert get(client, url).status_code == 404
    assert post(client, url, {"new_password": NEW_PASSWORD, "again": NEW_PASSWORD}).status_code == 404
    assert not user_named(tenant_b, "bea").must_change_password


# --- access logs --------------------------------------------------------------------------


def access(tenant, store, path):
    from tenants.context import tenant_context

    with tenant_context(tenant):
        return AccessEvent.objects.create(
            tenant_id=tenant.pk,
            request_id=uuid.uuid4(),
            store_id=store.pk if store else None,
            host="alice-chain.localhost",
            method="POST",
            path=path,
            status=201,
            duration_ms=2.0,
        )


def test_the_logs_are_read_only_and_link_to_the_review(cast_a, tenant_a, stores_a):
    sign_in_api("cody", "wrong-password-1")
    entry = access(tenant_a, stores_a[0], "/api/v1/sales/")
    client = signed_in(cast_a["auditor"])
    signins = get(client, "/admin/auditlog/signinevent/?outcome=failure")
    assert signins.status_code == 200 and b"cody" in signins.content and b'href="/audit/"' in signins.content
    assert get(client, "/admin/auditlog/signinevent/?q=cody").status_code == 200
    requests = get(client, "/admin/auditlog/accessevent/?method=POST&q=sales")
    assert requests.status_code == 200 and b"/api/v1/sales/" in requests.content
    detail = get(client, f"/admin/auditlog/accessevent/{entry.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert get(client, "/admin/auditlog/accessevent/add/").status_code == 403
    assert get(client, f"/admin/auditlog/accessevent/{entry.pk}/delete/").status_code == 403
    changed = post(client, f"/admin/auditlog/accessevent/{entry.pk}/change/", {"path": "/forged/"})
    assert changed.status_code == 403
    from tenants.context import tenant_context

    with tenant_context(tenant_a):
        assert AccessEvent.objects.get(pk=entry.pk).path == "/api/v1/sales/"


def test_store_log_readers_see_their_stores_only(cast_a, tenant_a, stores_a):
    make_user(tenant_a, "hank", "cashier", [stores_a[1]])
    sign_in_api("hank", "wrong-password-1")
    sign_in_api("cody", "wrong-password-1")
    mine = access(tenant_a, stores_a[0], "/api/v1/mine/")
    theirs = access(tenant_a, stores_a[1], "/api/v1/theirs/")
    client = signed_in(cast_a["store_manager"])
    requests = get(client, "/admin/auditlog/accessevent/")
    assert requests.status_code == 200
    assert b"/api/v1/mine/" in requests.content and b"/api/v1/theirs/" not in requests.content
    assert get(client, f"/admin/auditlog/accessevent/{mine.pk}/change/").status_code == 200
    assert get(client, f"/admin/auditlog/accessevent/{theirs.pk}/change/").status_code == 404
    signins = get(client, "/admin/auditlog/signinevent/")
    assert b"cody" in signins.content and b"hank" not in signins.content


def test_a_cashier_reads_no_logs(cast_a, tenant_a, stores_a):
    entry = access(tenant_a, stores_a[0], "/api/v1/sales/")
    client = signed_in(cast_a["cashier"])
    assert get(client, "/admin/auditlog/signinevent/").status_code == 403
    assert get(client, "/admin/auditlog/accessevent/").status_code == 403
    assert get(client, f"/admin/auditlog/accessevent/{entry.pk}/change/").status_code == 404
