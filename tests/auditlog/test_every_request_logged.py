"""Every request is logged whatever its body, charset, path or fate (issue 14, item 2).

Tried as a hostile client would: another charset, NUL bytes, a forwarded script name, plain
HTTP, static paths, a sign-in through the platform host. In no case is anything committed
without an access row, and an API-call row that cannot be written never takes the access row
with it.
"""

import json
import uuid

import pytest
from django.db import connections
from django.urls import get_resolver

from auditlog import redact
from auditlog.models import ApiCall, ChangeEvent, SignInEvent
from inventory.models import Product
from tenants.context import tenant_context
from tests.auditlog.conftest import access_rows
from tests.conftest import PASSWORD, HttpsApiClient, token_for, transactional
from tests.security.test_cross_tenant_matrix import _parameters, _walk

HOST_A = "alice-chain.localhost"
PRODUCT = {"sku": "U16", "name": "Sixteen", "price": "1.00", "tax_rate": "14.00"}


def raw_post(client, path, body: bytes, content_type: str, method="post", host=HOST_A):
    return getattr(client.client, method)(path, body, content_type=content_type, secure=True, HTTP_HOST=host)


def api_calls(request_id, tenant):
    with tenant_context(tenant):
        return list(ApiCall.objects.filter(request_id=request_id))


def test_a_utf16_body_is_refused_before_the_view_and_logged(db, cast_a, tenant_a):
    client = HttpsApiClient(token_for(cast_a["owner"]))
    body = json.dumps(PRODUCT).encode("utf-16")
    response = raw_post(client, "/api/v1/products/", body, "application/json; charset=utf-16")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_charset"
    with tenant_context(tenant_a):
        assert not Product.objects.filter(sku="U16").exists()
    (entry,) = access_rows(response["X-Request-ID"], tenant_a)
    assert entry["status"] == 415 and entry["path"] == "/api/v1/products/"
    (call,) = api_calls(response["X-Request-ID"], tenant_a)
    assert "\x00" not in call.request_body


def test_a_utf7_body_never_shows_its_password_in_the_log(db, cast_a, tenant_a):
    client = HttpsApiClient(token_for(cast_a["cashier"]))
    secret = "Hunter2hunter2hunter2"
    body = json.dumps({"current_password": secret, "new_password": secret + "x"}).encode("utf-7")
    response = raw_post(client, "/api/v1/me/password/", body, "application/json; charset=utf-7")
    assert response.status_code == 415
    (call,) = api_calls(response["X-Request-ID"], tenant_a)
    assert secret not in call.request_body and "Hunter2" not in call.request_body


def test_bytes_that_are_not_utf8_are_refused_whatever_the_declared_type(db, cast_a, tenant_a):
    client = HttpsApiClient(token_for(cast_a["owner"]))
    for content_type in ("application/json", "text/plain", "application/octet-stream"):
        response = raw_post(client, "/api/v1/auth/logout/", b"\xff\xfe{\x00}\x00", content_type)
        assert response.status_code == 400 and response.json()["code"] == "invalid", content_type
        assert len(access_rows(response["X-Request-ID"], tenant_a)) == 1
    assert client.get("/api/v1/me/").status_code == 200  # refused before the view: not logged out
    response = raw_post(client, "/api/v1/products/", b"\xff\xfe{\x00}\x00", "application/json")
    assert response.status_code == 400
    assert len(access_rows(response["X-Request-ID"], tenant_a)) == 1


def test_a_refusal_before_authentication_on_the_platform_host_is_in_the_platform_log(db, cast_a):
    # Refused before the token is read: nobody is known yet, so the platform's log keeps it.
    client = HttpsApiClient(token_for(cast_a["owner"]))
    body = json.dumps(PRODUCT).encode("utf-16")
    response = raw_post(
        client, "/api/v1/products/", body, "application/json; charset=utf-16", host="127.0.0.1"
    )
    assert response.status_code == 415
    (entry,) = access_rows(response["X-Request-ID"])
    assert entry["tenant_id"] is None and entry["status"] == 415


def test_a_nul_body_on_a_view_that_ignores_its_body_is_logged_and_does_its_work(db, cast_a, tenant_a):
    token = token_for(cast_a["cashier"])
    client = HttpsApiClient(token)
    response = raw_post(client, "/api/v1/auth/logout/", b"bye\x00\x01\r\nInjected: yes", "text/plain")
    assert response.status_code == 204  # committed: the token is revoked
    assert HttpsApiClient(token).get("/api/v1/me/").status_code == 401
    (entry,) = access_rows(response["X-Request-ID"], tenant_a)
    assert entry["status"] == 204
    (call,) = api_calls(response["X-Request-ID"], tenant_a)
    assert call.request_body == "bye\\x00\\x01\r\nInjected: yes"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps(PRODUCT).encode("utf-16"), "application/json; charset=utf-16"),
        (json.dumps({"password": "Secret12345678"}).encode("utf-7"), "application/json; charset=UTF-7"),
        (b'{"name": "x\x00y"}', "application/json"),
        (b"x\x00" * 50, "text/plain"),
    ],
    ids=["utf-16", "utf-7", "nul-json", "nul-text"],
)
@transactional
def test_every_api_route_logs_a_hostile_post_and_patch(cast_a, tenant_a, body, content_type):
    """Walk every API URL pattern: each hostile body is refused (4xx) or logged, never committed
    without an access row, and the log write never fails (no 503)."""
    client = HttpsApiClient(token_for(cast_a["owner"]))
    client.client.raise_request_exception = False
    routes = [route for route, _ in _walk(get_resolver()) if route.startswith("api/v1/")]
    assert len(routes) > 30
    request_ids = []
    for route in routes:
        path = "/" + route.replace("^", "").replace("$", "")
        for name in _parameters(route):
            path = path.replace(f"<uuid:{name}>", str(uuid.uuid4())).replace(f"<int:{name}>", "1")
            path = path.replace(f"<slug:{name}>", "x").replace(f"<{name}>", "x")
            path = path.replace(f"(?P<{name}>[a-z]+)", "products").replace(
                f"(?P<{name}>[^/.]+)", str(uuid.uuid4())
            )
        for method in ("post", "patch"):
            response = raw_post(client, path, body, content_type, method=method)
            assert response.status_code < 500, (method, path, response.status_code, response.content[:200])
            if content_type.startswith("application/json;"):
                assert response.status_code == 415, (method, path, response.status_code)
            request_ids.append(response["X-Request-ID"])
            assert len(access_rows(response["X-Request-ID"], tenant_a)) == 1, (method, path)
    with tenant_context(tenant_a):
        changed = set(
            ChangeEvent.objects.filter(request_id__in=request_ids).values_list("request_id", flat=True)
        )
    logged = {uuid.UUID(r) for r in request_ids}
    assert changed <= logged


