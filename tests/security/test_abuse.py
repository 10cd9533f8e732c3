"""What an attacker sends: stuffed credentials, fixed sessions, forged tokens, broken bodies."""

import json

import pytest
from django.test import Client

from inventory.models import Product
from tests.conftest import PASSWORD, HttpsApiClient, token_for


def sign_in(username, password, ip="127.0.0.1"):
    client = HttpsApiClient()
    return client.post(
        "/api/v1/auth/token/",
        {"tenant": "alice-chain", "username": username, "password": password},
        REMOTE_ADDR=ip,
    )


def test_an_account_locks_whatever_the_addresses_of_the_attempts(cast_a):
    for n in range(10):
        assert sign_in("cody", f"guess-number-{n}", ip=f"198.51.100.{n + 1}").status_code == 401
    assert sign_in("cody", PASSWORD, ip="203.0.113.9").json()["code"] == "locked_out"


def test_credential_stuffing_from_one_address_is_throttled_on_api_and_web(cast_a, settings):
    settings.KASSA_SIGNIN_FAILURES_PER_IP_HOUR = 20
    for n in range(12):
        sign_in(f"user{n}", "leaked-password-1", ip="192.0.2.7")
    browser = Client(HTTP_HOST="alice-chain.localhost", REMOTE_ADDR="192.0.2.7")
    for n in range(8):
        browser.post("/login/", {"username": f"web{n}", "password": "leaked-password-1"}, secure=True)
    response = sign_in("cody", PASSWORD, ip="192.0.2.7")
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert sign_in("cody", PASSWORD, ip="192.0.2.8").status_code == 201  # others are not affected


def test_a_session_id_planted_before_sign_in_is_not_kept(cast_a):
    browser = Client(HTTP_HOST="alice-chain.localhost")
    browser.get("/login/", secure=True)
    browser.cookies["__Host-kassa-session"] = "attackerchosensessionkey0123456789"
    browser.post("/login/", {"username": "cody", "password": PASSWORD}, secure=True)
    assert browser.cookies["__Host-kassa-session"].value != "attackerchosensessionkey0123456789"
    intruder = Client(HTTP_HOST="alice-chain.localhost")
    intruder.cookies["__Host-kassa-session"] = "attackerchosensessionkey0123456789"
    assert intruder.get("/account/", secure=True).status_code == 302


def test_a_token_replayed_after_logout_is_refused(cast_a):
    token = token_for(cast_a["cashier"])
    client = HttpsApiClient(token)
    assert client.post("/api/v1/auth/logout/").status_code == 204
    again = HttpsApiClient(token).get("/api/v1/me/")
    assert again.status_code == 401 and again.json()["code"] == "not_authenticated"


def _raw_post(token, body: bytes, content_type="application/json"):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.generic("POST", "/api/v1/products/", body, content_type=content_type, secure=True)


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("deep JSON", b"[" * 5000 + b"]" * 5000, 400),
        (
            "huge string",
            json.dumps({"sku": "X", "name": "n" * (2 * 1024 * 1024), "price": "1.00"}).encode(),
            413,
        ),
        ("wrong types", json.dumps({"sku": ["X"], "name": {"a": 1}, "price": True}).encode(), 400),
        ("invalid UTF-8", b'{"sku": "X\xff\xfe", "name": "n", "price": "1.00", "tax_rate": "1"}', 400),
        ("not JSON", b"sku=X&name=n", 400),
        (
            "NUL character",
            json.dumps({"sku": "X\u0000", "name": "n", "price": "1.00", "tax_rate": "1"}).encode(),
            400,
        ),
        ("lone surrogate", b'{"sku": "X\\ud800", "name": "n", "price": "1.00", "tax_rate": "1"}', 400),
    ],
)
def test_malformed_bodies_answer_4xx_in_the_documented_shape_and_change_nothing(
    cast_a, as_tenant, name, body, status
):
    response = _raw_post(token_for(cast_a["owner"]), body)
    assert response.status_code == status, name
    error = response.json()
    assert set(error) <= {"code", "detail", "fields"} and error["code"] in ("invalid", "too_large"), error
    with as_tenant(cast_a["owner"].tenant):
        assert not Product.objects.exists()


def test_an_unsupported_media_type_is_refused(cast_a):
    response = _raw_post(token_for(cast_a["owner"]), b"<xml/>", content_type="application/xml")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_an_id_that_is_not_a_uuid_is_not_found_on_every_object_route(api, cast_a):
    """Any API route naming an object answers 404 (never 400 or 500) to an id that is not a UUID."""
    import re

    from tests.security.test_cross_tenant_matrix import _methods, object_patterns

    client, checked = api(cast_a["owner"]), 0
    for route, pattern, _ in object_patterns():
        if not route.startswith("api/") or "(?P<kind>" in route:
            continue
        path = re.sub(r"\(\?P<\w+>[^)]*\)|<(?:\w+:)?\w+>", "not-a-uuid", route)
        path = "/" + path.lstrip("^").rstrip("$").replace("^", "")
        for method in _methods(pattern):
            answer = getattr(client, method)(path, {})
            assert answer.status_code == 404, (method, path, answer.status_code)
            if method == "head":  # DRF adds it to a viewset once it served a GET; HEAD has no body
                continue
            assert answer["Content-Type"] == "application/json", (method, path, answer.content[:200])
            assert answer.json()["code"] == "not_found", (method, path)
            checked += 1
    assert checked >= 30
