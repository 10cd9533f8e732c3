import time_machine
from django.utils import timezone

from auditlog.models import SignInEvent
from tests.conftest import PASSWORD, HttpsApiClient


def sign_in(username="cody", password=PASSWORD, host="127.0.0.1"):
    body = {"username": username, "password": password}
    if host == "127.0.0.1":
        body["tenant"] = "alice-chain"
    return HttpsApiClient(host=host).post("/api/v1/auth/token/", body)


def test_ten_failures_lock_the_account_even_for_the_right_password(cast_a):
    for _ in range(10):
        assert sign_in(password="wrong-password-1").status_code == 401
    response = sign_in()
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert 1700 <= int(response["Retry-After"]) <= 1800


def test_lockout_counts_whatever_the_letter_case_or_channel(cast_a):
    for attempt in range(10):
        username = "CODY" if attempt % 2 else "cody"
        host = "alice-chain.localhost" if attempt % 3 else "127.0.0.1"
        sign_in(username=username, password="wrong-password-1", host=host)
    assert sign_in(username="Cody").json()["code"] == "locked_out"


def test_the_owner_role_locks_after_five(cast_a):
    for _ in range(5):
        sign_in(username="alice", password="wrong-password-1")
    assert sign_in(username="alice").json()["code"] == "locked_out"


def test_lockout_ends_after_the_cool_off(cast_a):
    for _ in range(10):
        sign_in(password="wrong-password-1")
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=31)):
        assert sign_in().status_code == 201


def test_an_administrator_can_unlock(cast_a, api, tenant_a, as_tenant):
    for _ in range(10):
        sign_in(password="wrong-password-1")
    assert sign_in().status_code == 429
    owner = api(cast_a["owner"])
    assert owner.post(f"/api/v1/users/{cast_a['cashier'].pk}/unlock/").status_code == 204
    assert sign_in().status_code == 201
    with as_tenant(tenant_a):
        kinds = list(SignInEvent.objects.values_list("kind", flat=True))
    assert "lockout" in kinds and "unlock" in kinds


def test_a_cashier_cannot_unlock(cast_a, api):
    response = api(cast_a["cashier"]).post(f"/api/v1/users/{cast_a['integrator'].pk}/unlock/")
    assert response.status_code == 403


def test_lockout_is_per_tenant(cast_a, tenant_b):
    from tests.conftest import make_user

    make_user(tenant_b, "cody", "cashier")
    for _ in range(10):
        sign_in(password="wrong-password-1")
    response = HttpsApiClient().post(
        "/api/v1/auth/token/", {"tenant": "bob-chain", "username": "cody", "password": PASSWORD}
    )
    assert response.status_code == 201


def test_too_many_failures_from_one_address_are_throttled(cast_a, settings):
    settings.KASSA_SIGNIN_FAILURES_PER_IP_HOUR = 3
    for name in ("a", "b", "c"):
        sign_in(username=name, password="wrong-password-1")
    response = sign_in()
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert response["Retry-After"] == "3600"