def test_the_https_redirect_is_logged_under_the_hosts_tenant(db, tenant_a):
    client = HttpsApiClient(host=HOST_A)
    response = client.client.get("/admin/", secure=False, HTTP_HOST=HOST_A)
    assert response.status_code == 301 and response["Location"].startswith("https://")
    (entry,) = access_rows(response["X-Request-ID"], tenant_a)
    assert entry["status"] == 301 and entry["path"] == "/admin/"


def test_a_static_path_that_is_no_file_is_logged_and_a_served_file_is_not(db):
    client = HttpsApiClient()
    served = client.get("/static/admin/css/base.css")
    assert served.status_code == 200 and "X-Request-ID" not in served
    missing = client.get("/static/../api/v1/me/")
    (entry,) = access_rows(missing["X-Request-ID"])
    assert entry["status"] == missing.status_code
    for path in ("/static/nothing-here.css", "/static/%2e%2e/admin/"):
        response = client.get(path)
        assert response.status_code == 404
        assert len(access_rows(response["X-Request-ID"])) == 1


def test_a_forwarded_script_name_cannot_hide_the_routed_path(db, cast_a, tenant_a):
    client = HttpsApiClient(token_for(cast_a["owner"]))
    response = client.get("/api/v1/me/", SCRIPT_NAME="/static")
    assert response.status_code == 200
    (entry,) = access_rows(response["X-Request-ID"], tenant_a)
    assert entry["path"] == "/api/v1/me/"


def test_a_sign_in_through_the_platform_host_is_filed_under_the_tenant_it_names(db, cast_a, tenant_a):
    response = HttpsApiClient().post(
        "/api/v1/auth/token/", {"tenant": "alice-chain", "username": "carl", "password": "wrong-password-12"}
    )
    assert response.status_code == 401
    (entry,) = access_rows(response["X-Request-ID"], tenant_a)
    assert entry["path"] == "/api/v1/auth/token/" and entry["host"] == "127.0.0.1"
    assert access_rows(response["X-Request-ID"]) == []  # not the platform's
    (call,) = api_calls(response["X-Request-ID"], tenant_a)
    assert "wrong-password-12" not in call.request_body


def test_the_password_step_of_a_two_factor_sign_in_is_pending_not_a_failure(db, cast_a, tenant_a, as_tenant):
    from django.utils import timezone

    from accounts import mfa
    from tests.accounts.test_mfa import code

    owner = cast_a["owner"]
    with as_tenant(tenant_a):
        device = mfa.totp_enrol(user=owner)
        mfa.totp_confirm(user=owner, device_id=device.pk, otp=code(device))
        type(owner).objects.filter(pk=owner.pk).update(mfa_grace_until=timezone.now())
    response = HttpsApiClient(host=HOST_A).post(
        "/api/v1/auth/token/", {"username": owner.username, "password": PASSWORD}
    )
    assert response.status_code == 401 and response.json()["code"] == "otp_required"
    with as_tenant(tenant_a):
        event = SignInEvent.objects.filter(username=owner.username).latest("created_at")
    assert event.outcome == SignInEvent.Outcome.PENDING and event.reason == "code_pending"
    assert event.get_outcome_display() == "password ok, code pending"


@transactional
def test_an_api_call_row_that_cannot_be_written_leaves_the_access_row(tenant_a, cast_a):
    owner = connections["owner"]
    with owner.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_api_call() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_api_call BEFORE INSERT ON auditlog_apicall "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_api_call()"
        )
    try:
        response = HttpsApiClient(token_for(cast_a["owner"])).get("/api/v1/me/")
        assert response.status_code == 200  # the access promise holds: the answer stands
        (entry,) = access_rows(response["X-Request-ID"], tenant_a)
        assert entry["status"] == 200
        assert api_calls(response["X-Request-ID"], tenant_a) == []
    finally:
        with owner.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_refuse_api_call ON auditlog_apicall")
            cursor.execute("DROP FUNCTION test_refuse_api_call()")


def test_every_logged_text_field_escapes_control_characters():
    assert redact.clean("a\r\nb\x00c\u2028", 100) == "a\\x0d\\x0ab\\x00c\\u2028"
    assert redact.cap("x\x00y\n\tz\x1b")[0] == "x\\x00y\n\tz\\x1b"
    text, _ = redact.redact_body(b'{"a": "b\x00"}', "application/json")
    assert "\x00" not in text
