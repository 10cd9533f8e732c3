import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("host", "path", "status"),
    [
        ("alice-chain.localhost", "/login/", 200),  # a page
        ("127.0.0.1", "/api/v1/permissions/", 401),  # an API error
        ("127.0.0.1", "/api/v1/schema/", 200),  # an API answer
        ("alice-chain.localhost", "/no-such-page/", 404),  # an error page
        ("nobody.localhost", "/login/", 404),  # an unknown tenant
    ],
)
def test_security_headers_on_every_kind_of_response(client, tenant_a, host, path, status):
    response = client.get(path, HTTP_HOST=host, secure=True)
    assert response.status_code == status
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "Server" not in response


def test_plain_http_only_redirects(client, tenant_a):
    response = client.get("/api/v1/me/", HTTP_HOST="alice-chain.localhost")
    assert response.status_code == 301
    assert response["Location"] == "https://alice-chain.localhost/api/v1/me/"


def test_cookies_are_secure_httponly_and_host_prefixed(client, tenant_a):
    response = client.get("/login/", HTTP_HOST="alice-chain.localhost", secure=True)
    cookie = response.cookies["__Host-kassa-csrf"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie["path"] == "/" and not cookie["domain"]


def test_forms_are_protected_against_csrf(tenant_a):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True, HTTP_HOST="alice-chain.localhost")
    response = browser.post("/login/", {"username": "alice", "password": "x"}, secure=True)
    assert response.status_code == 403


def test_check_deploy_is_clean_with_production_settings():
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env.update(
        KASSA_ENV="production",
        KASSA_SECRET_KEY="p" * 20 + "Q8r#t6Y!u4I@o2P$a9S%d7F^g5H&j3K*",
        KASSA_MASTER_KEY="uS8XQyZ6o8sP8Yk9Y3Jm3b7oH2a0k0m7m9zQm4wTq0E=",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
