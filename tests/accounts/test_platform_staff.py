"""Issue 16, item 4: platform staff sign in with TOTP (enrolled at their first sign-in, the secret
encrypted for the platform), every attempt goes to the platform log, and a support grant carries
reads plus catalogue fixes only."""

import secrets
import time
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import PlatformTotpDevice, SupportGrant, User
from auditlog.models import PlatformEvent
from tenants import crypto
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tests.accounts.test_support_access import grant, staff_make, support_sign_in
from tests.conftest import PASSWORD, HttpsApiClient, totp_code, web_client

PLATFORM = "127.0.0.1"


def unique_name() -> str:
    # The platform log is written on its own connection and outlives each test: a name of its own.
    return f"staff{secrets.token_hex(4)}"


def staff_events(username: str) -> list[dict]:
    return [
        {"outcome": e.detail["outcome"], "reason": e.detail["reason"], "channel": e.detail["channel"]}
        for e in PlatformEvent.objects.filter(kind="staff_sign_in", actor=username).order_by("id")
    ]


def test_first_sign_in_enrols_an_authenticator_before_anything_else(db):
    name = unique_name()
    with as_maintenance():  # platform staff: manage.py createsuperuser
        staff = User.objects.create_superuser(name, PASSWORD)
    browser = web_client(PLATFORM)
    answer = browser.post("/login/", {"username": name, "password": PASSWORD}, secure=True)
    assert answer.status_code == 302 and answer["Location"].startswith("/login/enrol/")
    assert browser.get("/admin/", secure=True).status_code == 302  # no session yet
    page = browser.get(answer["Location"], secure=True)
    assert page.status_code == 200 and b'id="qr"' in page.content
    device = PlatformTotpDevice.objects.get(user=staff)
    assert not device.confirmed and device.secret.upper() not in page.content.decode()
    wrong = browser.post("/login/enrol/", {"otp": "000000"}, secure=True)
    assert wrong.status_code == 200 and b"wrong" in wrong.content
    assert browser.get("/admin/", secure=True).status_code == 302
    # The clock stands still from the enrolment to the replay: both codes are of one 30 s step
    # (with the clock running, a step that ended between them made the replay a fresh code).
    with time_machine.travel(timezone.now(), tick=False):
        done = browser.post("/login/enrol/", {"otp": totp_code(device)}, secure=True)
        assert done.status_code == 302 and done["Location"] == "/admin/"
        assert browser.get("/admin/", secure=True).status_code == 200
        assert PlatformTotpDevice.objects.get(user=staff).confirmed
        # Signed out and in again: now the code is asked for, and a used code does not work twice.
        browser.post("/logout/", secure=True)
        again = web_client(PLATFORM)
        step = again.post("/login/", {"username": name, "password": PASSWORD}, secure=True)
        assert step["Location"].startswith("/login/otp/")
        assert again.post("/login/otp/", {"otp": totp_code(device)}, secure=True).status_code == 200
        with time_machine.travel(timezone.now() + timezone.timedelta(seconds=31)):
            signed = again.post("/login/otp/", {"otp": totp_code(device, at=time.time())}, secure=True)
            assert signed.status_code == 302 and again.get("/admin/", secure=True).status_code == 200
    events = staff_events(name)
    assert {"outcome": "failure", "reason": "otp_enrolment_needed", "channel": "web"} in events
    assert {"outcome": "failure", "reason": "otp_wrong", "channel": "web"} in events
    assert [e for e in events if e["outcome"] == "success"]


def test_the_enrolment_page_needs_the_password_first(db):
    assert web_client(PLATFORM).get("/login/enrol/", secure=True)["Location"] == "/login/"


def test_the_staff_secret_is_encrypted_with_a_platform_key(db):
    staff = staff_make(unique_name())
    device = PlatformTotpDevice.objects.get(user=staff)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_platformtotpdevice WHERE id = %s", [device.pk])
        (stored,) = cursor.fetchone()
    stored = bytes(stored)
    assert stored[:1] == crypto.FORMAT_PLATFORM
    assert device.secret.encode() not in stored and bytes.fromhex(device.secret) not in stored
    assert (
        crypto.platform_decrypt(stored, purpose="accounts.platformtotpdevice.secret")
        == device.secret.encode()
    )
    with pytest.raises(crypto.DecryptionError):
        crypto.platform_decrypt(stored, purpose="accounts.totpdevice.secret")
    tampered = stored[:-1] + bytes([stored[-1] ^ 1])
    with pytest.raises(crypto.DecryptionError):
        crypto.platform_decrypt(tampered, purpose="accounts.platformtotpdevice.secret")


def test_platform_secrets_follow_a_master_key_rotation(db, settings):
    old, new = crypto.new_master_key_text(), crypto.new_master_key_text()
    settings.KASSA_MASTER_KEY, settings.KASSA_MASTER_KEY_PREVIOUS = old, ""
    blob = crypto.platform_encrypt(b"seed", purpose="test")
    settings.KASSA_MASTER_KEY, settings.KASSA_MASTER_KEY_PREVIOUS = new, old
    rewrapped = crypto.platform_rewrap(blob)
    assert rewrapped is not None and crypto.platform_rewrap(rewrapped) is None
    settings.KASSA_MASTER_KEY_PREVIOUS = ""  # the old key is gone: only the rewrapped value reads
    assert crypto.platform_decrypt(rewrapped, purpose="test") == b"seed"
    with pytest.raises(crypto.DecryptionError):
        crypto.platform_decrypt(blob, purpose="test")


