"""Issue 16, items 1 and 3 in the admin: MFA reset and reactivation as actions that ask first, and
integrator keys listed and revoked — under the same rules as the API."""

from accounts.models import ApiToken, TotpDevice, User
from auditlog.models import SignInEvent
from tenants.context import tenant_context
from tests.conftest import key_for, make_user, mfa_enrol
from tests.factories import ServiceUserFactory

USERS = "/admin/accounts/user/"
KEYS = "/admin/accounts/integratorkey/"


def action(client, url, name, ids, confirmed=False):
    data = {"action": name, "_selected_action": [str(i) for i in ids]}
    if confirmed:
        data["confirmed"] = "yes"
    return client.post(url, data, secure=True)


def devices(tenant, user) -> int:
    with tenant_context(tenant):
        return TotpDevice.objects.filter(user=user).count()


def test_reset_mfa_asks_first_then_resets(cast_a, tenant_a, mfa_web):
    olga = make_user(tenant_a, "olga", "owner")
    mfa_enrol(olga)
    browser = mfa_web(cast_a["owner"])
    page = action(browser, USERS, "reset_mfa", [olga.pk])
    assert page.status_code == 200
    assert b"Reset the MFA of these users?" in page.content and b"olga" in page.content
    assert devices(tenant_a, olga) == 1  # asking changed nothing
    done = action(browser, USERS, "reset_mfa", [olga.pk], confirmed=True)
    assert done.status_code == 302
    assert devices(tenant_a, olga) == 0
    with tenant_context(tenant_a):
        assert SignInEvent.objects.filter(
            kind="mfa_reset", user_id=olga.pk, actor_id=cast_a["owner"].pk
        ).exists()
        assert User.objects.get(pk=olga.pk).mfa_grace_until is not None


def test_a_session_without_a_second_factor_cannot_reset(cast_a, tenant_a, web):
    """Alice signed in inside her enrolment grace, with her password only."""
    olga = make_user(tenant_a, "olga", "owner")
    mfa_enrol(olga)
    browser = web(cast_a["owner"])
    done = action(browser, USERS, "reset_mfa", [olga.pk], confirmed=True)
    assert done.status_code == 302
    messages = browser.get(USERS, secure=True).content.decode()
    assert "second factor" in messages and "0 users had their MFA reset" in messages
    assert devices(tenant_a, olga) == 1


def test_nobody_resets_themselves_in_the_admin_either(cast_a, tenant_a, mfa_web):
    browser = mfa_web(cast_a["owner"])
    action(browser, USERS, "reset_mfa", [cast_a["owner"].pk], confirmed=True)
    assert devices(tenant_a, cast_a["owner"]) == 1


def test_reactivate_in_the_admin(cast_a, tenant_a, mfa_web):
    with tenant_context(tenant_a):
        User.objects.filter(pk=cast_a["cashier"].pk).update(is_active=False)
    browser = mfa_web(cast_a["owner"])
    assert b"Reactivate these users?" in action(browser, USERS, "reactivate", [cast_a["cashier"].pk]).content
    action(browser, USERS, "reactivate", [cast_a["cashier"].pk], confirmed=True)
    with tenant_context(tenant_a):
        cody = User.objects.get(pk=cast_a["cashier"].pk)
    assert cody.is_active and cody.must_change_password and cody.reactivated_at is not None


def test_a_store_manager_cannot_reach_users_of_other_stores(cast_a, tenant_a, stores_a, mfa_web):
    far = make_user(tenant_a, "far", "cashier", [stores_a[1]])
    mfa_enrol(far)
    browser = mfa_web(cast_a["store_manager"])
    action(browser, USERS, "reset_mfa", [far.pk], confirmed=True)
    assert devices(tenant_a, far) == 1


def test_the_user_form_adds_a_service_user(cast_a, tenant_a, mfa_web):
    from accounts.models import Role

    with tenant_context(tenant_a):
        integrator = Role.objects.get(builtin="integrator")
    browser = mfa_web(cast_a["owner"])
    answer = browser.post(
        f"{USERS}add/",
        {"username": "erp", "password": "", "is_service": "on", "roles": [integrator.pk]},
        secure=True,
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    with tenant_context(tenant_a):
        erp = User.objects.get(username="erp")
    assert erp.is_service and not erp.has_usable_password()
    refused = browser.post(
        f"{USERS}add/", {"username": "person", "password": "", "roles": [integrator.pk]}, secure=True
    )
    assert refused.status_code == 200 and b"This field is required" in refused.content
    with tenant_context(tenant_a):
        assert not User.objects.filter(username="person").exists()


def test_keys_are_listed_without_their_secret_and_revoked_after_asking(cast_a, tenant_a, mfa_web):
    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    client = key_for(service)
    with tenant_context(tenant_a):
        key = ApiToken.objects.get(user=service)
    browser = mfa_web(cast_a["owner"])
    listing = browser.get(KEYS, secure=True)
    assert listing.status_code == 200 and key.prefix.encode() in listing.content
    assert key.token_hash.encode() not in listing.content
    detail = browser.get(f"{KEYS}{key.pk}/change/", secure=True)
    assert detail.status_code == 200 and key.token_hash.encode() not in detail.content
    assert b"Revoke these keys?" in action(browser, KEYS, "revoke", [key.pk]).content
    assert client.get("/api/v1/me/").status_code == 200
    action(browser, KEYS, "revoke", [key.pk], confirmed=True)
    assert client.get("/api/v1/me/").status_code == 401


def test_keys_in_the_admin_need_manage_users_and_stay_in_ones_stores(
    cast_a, tenant_a, stores_a, mfa_web, web
):
    far = ServiceUserFactory(tenant=tenant_a, username="far", role="cashier", stores=[stores_a[1]])
    key_for(far, scopes=["sell"])
    with tenant_context(tenant_a):
        key = ApiToken.objects.get(user=far)
    assert web(cast_a["cashier"]).get(KEYS, secure=True).status_code == 403
    manager = mfa_web(cast_a["store_manager"])
    assert key.prefix.encode() not in manager.get(KEYS, secure=True).content
    assert manager.get(f"{KEYS}{key.pk}/change/", secure=True).status_code == 404
    action(manager, KEYS, "revoke", [key.pk], confirmed=True)
    with tenant_context(tenant_a):
        assert ApiToken.objects.get(pk=key.pk).revoked_at is None
    assert manager.get(f"{KEYS}add/", secure=True).status_code == 403
