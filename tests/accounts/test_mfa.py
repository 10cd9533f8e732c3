import time

import time_machine
from django.utils import timezone
from django_otp.oath import TOTP

from accounts import mfa
from accounts.models import TotpDevice
from tests.conftest import PASSWORD, HttpsApiClient


def code(device, at=None):
    totp = TOTP(bytes.fromhex(device.secret), 30, 0, 6, 0)
    totp.time = at or time.time()
    return f"{totp.token():06d}"


def enrol(api, user, tenant, as_tenant):
    client = api(user)
    started = client.post("/api/v1/me/mfa/totp/").json()
    assert started["otpauth_uri"].startswith("otpauth://totp/")
    with as_tenant(tenant):
        device = TotpDevice.objects.get(pk=started["device_id"])
    confirmed = client.post("/api/v1/me/mfa/totp/confirm/", {"device_id": device.pk, "otp": code(device)})
    assert confirmed.status_code == 200
    return device, confirmed.json()["backup_codes"]


def sign_in(username, **extra):
    body = {"tenant": "alice-chain", "username": username, "password": PASSWORD, **extra}
    return HttpsApiClient().post("/api/v1/auth/token/", body)


def test_an_enrolled_user_needs_a_valid_code(cast_a, api, tenant_a, as_tenant):
    device, _ = enrol(api, cast_a["store_manager"], tenant_a, as_tenant)
    assert sign_in("sam").json()["code"] == "otp_required"
    assert sign_in("sam", otp="000000").json()["code"] == "invalid_otp"
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=60)):
        response = sign_in("sam", otp=code(device))
    assert response.status_code == 201


def test_a_code_cannot_be_replayed(cast_a, api, tenant_a, as_tenant):
    device, _ = enrol(api, cast_a["store_manager"], tenant_a, as_tenant)
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=90), tick=False):
        otp = code(device)
        assert sign_in("sam", otp=otp).status_code == 201
        assert sign_in("sam", otp=otp).json()["code"] == "invalid_otp"


def test_a_backup_code_works_once(cast_a, api, tenant_a, as_tenant):
    _, codes = enrol(api, cast_a["store_manager"], tenant_a, as_tenant)
    assert len(codes) == 10
    assert sign_in("sam", otp=codes[0]).status_code == 201
    assert sign_in("sam", otp=codes[0]).json()["code"] == "invalid_otp"


def test_a_role_requiring_mfa_cannot_sign_in_without_it_after_the_grace(cast_a):
    # The store manager's role requires MFA; after the enrolment grace no code means no token.
    with time_machine.travel(timezone.now() + timezone.timedelta(days=8)):
        assert sign_in("sam").json()["code"] == "otp_required"
    assert sign_in("sam").status_code == 201  # within the grace, to enrol
    assert sign_in("cody").status_code == 201  # the cashier's role does not require MFA


def test_the_otp_secret_is_encrypted_at_rest(cast_a, api, tenant_a, as_tenant):
    from django.db import connection

    device, _ = enrol(api, cast_a["store_manager"], tenant_a, as_tenant)
    with as_tenant(tenant_a), connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice WHERE id = %s", [device.pk])
        (stored,) = cursor.fetchone()
    assert device.secret.encode() not in bytes(stored)
    assert bytes.fromhex(device.secret) not in bytes(stored)


def test_wrong_codes_are_throttled(cast_a, api, tenant_a, as_tenant):
    device, _ = enrol(api, cast_a["store_manager"], tenant_a, as_tenant)
    with as_tenant(tenant_a):
        assert not mfa.otp_verify(cast_a["store_manager"], "000000")
        device.refresh_from_db()
        allowed, _ = device.verify_is_allowed()
        assert not allowed  # 1 s, then 2, 4, 8 ... before the next try
