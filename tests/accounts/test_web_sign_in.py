"""The web sign-in on a tenant host: password, OTP step, forced change, lockout message, sessions."""

import time

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP

from accounts import mfa
from accounts.models import User, UserSession
from tests.conftest import PASSWORD

HOST = "alice-chain.localhost"


@pytest.fixture
def browser():
    return Client(HTTP_HOST=HOST)


def post(client, path, data):
    return client.post(path, data, secure=True)


def get(client, path):
    return client.get(path, secure=True)


def test_sign_in_rotates_the_session_and_records_it(cast_a, browser, tenant_a, as_tenant):
    get(browser, "/login/")
    before = browser.cookies.get("__Host-kassa-session")
    response = post(browser, "/login/", {"username": "cody", "password": PASSWORD})
    # A cashier's role has the register as its home (accounts.permissions.HOMES).
    assert response.status_code == 302 and response["Location"] == "/pos/"
    cookie = browser.cookies["__Host-kassa-session"]
    assert before is None or cookie.value != before.value
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert get(browser, "/account/").status_code == 200
    with as_tenant(tenant_a):
        assert UserSession.objects.filter(user=cast_a["cashier"], revoked_at__isnull=True).count() == 1


def test_wrong_password_shows_the_same_message_as_an_unknown_user(cast_a, browser):
    wrong = post(browser, "/login/", {"username": "cody", "password": "nope-nope-nope-1"})
    unknown = post(browser, "/login/", {"username": "ghost", "password": "nope-nope-nope-1"})
    assert b"Wrong username or password." in wrong.content
    assert b"Wrong username or password." in unknown.content


def test_lockout_message_says_how_long(cast_a, browser):
    for _ in range(10):
        post(browser, "/login/", {"username": "cody", "password": "nope-nope-nope-1"})
    response = post(browser, "/login/", {"username": "cody", "password": PASSWORD})
    assert b"locked; try again in 30 minutes" in response.content


def test_the_otp_step_comes_after_the_password(cast_a, browser, tenant_a, as_tenant):
    with as_tenant(tenant_a):
        device = mfa.totp_enrol(user=cast_a["store_manager"])
        device.confirmed = True
        device.save()
    response = post(browser, "/login/", {"username": "sam", "password": PASSWORD})
    assert response["Location"].startswith("/login/otp/")
    assert get(browser, "/account/").status_code == 302  # not signed in yet
    assert b"wrong or used" in post(browser, "/login/otp/", {"otp": "000000"}).content
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=60)):
        totp = TOTP(bytes.fromhex(device.secret), 30, 0, 6, 0)
        totp.time = time.time()
        response = post(browser, "/login/otp/", {"otp": f"{totp.token():06d}"})
        assert response["Location"] == "/account/"
        assert get(browser, "/account/").status_code == 200


def test_an_expired_password_forces_the_change_page(cast_a, browser):
    with time_machine.travel(timezone.now() + timezone.timedelta(days=91)):
        response = post(browser, "/login/", {"username": "cody", "password": PASSWORD})
        assert response["Location"] == "/account/password/"
        assert get(browser, "/account/")["Location"] == "/account/password/"
        page = post(browser, "/account/password/", {"current_password": PASSWORD, "new_password": "short"})
        assert b'data-rule="too_short"' in page.content
        done = post(
            browser,
            "/account/password/",
            {"current_password": PASSWORD, "new_password": "amber-valley-orbit-11"},
        )
        assert done["Location"] == "/account/"
        assert get(browser, "/account/").status_code == 200


def test_the_session_ends_after_idle_time(cast_a, browser):
    post(browser, "/login/", {"username": "cody", "password": PASSWORD})
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=16)):
        assert get(browser, "/account/")["Location"].startswith("/login/")


def test_the_session_ends_at_its_absolute_lifetime(cast_a, browser):
    post(browser, "/login/", {"username": "cody", "password": PASSWORD})
    start = timezone.now()
    for minutes in range(10, 12 * 60, 10):
        with time_machine.travel(start + timezone.timedelta(minutes=minutes)):
            assert get(browser, "/account/").status_code == 200
    with time_machine.travel(start + timezone.timedelta(hours=12, minutes=1)):
        assert get(browser, "/account/")["Location"].startswith("/login/")


def test_sign_out_and_revocation_end_the_session_on_the_server(cast_a, browser, tenant_a, as_tenant):
    other = Client(HTTP_HOST=HOST)
    post(browser, "/login/", {"username": "cody", "password": PASSWORD})
    post(other, "/login/", {"username": "cody", "password": PASSWORD})
    with as_tenant(tenant_a):
        first = UserSession.objects.filter(user=cast_a["cashier"]).order_by("created_at").first()
    post(other, f"/account/sessions/{first.pk}/revoke/", {})
    assert get(browser, "/account/").status_code == 302
    post(other, "/logout/", {})
    assert get(other, "/account/").status_code == 302


def test_a_session_of_one_tenant_is_nothing_on_another_tenants_host(cast_a, browser, tenant_b):
    post(browser, "/login/", {"username": "cody", "password": PASSWORD})
    cookie = browser.cookies["__Host-kassa-session"].value
    intruder = Client(HTTP_HOST="bob-chain.localhost")
    intruder.cookies["__Host-kassa-session"] = cookie
    assert get(intruder, "/account/").status_code == 302


def test_there_is_no_sign_up(cast_a, browser, tenant_a, as_tenant):
    for path in ("/signup/", "/register/", "/accounts/signup/", "/api/v1/auth/signup/"):
        assert get(browser, path).status_code == 404, path
    response = browser.post(
        "/api/v1/users/", {"username": "self", "password": "a-strong-password-77"}, secure=True
    )
    assert response.status_code == 401
    with as_tenant(tenant_a):
        assert User.objects.count() == 5