def test_the_support_token_needs_the_code(cast_a, api):
    name = unique_name()
    staff_make(name)
    grant(api, cast_a["owner"], staff_username=name)
    assert support_sign_in(username=name, otp="").json()["code"] == "otp_required"
    assert support_sign_in(username=name, otp="123456").json()["code"] == "invalid_otp"
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=2)):  # past the 1 s throttle
        answer = support_sign_in(username=name)
    assert answer.status_code == 201
    events = staff_events(name)
    assert [e["reason"] for e in events] == ["code_pending", "otp_wrong", ""]
    assert {e["channel"] for e in events} == {"support"}


def test_staff_without_an_authenticator_get_no_support_token(cast_a, api):
    name = unique_name()
    with as_maintenance():
        User.objects.create_superuser(name, PASSWORD)
    grant(api, cast_a["owner"], staff_username=name)
    answer = support_sign_in(username=name, otp="")
    assert answer.status_code == 401 and answer.json()["code"] == "otp_required"
    assert "Enrol" in answer.json()["detail"]
    assert not PlatformTotpDevice.objects.filter(user__username=name).exists()


def test_failed_and_unknown_staff_sign_ins_are_in_the_platform_log(db):
    name = unique_name()
    staff_make(name)
    web_client(PLATFORM).post("/login/", {"username": name, "password": "wrong-password-1"}, secure=True)
    nobody = unique_name()
    web_client(PLATFORM).post("/login/", {"username": nobody, "password": "wrong-password-1"}, secure=True)
    assert staff_events(name) == [{"outcome": "failure", "reason": "bad_password", "channel": "web"}]
    assert staff_events(nobody) == [{"outcome": "failure", "reason": "unknown_user", "channel": "web"}]
    event = PlatformEvent.objects.get(kind="staff_sign_in", actor=name)
    assert event.subject_tenant is None and event.detail["ip"]
    assert "wrong-password-1" not in str(event.detail) and PASSWORD not in str(event.detail)


def test_a_staff_session_without_its_second_factor_is_refused(db):
    staff = staff_make(unique_name())
    browser = Client(HTTP_HOST=PLATFORM)
    browser.force_login(staff)  # a session that never passed the code
    session = browser.session
    session["kassa_started"] = session["kassa_seen"] = timezone.now().timestamp()
    session.save()
    assert browser.get("/admin/", secure=True).status_code == 302


@pytest.mark.parametrize("permission", ["manage_users", "grant_support", "export", "manage_roles", "refund"])
def test_a_support_grant_never_carries_what_would_renew_access_or_take_data(
    cast_a, tenant_a, api, permission
):
    answer = grant(api, cast_a["owner"], permissions=["view_products", permission])
    assert answer.status_code == 400 and answer.json()["code"] == "invalid"
    assert permission in answer.json()["fields"]["permissions"][0]
    with tenant_context(tenant_a):
        assert not SupportGrant.objects.exists()


def test_a_support_grant_may_carry_reads_and_catalogue_fixes(cast_a, api):
    answer = grant(api, cast_a["owner"], permissions=["view_customers", "manage_products", "view_chain_logs"])
    assert answer.status_code == 201


def test_an_older_grant_with_more_still_gives_only_what_is_allowed(cast_a, tenant_a):
    name = unique_name()
    staff_make(name)
    with tenant_context(tenant_a):
        SupportGrant.objects.create(
            staff_username=name,
            reason="made before the limit",
            permissions=["manage_users", "grant_support", "view_products"],
            granted_by=cast_a["owner"],
            expires_at=timezone.now() + timezone.timedelta(hours=1),
        )
    client = HttpsApiClient(support_sign_in(username=name).json()["token"])
    assert client.get("/api/v1/me/").json()["permissions"] == ["view_products"]
    assert client.get("/api/v1/users/").status_code == 403


def test_an_operator_resets_a_staff_authenticator(db):
    name = unique_name()
    staff = staff_make(name)
    out = StringIO()
    call_command("platform_mfa_reset", name, stdout=out)
    assert "removed" in out.getvalue()
    assert not PlatformTotpDevice.objects.filter(user=staff).exists()
    assert PlatformEvent.objects.filter(kind="mfa_reset", detail__user=str(staff.pk)).exists()
    answer = web_client(PLATFORM).post("/login/", {"username": name, "password": PASSWORD}, secure=True)
    assert answer["Location"].startswith("/login/enrol/")


def test_account_pages_do_not_exist_on_the_platform_host(db):
    staff = staff_make(unique_name())
    browser = Client(HTTP_HOST=PLATFORM)
    browser.force_login(staff)
    session = browser.session
    session["kassa_started"] = session["kassa_seen"] = timezone.now().timestamp()
    session["kassa_second_factor"] = True
    session.save()
    assert browser.get("/admin/", secure=True).status_code == 200
    for path in ("/account/", "/account/password/", "/account/mfa/"):
        assert browser.get(path, secure=True).status_code == 404, path
