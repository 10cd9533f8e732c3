"""Property-based tests of the API against its own OpenAPI schema (schemathesis).

Every operation gets generated requests, signed in as the chain's owner: the API must never
answer 500, its 2xx bodies must match the schema, and it must not ignore authentication.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import ignored_auth, response_schema_conformance

from tests.conftest import token_for

EXAMPLES_PER_OPERATION = 10
# Operations that would end the owner's own access mid-run, or sign in with random credentials
# (the lockout and throttle tests cover those): generated data adds nothing there.
SKIPPED = {"POST /api/v1/auth/logout/", "POST /api/v1/me/password/"}


@pytest.fixture
def wsgi_app(settings):
    """The WSGI application, minus closing database connections between requests (as the
    test client does), so every request runs in the test's transaction."""
    settings.SECURE_SSL_REDIRECT = False  # the in-process WSGI transport speaks plain HTTP
    settings.KASSA_API_RATE = "100000/minute"
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_every_operation_keeps_its_contract(cast_a, stores_a, wsgi_app):
    token = token_for(cast_a["owner"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", wsgi_app)
    counter = {"cases": 0, "operations": 0}

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED:
            continue
        counter["operations"] += 1

        @given(case=operation.as_strategy())
        @settings_(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                   derandomize=True, database=None)  # fmt: skip
        def check(case):
            counter["cases"] += 1
            headers = {"Authorization": f"Bearer {token}"}
            if case.method in ("POST", "PUT", "PATCH"):
                headers["Idempotency-Key"] = f"schemathesis-{counter['cases']}"
            with transaction.atomic():  # as in production, a failed request leaves the next one alone
                case.call_and_validate(
                    headers=headers, checks=[not_a_server_error, response_schema_conformance, ignored_auth]
                )

        check()
    print(f"schemathesis: {counter['cases']} cases over {counter['operations']} operations")
    assert counter["operations"] >= 40
