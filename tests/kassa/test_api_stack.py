"""The two middleware stacks (core/stack.py): bearer-token API requests skip the browser-only
layers; cookies and CSRF still protect every browser path, and an API answer is logged and
carries the same headers as before.

These tests drive the production handler's dispatch (`KassaWSGIHandler.get_response`) through
Django's test client; the rest of the suite uses the whole stack for everything.
"""

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.test import Client
from django.test.client import ClientHandler

from auditlog.models import AccessEvent
from core.stack import KassaWSGIHandler, _ApiStack, api_middleware
from tests.conftest import HOST_A, PASSWORD, token_for


class StackClientHandler(ClientHandler):
    """The test client's handler, dispatching as KassaWSGIHandler does."""

    def get_response(self, request):
        if getattr(self, "api_stack", None) is None:
            self.api_stack = _ApiStack()
            self.api_stack.load_middleware()
        return KassaWSGIHandler.get_response(self, request)


def stack_client(**defaults) -> Client:
    enforce = defaults.pop("enforce_csrf_checks", False)
    client = Client(HTTP_HOST=HOST_A, **defaults)
    client.handler = StackClientHandler(enforce)
    return client


@pytest.fixture
def layer_calls(monkeypatch):
    """How often the session and CSRF layers ran."""
    calls = {"session": 0, "csrf_view": 0}
    session_request, csrf_view = SessionMiddleware.process_request, CsrfViewMiddleware.process_view

    def counted_session(self, request):
        calls["session"] += 1
        return session_request(self, request)

    def counted_csrf(self, request, *args):
        calls["csrf_view"] += 1
        return csrf_view(self, request, *args)

    monkeypatch.setattr(SessionMiddleware, "process_request", counted_session)
    monkeypatch.setattr(CsrfViewMiddleware, "process_view", counted_csrf)
    return calls


def test_the_production_application_dispatches_between_the_stacks():
    from kassa.wsgi import application

    assert isinstance(application, KassaWSGIHandler)
    skipped = {
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    }
    assert not skipped & set(api_middleware())
    assert api_middleware()[0] == "auditlog.middleware.AuditMiddleware"


def test_a_bearer_api_request_skips_the_browser_layers_and_keeps_its_log_and_headers(
    cast_a, tenant_a, as_tenant, layer_calls
):
    owner = cast_a["owner"]
    client = stack_client(HTTP_AUTHORIZATION=f"Bearer {token_for(owner)}")
    response = client.get("/api/v1/me/", secure=True)
    assert response.status_code == 200
    assert response.json()["username"] == owner.username
    assert layer_calls == {"session": 0, "csrf_view": 0}
    for header in ("X-Request-ID", "RateLimit-Limit", "Content-Security-Policy", "X-Frame-Options"):
        assert response.has_header(header), header
    assert response["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response and "Cookie" not in response.get("Vary", "")
    with as_tenant(tenant_a):
        entry = AccessEvent.objects.get(request_id=response["X-Request-ID"])
    assert (entry.user_id, entry.status, entry.path) == (owner.pk, 200, "/api/v1/me/")


def test_a_bad_bearer_token_is_refused_and_logged_on_the_api_stack(tenant_a, as_tenant, layer_calls):
    client = stack_client(HTTP_AUTHORIZATION="Bearer kassa_" + "0" * 32 + "_" + "x" * 43)
    response = client.get("/api/v1/me/", secure=True)
    assert response.status_code == 401
    assert layer_calls["session"] == 0
    unknown = client.get("/api/v1/no-such-thing/", secure=True)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    with as_tenant(tenant_a):
        logged = set(AccessEvent.objects.values_list("status", flat=True))
    assert {401, 404} <= logged


def test_a_session_cookie_signs_nobody_in_on_a_bearer_api_request(cast_a):
    client = stack_client()
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}, secure=True).status_code == 302
    assert client.get("/", secure=True).status_code in (200, 302)
    # The cookie is there, but a bearer request is the token's alone: a bad token is a 401.
    response = client.get("/api/v1/me/", secure=True, HTTP_AUTHORIZATION="Bearer nonsense")
    assert response.status_code == 401
    ivy = token_for(cast_a["integrator"])
    response = client.get("/api/v1/me/", secure=True, HTTP_AUTHORIZATION=f"Bearer {ivy}")
    assert response.status_code == 200 and response.json()["username"] == cast_a["integrator"].username


def test_csrf_still_protects_the_browser_paths(cast_a, layer_calls, settings):
    client = stack_client(enforce_csrf_checks=True, HTTP_REFERER=f"https://{HOST_A}/login/")
    # No CSRF token: refused, also with a bearer header on a page (pages use the whole stack).
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}, secure=True).status_code == 403
    refused = client.post(
        "/login/",
        {"username": "alice", "password": PASSWORD},
        secure=True,
        HTTP_AUTHORIZATION=f"Bearer {token_for(cast_a['owner'])}",
    )
    assert refused.status_code == 403
    assert layer_calls["csrf_view"] >= 2 and layer_calls["session"] >= 2
    # With the token from the form, the sign-in works and sets the session cookie.
    page = client.get("/login/", secure=True)
    token = page.cookies[settings.CSRF_COOKIE_NAME].value
    signed = client.post(
        "/login/", {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}, secure=True
    )
    assert signed.status_code == 302
    assert settings.SESSION_COOKIE_NAME in client.cookies
