"""A request the web server's timeout kills is still in the access log (status 504)."""

import os
import time

from django.db import connections

from tenants.context import tenant_context
from tests.auditlog.conftest import access_rows
from tests.conftest import transactional
from tests.deploy.test_two_nodes import Node

HOST_A = "alice-chain.localhost"


def slow_node(tmp_path, env) -> Node:
    """gunicorn as `make run` starts it, with a 2-second timeout and a `/slow/` route."""
    env = {**env, "DJANGO_SETTINGS_MODULE": "tests.auditlog.slow_settings"}
    return Node(tmp_path, env, args=("--timeout", "2", "--workers", "1"))


@transactional
def test_a_request_killed_by_the_timeout_is_logged_as_504(tmp_path, tenant_a):
    env = {**os.environ, "KASSA_DB_NAME": connections["default"].settings_dict["NAME"]}
    node = slow_node(tmp_path, env)
    try:
        started = time.monotonic()
        try:
            status, _, _ = node.request("GET", "/slow/?password=hunter2&page=1", host=HOST_A)
        except OSError:  # the worker died mid-request: the client sees the connection drop
            status = None
        assert time.monotonic() - started < 30
        assert status in (None, 500, 502, 504)
        deadline = time.monotonic() + 20
        rows = []
        while not rows and time.monotonic() < deadline:
            with tenant_context(tenant_a), connections["default"].cursor() as cursor:
                cursor.execute("SELECT request_id FROM auditlog_access WHERE path = '/slow/'")
                rows = cursor.fetchall()
            if not rows:
                time.sleep(0.5)
        (request_id,) = [r[0] for r in rows] or [None]
        assert request_id is not None, "the killed request left no access row"
        (entry,) = access_rows(request_id, tenant_a)
        assert entry["status"] == 504 and entry["method"] == "GET"
        assert entry["duration_ms"] >= 1500
        assert "hunter2" not in entry["query"] and "page=1" in entry["query"]
    finally:
        node.stop()
