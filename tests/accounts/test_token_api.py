import hashlib

import pytest
import time_machine
from django.utils import timezone

from accounts.models import ApiToken
from auditlog.models import SignInEvent
from tests.conftest import PASSWORD, HttpsApiClient


def sign_in(username="cody", password=PASSWORD, tenant="alice-chain", **extra):
    body = {"tenant": tenant, "username": username, "password": password, **extra}
    return HttpsApiClient().post("/api/v1/auth/token/", body)


def test_sign_in_returns_a_token_that_works(cast_a):
    response = sign_in()
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"token", "expires_at", "idle_timeout_seconds", "password_change_required"}
    assert body["password_change_required"] is False
    assert body["idle_timeout_seconds"] == 900
    me = HttpsApiClient(body["token"]).get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "cody"
    assert me.json()["tenant"] == "alice-chain"
    assert "sell" in me.json()["permissions"]


def test_token_is_stored_only_as_a_hash(cast_a, as_tenant, tenant_a):
    raw = sign_in().json()["token"]
    with as_tenant(tenant_a):
        token = ApiToken.objects.get()
        assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
        stored = [str(v) for v in ApiToken.objects.values_list(flat=False).get()]
    secret = raw[len("kassa_") + 33 :]
    assert len(secret) == 43  # 32 random bytes
    assert not any(raw in value or secret in value for value in stored)


def test_wrong_password_and_unknown_user_answer_alike(cast_a):
    wrong = sign_in(password="not-the-password-1")
    unknown = sign_in(username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"code": "invalid_credentials", "detail": "Wrong username or password."}
    )


def test_unknown_tenant_answers_like_a_wrong_password(cast_a):
    response = sign_in(tenant="no-such-chain")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_tenant_is_required_on_the_platform_host(cast_a):
    response = HttpsApiClient().post("/api/v1/auth/token/", {"username": "cody", "password": PASSWORD})
    assert response.status_code == 400
    assert response.json()["fields"] == {"tenant": ["This field is required."]}


def test_tenant_comes_from_the_host_on_a_tenant_host(cast_a):
    client = HttpsApiClient(host="alice-chain.localhost")
    response = client.post("/api/v1/auth/token/", {"username": "CODY", "password": PASSWORD})
    assert response.status_code == 201


def test_a_token_of_one_tenant_does_not_work_on_another_tenants_host(cast_a, tenant_b):
    raw = sign_in().json()["token"]
    response = HttpsApiClient(raw, host="bob-chain.localhost").get("/api/v1/me/")
    assert response.status_code == 401


def test_logout_revokes_the_token(cast_a):
    raw = sign_in().json()["token"]
    client = HttpsApiClient(raw)
    assert client.post("/api/v1/auth/logout/").status_code == 204
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_token_expires_after_idle_time(cast_a):
    raw = sign_in().json()["token"]
    client = HttpsApiClient(raw)
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=600)):
        assert client.get("/api/v1/me/").status_code == 200  # use within the idle window keeps it alive
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=600 + 901)):
        response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_token_expires_at_its_absolute_lifetime_even_when_used(cast_a):
    raw = sign_in().json()["token"]
    client = HttpsApiClient(raw)
    start = timezone.now()
    for minutes in range(10, 12 * 60, 10):
        with time_machine.travel(start + timezone.timedelta(minutes=minutes)):
            assert client.get("/api/v1/me/").status_code == 200
    with time_machine.travel(start + timezone.timedelta(hours=12, seconds=1)):
        response = client.get("/api/v1/me/")
    assert response.json()["code"] == "token_expired"


def test_tampered_and_malformed_tokens_are_refused(cast_a):
    raw = sign_in().json()["token"]
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    for bad in (tampered, "kassa_" + "0" * 32 + "_" + "x" * 43, "nonsense", raw + "x"):
        response = HttpsApiClient(bad).get("/api/v1/me/")
        assert response.status_code == 401, bad
        assert response.json()["code"] == "not_authenticated"


def test_no_token_answers_401(db):
    response = HttpsApiClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_every_attempt_is_recorded_with_reason_ip_and_host(cast_a, tenant_a, as_tenant):
    sign_in()
    sign_in(password="wrong-password-123")
    sign_in(username="ghost")
    with as_tenant(tenant_a):
        events = list(
            SignInEvent.objects.order_by("id").values_list("username", "outcome", "reason", "ip", "host")
        )
    assert events == [
        ("cody", "success", "", "127.0.0.1", "127.0.0.1"),
        ("cody", "failure", "bad_password", "127.0.0.1", "127.0.0.1"),
        ("ghost", "failure", "unknown_user", "127.0.0.1", "127.0.0.1"),
    ]


def test_a_username_with_line_breaks_is_one_clean_entry(cast_a, tenant_a, as_tenant):
    sign_in(username="evil\r\nadmin logged in")
    with as_tenant(tenant_a):
        (username,) = SignInEvent.objects.values_list("username", flat=True)
    assert "\n" not in username and "\r" not in username


def test_inactive_user_cannot_sign_in(cast_a, tenant_a, as_tenant):
    from accounts.models import User

    with as_tenant(tenant_a):
        User.objects.filter(username="cody").update(is_active=False)
    response = sign_in()
    assert response.json()["code"] == "invalid_credentials"
    with as_tenant(tenant_a):
        assert SignInEvent.objects.get().reason == "inactive"


@pytest.mark.parametrize(
    "body", [{}, {"username": "x"}, {"tenant": "alice-chain", "username": ["x"], "password": 1}]
)
def test_malformed_sign_in_answers_400_in_the_documented_shape(cast_a, body):
    response = HttpsApiClient().post("/api/v1/auth/token/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"]
