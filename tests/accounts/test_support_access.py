import time

import pytest
from django.utils import timezone

from accounts.models import ApiToken, PlatformTotpDevice, User
from tenants.maintenance import as_maintenance
from tests.conftest import PASSWORD, HttpsApiClient, mfa_enrol, totp_code


def staff_make(username="sally") -> User:
    """Platform staff with an authenticator (TOTP is required for them)."""
    with as_maintenance():  # platform staff: manage.py createsuperuser
        staff = User.objects.create_superuser(username, PASSWORD)
    mfa_enrol(staff)
    return staff


@pytest.fixture
def staff(db):
    return staff_make()


def staff_otp(username="sally") -> str:
    """The authenticator's next code (the current one was spent confirming it; a code is good once)."""
    device = PlatformTotpDevice.objects.filter(user__username=username, confirmed=True).first()
    return totp_code(device, at=time.time() + 30) if device is not None else ""


def support_sign_in(tenant="alice-chain", username="sally", otp=None):
    body = {
        "tenant": tenant,
        "username": username,
        "password": PASSWORD,
        "otp": staff_otp(username) if otp is None else otp,
    }
    return HttpsApiClient().post("/api/v1/auth/support-token/", body)


def grant(api, owner, **extra):
    body = {
        "staff_username": "sally",
        "reason": "ticket 4711",
        "expires_at": (timezone.now() + timezone.timedelta(hours=2)).isoformat(),
    }
    return api(owner).post("/api/v1/support-grants/", {**body, **extra})


def test_platform_staff_see_nothing_without_a_grant(staff, cast_a):
    response = support_sign_in()
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_grant_lets_staff_in_with_its_permissions_only(staff, cast_a, api, tenant_a, as_tenant):
    created = grant(api, cast_a["owner"])
    assert created.status_code == 201
    response = support_sign_in()
    assert response.status_code == 201
    client = HttpsApiClient(response.json()["token"])
    me = client.get("/api/v1/me/").json()
    assert me["permissions"] == ["view_chain_logs", "view_products", "view_sales", "view_store_logs"]
    assert client.get("/api/v1/users/").status_code == 403
    with as_tenant(tenant_a):
        token = ApiToken.objects.get(kind="support")
    assert str(token.support_grant_id) == created.json()["id"]
    assert token.expires_at <= timezone.now() + timezone.timedelta(hours=2)


def test_revoking_the_grant_ends_the_support_token(staff, cast_a, api):
    created = grant(api, cast_a["owner"]).json()
    client = HttpsApiClient(support_sign_in().json()["token"])
    assert client.get("/api/v1/me/").status_code == 200
    assert api(cast_a["owner"]).post(f"/api/v1/support-grants/{created['id']}/revoke/").status_code == 204
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    listed = api(cast_a["owner"]).get("/api/v1/support-grants/").json()["results"]
    assert listed[0]["active"] is False


def test_a_grant_in_one_tenant_does_not_open_another(staff, cast_a, tenant_b, api):
    grant(api, cast_a["owner"])
    assert support_sign_in(tenant="bob-chain").status_code == 403


def test_a_grant_needs_a_reason_and_at_most_seven_days(cast_a, api):
    response = grant(api, cast_a["owner"], reason=" ")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"reason"}
    response = grant(
        api, cast_a["owner"], expires_at=(timezone.now() + timezone.timedelta(days=30)).isoformat()
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"expires_at"}
    assert api(cast_a["owner"]).get("/api/v1/support-grants/").json()["count"] == 0


def test_a_tenant_user_cannot_use_the_support_sign_in(cast_a, api):
    grant(api, cast_a["owner"], staff_username="cody")
    assert support_sign_in(username="cody").status_code in (401, 403)


def test_staff_credentials_do_not_work_on_the_tenant_sign_in(staff, cast_a):
    response = HttpsApiClient().post(
        "/api/v1/auth/token/", {"tenant": "alice-chain", "username": "sally", "password": PASSWORD}
    )
    assert response.status_code == 401
