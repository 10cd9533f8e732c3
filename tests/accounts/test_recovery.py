"""Issue 16, item 1: MFA reset and reactivation, the grace of a newly required MFA, and key use as
activity for the dormancy job — each from the attacker's side too."""

import time_machine
from django.utils import timezone

from accounts.models import ApiToken, BackupCode, Role, TotpDevice, User, UserSession
from accounts.services import users_deactivate_dormant
from auditlog.models import PlatformEvent, SignInEvent
from tenants.context import tenant_context
from tests.conftest import PASSWORD, HttpsApiClient, key_for, make_user, mfa_enrol, totp_code
from tests.factories import ServiceUserFactory


def sign_in(username: str, otp: str | None = None, password: str = PASSWORD):
    body = {"tenant": "alice-chain", "username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return HttpsApiClient().post("/api/v1/auth/token/", body)


def second_owner(tenant, stores):
    return make_user(tenant, "olga", "owner")


def state(tenant, user) -> dict:
    with tenant_context(tenant):
        fresh = User.objects.get(pk=user.pk)
        return {
            "active": fresh.is_active,
            "grace": fresh.mfa_grace_until,
            "devices": TotpDevice.objects.filter(user=user).count(),
            "codes": BackupCode.objects.filter(user=user).count(),
            "live_tokens": ApiToken.objects.filter(user=user, revoked_at__isnull=True).count(),
            "must_change": fresh.must_change_password,
        }


def test_a_locked_out_owner_is_reset_by_another_owner_and_enrols(
    cast_a, tenant_a, stores_a, mfa_api, django_capture_on_commit_callbacks
):
    olga = second_owner(tenant_a, stores_a)
    mfa_enrol(olga)  # she enrolled, then lost her phone
    late = timezone.now() + timezone.timedelta(days=8)
    with time_machine.travel(late):
        assert sign_in("olga").json()["code"] == "otp_required"  # stuck: no code, no way in
        owner = mfa_api(cast_a["owner"])
        with django_capture_on_commit_callbacks(execute=True):
            answer = owner.post(f"/api/v1/users/{olga.pk}/mfa/reset/")
        assert answer.status_code == 204, answer.content
        after = state(tenant_a, olga)
        assert after["devices"] == 0 and after["codes"] == 0 and after["grace"] > late
        token = sign_in("olga")
        assert token.status_code == 201  # within the fresh grace, to enrol
        client = HttpsApiClient(token.json()["token"])
        started = client.post("/api/v1/me/mfa/totp/").json()
        with tenant_context(tenant_a):
            device = TotpDevice.objects.get(pk=started["device_id"])
        confirmed = client.post(
            "/api/v1/me/mfa/totp/confirm/", {"device_id": device.pk, "otp": totp_code(device)}
        )
        assert confirmed.status_code == 200 and len(confirmed.json()["backup_codes"]) == 10
    with tenant_context(tenant_a):
        event = SignInEvent.objects.get(kind="mfa_reset", user_id=olga.pk)
        assert event.actor_id == cast_a["owner"].pk
    # The platform log is written on the audit connection after commit: it outlives a rollback.
    platform = PlatformEvent.objects.get(kind="mfa_reset", detail__user=str(olga.pk))
    assert platform.subject_tenant == tenant_a.pk and platform.actor == str(cast_a["owner"].pk)


def test_an_mfa_reset_ends_the_users_sessions_and_tokens(cast_a, tenant_a, mfa_api, web):
    cashier = cast_a["cashier"]
    browser = web(cashier)
    assert browser.get("/account/", secure=True).status_code == 200
    token_client = HttpsApiClient(sign_in("cody").json()["token"])
    assert mfa_api(cast_a["owner"]).post(f"/api/v1/users/{cashier.pk}/mfa/reset/").status_code == 204
    assert token_client.get("/api/v1/me/").status_code == 401
    assert browser.get("/account/", secure=True).status_code == 302
    with tenant_context(tenant_a):
        assert not UserSession.objects.filter(user=cashier, revoked_at__isnull=True).exists()


def test_nobody_resets_their_own_mfa(cast_a, tenant_a, mfa_api):
    owner = cast_a["owner"]
    client = mfa_api(owner)
    before = state(tenant_a, owner)
    answer = client.post(f"/api/v1/users/{owner.pk}/mfa/reset/")
    assert answer.status_code == 403 and answer.json()["code"] == "permission_denied"
    assert state(tenant_a, owner) == before and before["devices"] == 1


def test_the_actors_own_second_factor_is_needed(cast_a, tenant_a, api, stores_a):
    """A token from a sign-in without a code (inside the enrolment grace) cannot reset anyone."""
    olga = second_owner(tenant_a, stores_a)
    mfa_enrol(olga)
    before = state(tenant_a, olga)
    for client in (api(cast_a["owner"]), HttpsApiClient(sign_in("alice").json()["token"])):
        answer = client.post(f"/api/v1/users/{olga.pk}/mfa/reset/")
        assert answer.status_code == 403 and answer.json()["code"] == "second_factor_required"
        answer = client.post(f"/api/v1/users/{olga.pk}/reactivate/")
        assert answer.status_code == 403 and answer.json()["code"] == "second_factor_required"
    assert state(tenant_a, olga) == before


def test_a_store_manager_resets_in_their_stores_only(cast_a, tenant_a, stores_a, mfa_api):
    near = make_user(tenant_a, "near", "cashier", [stores_a[0]])
    far = make_user(tenant_a, "far", "cashier", [stores_a[1]])
    mfa_enrol(near)
    mfa_enrol(far)
    mfa_enrol(cast_a["owner"])
    owner_before = state(tenant_a, cast_a["owner"])
    manager = mfa_api(cast_a["store_manager"])
    assert manager.post(f"/api/v1/users/{far.pk}/mfa/reset/").status_code == 404
    assert manager.post(f"/api/v1/users/{cast_a['owner'].pk}/mfa/reset/").status_code in (403, 404)
    assert state(tenant_a, far)["devices"] == 1
    assert state(tenant_a, cast_a["owner"]) == owner_before
    assert manager.post(f"/api/v1/users/{near.pk}/mfa/reset/").status_code == 204
    assert state(tenant_a, near)["devices"] == 0


def test_a_cashier_may_not_and_bad_ids_are_404(cast_a, tenant_a, mfa_api):
    cashier = mfa_api(cast_a["cashier"])
    answer = cashier.post(f"/api/v1/users/{cast_a['store_manager'].pk}/mfa/reset/")
    assert answer.status_code == 403 and answer.json()["code"] == "permission_denied"
    owner = mfa_api(cast_a["owner"])
    assert owner.post("/api/v1/users/not-a-uuid/mfa/reset/").status_code == 404
    assert owner.post("/api/v1/users/00000000-0000-0000-0000-000000000000/reactivate/").status_code == 404


def test_another_tenants_user_is_not_found(cast_a, cast_b, tenant_b, mfa_api):
    mfa_enrol(cast_b["cashier"])
    owner = mfa_api(cast_a["owner"])
    for path in ("mfa/reset", "reactivate"):
        answer = owner.post(f"/api/v1/users/{cast_b['cashier'].pk}/{path}/")
        assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert state(tenant_b, cast_b["cashier"])["devices"] == 1


def test_a_dormant_service_user_is_reactivated(cast_a, tenant_a, mfa_api):
    service = ServiceUserFactory(tenant=tenant_a, username="erp")
    old_key = key_for(service)
    with tenant_context(tenant_a):
        User.objects.filter(pk=service.pk).update(date_joined=timezone.now() - timezone.timedelta(days=200))
        ApiToken.objects.filter(user=service).update(
            last_used_at=timezone.now() - timezone.timedelta(days=91)
        )
        assert users_deactivate_dormant() == 1
    assert old_key.get("/api/v1/products/").status_code == 401
    owner = mfa_api(cast_a["owner"])
    assert owner.post(f"/api/v1/users/{service.pk}/reactivate/").status_code == 204
    after = state(tenant_a, service)
    assert after["active"] and not after["must_change"]  # no password to change
    key = owner.post(f"/api/v1/users/{service.pk}/keys/", {"name": "erp", "scopes": ["view_products"]})
    assert key.status_code == 201
    assert (
        HttpsApiClient(key.json()["token"], host="alice-chain.localhost").get("/api/v1/products/").status_code
        == 200
    )
    with tenant_context(tenant_a):
        assert users_deactivate_dormant() == 0  # the reactivation restarted its clock
        assert SignInEvent.objects.filter(kind="reactivate", user_id=service.pk).exists()


def test_a_reactivated_person_must_change_the_password_and_gets_a_grace(cast_a, tenant_a, mfa_api):
    manager = cast_a["store_manager"]
    assert mfa_api(cast_a["owner"]).post(f"/api/v1/users/{manager.pk}/deactivate/").status_code == 200
    later = timezone.now() + timezone.timedelta(days=30)
    with time_machine.travel(later):
        assert sign_in("sam").json()["code"] == "invalid_credentials"
        owner = mfa_api(cast_a["owner"])
        assert owner.post(f"/api/v1/users/{manager.pk}/reactivate/").status_code == 204
        answer = sign_in("sam")  # the grace of day 0 is long over: a fresh one lets sam enrol
        assert answer.status_code == 201 and answer.json()["password_change_required"] is True
        client = HttpsApiClient(answer.json()["token"])
        assert client.get("/api/v1/products/").json()["code"] == "password_expired"


def test_reactivating_an_active_user_is_a_conflict_and_changes_nothing(cast_a, tenant_a, mfa_api):
    before = state(tenant_a, cast_a["cashier"])
    answer = mfa_api(cast_a["owner"]).post(f"/api/v1/users/{cast_a['cashier'].pk}/reactivate/")
    assert answer.status_code == 409 and answer.json()["code"] == "conflict"
    assert state(tenant_a, cast_a["cashier"]) == before


def test_a_promoted_user_gets_a_grace(cast_a, tenant_a, api):
    """A cashier (no MFA) made a store manager (MFA) long after joining can still enrol."""
    cashier = cast_a["cashier"]
    with tenant_context(tenant_a):
        manager_role = str(Role.objects.get(builtin="store_manager").pk)
    later = timezone.now() + timezone.timedelta(days=60)
    with time_machine.travel(later):
        answer = api(cast_a["owner"]).patch(f"/api/v1/users/{cashier.pk}/", {"roles": [manager_role]})
        assert answer.status_code == 200
        assert state(tenant_a, cashier)["grace"] > later
        assert sign_in("cody").status_code == 201
    with time_machine.travel(later + timezone.timedelta(days=8)):
        assert sign_in("cody").json()["code"] == "otp_required"  # and the grace ends as usual


def test_switching_mfa_on_for_a_role_gives_its_holders_without_a_device_a_grace(
    cast_a, tenant_a, stores_a, api
):
    enrolled = make_user(tenant_a, "enrolled", "cashier", [stores_a[0]])
    mfa_enrol(enrolled)
    with tenant_context(tenant_a):
        cashier_role = Role.objects.get(builtin="cashier")
    later = timezone.now() + timezone.timedelta(days=60)
    with time_machine.travel(later):
        answer = api(cast_a["owner"]).patch(f"/api/v1/roles/{cashier_role.pk}/", {"mfa_required": True})
        assert answer.status_code == 200
        assert state(tenant_a, cast_a["cashier"])["grace"] > later
        assert state(tenant_a, enrolled)["grace"] is None  # a device already: nothing to enrol
        assert sign_in("cody").status_code == 201


def test_a_used_key_keeps_its_service_user_active(cast_a, tenant_a):
    service = ServiceUserFactory(tenant=tenant_a, username="pos-sync")
    key = key_for(service)
    with tenant_context(tenant_a):
        User.objects.filter(pk=service.pk).update(date_joined=timezone.now() - timezone.timedelta(days=200))
    with time_machine.travel(timezone.now() + timezone.timedelta(days=89)):
        assert key.get("/api/v1/products/").status_code == 200  # used on day 89
    with time_machine.travel(timezone.now() + timezone.timedelta(days=120)), tenant_context(tenant_a):
        assert users_deactivate_dormant() == 5  # the cast, unused for 120 days; not the service user
        assert User.objects.get(pk=service.pk).is_active
    with time_machine.travel(timezone.now() + timezone.timedelta(days=180)), tenant_context(tenant_a):
        assert users_deactivate_dormant() == 1  # its key unused for 91 days now
        assert not User.objects.get(pk=service.pk).is_active
