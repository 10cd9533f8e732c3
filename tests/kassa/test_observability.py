import http.server
import json
import logging
import threading

from django.core import mail

from core import alerts
from core.observability import JsonFormatter, request_id_var
from kassa.celery import ping_task
from tests.conftest import HttpsApiClient


def test_metrics_are_served_to_allowed_addresses_only(client, db):
    client.get("/healthz")
    allowed = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert allowed.status_code == 200
    assert b'kassa_http_requests_total{kind="web",method="GET",status="2xx"}' in allowed.content
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404


def test_sign_in_failures_and_lockouts_are_counted(cast_a, client):
    for _ in range(10):
        HttpsApiClient().post(
            "/api/v1/auth/token/", {"tenant": "alice-chain", "username": "cody", "password": "wrong-pass-1"}
        )
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'kassa_signin_failures_total{channel="api",reason="bad_password"}' in text
    assert 'kassa_lockouts_total{channel="api"}' in text


def test_task_outcomes_are_counted(client, db):
    ping_task.apply()
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'kassa_task_outcomes_total{outcome="success",task="kassa.ping_task"}' in text


def test_logs_are_json_lines_with_the_request_id():
    token = request_id_var.set("req-42")
    try:
        record = logging.LogRecord(
            "kassa.test", logging.WARNING, __file__, 1, "stock low for %s", ("SKU-1",), None
        )
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "stock low for SKU-1"
    assert line["request_id"] == "req-42"
    assert line["level"] == "WARNING"


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        _Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_burst_of_failed_sign_ins_alerts_operators_once(cast_a, settings):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.KASSA_ALERT_WEBHOOK = f"http://127.0.0.1:{server.server_port}/alerts"
    settings.KASSA_ALERT_SIGNIN_FAILURES = 3
    settings.KASSA_ALERT_LOCKOUTS = 1000
    settings.ADMINS = [("Ops", "ops@example.com")]
    _Hook.received.clear()
    try:
        for name in ("a", "b", "c", "d", "e"):
            HttpsApiClient().post(
                "/api/v1/auth/token/", {"tenant": "alice-chain", "username": name, "password": "wrong-pass-1"}
            )
    finally:
        server.shutdown()
    assert len(mail.outbox) == 1
    assert "signin_failures for tenant alice-chain" in mail.outbox[0].subject
    assert [(a["kind"], a["tenant"]) for a in _Hook.received] == [("signin_failures", "alice-chain")]


def test_a_failing_alert_channel_does_not_break_the_caller(settings, db):
    settings.KASSA_ALERT_WEBHOOK = "http://127.0.0.1:9/nothing-listens"
    alerts.alert_send("restore_drill_failed", tenant="x", detail="checksum mismatch")


def test_a_request_logs_with_its_request_id(cast_a, caplog):
    from core.observability import request_id_var

    seen = []

    class Spy(logging.Handler):
        def emit(self, record):
            seen.append(request_id_var.get())

    spy = Spy()
    logging.getLogger("django.request").addHandler(spy)
    try:
        response = HttpsApiClient().get("/api/v1/users/")  # 401 is logged as a warning
    finally:
        logging.getLogger("django.request").removeHandler(spy)
    assert seen and seen[-1] == response["X-Request-ID"]
