"""Two web processes and two Celery workers on one database and one Redis: no node is special."""

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kassa.celery import worker_name_task
from kassa.tls import ensure_certificate
from tests.conftest import PASSWORD, start_worker, stop_worker, transactional

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Node:
    """A gunicorn web process serving HTTPS on its own port."""

    def __init__(self, tmp_path: Path, env: dict, args: tuple = (), log: Path | None = None):
        cert, key = ensure_certificate(tmp_path / "tls", "localhost")
        self.port = free_port()
        errors = log.open("wb") if log else subprocess.DEVNULL  # gunicorn's own log, when asked
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "kassa.wsgi", "-c", "deploy/gunicorn.conf.py", "--workers", "2",
             "--bind", f"127.0.0.1:{self.port}", "--certfile", str(cert), "--keyfile", str(key), *args],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
        )  # fmt: skip
        if log:
            errors.close()  # the child has its own copy
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            assert self.process.poll() is None, "gunicorn exited at start"
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.3)

    def request(self, method, path, body=None, headers=None, host="127.0.0.1"):
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=30)
        data = json.dumps(body).encode() if body is not None else None
        conn.request(
            method,
            path,
            body=data,
            headers={"Host": host, "Content-Type": "application/json", **(headers or {})},
        )
        response = conn.getresponse()
        return response.status, response.read(), response

    def stop(self, sig=signal.SIGTERM):
        """Signal the master and its workers (SIGKILL: the whole node dies at once)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(30)


@pytest.fixture
def two_nodes(tmp_path, stack_env):
    nodes = [Node(tmp_path, stack_env), Node(tmp_path, stack_env)]
    yield nodes
    for node in nodes:
        node.stop()


@pytest.fixture
def two_workers(django_db_setup):
    workers = []
    try:
        for index in (1, 2):
            workers.append(start_worker(pool="solo", prefix=f"node{index}"))
        yield [name for _, name in workers]
    finally:
        for process, _ in workers:
            stop_worker(process)


@transactional
def test_a_token_and_a_session_made_on_one_node_work_on_the_other(cast_a, two_nodes):
    first, second = two_nodes
    status, body, _ = first.request(
        "POST", "/api/v1/auth/token/", {"tenant": "alice-chain", "username": "cody", "password": PASSWORD}
    )
    assert status == 201
    token = json.loads(body)["token"]
    status, body, _ = second.request("GET", "/api/v1/me/", headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and json.loads(body)["username"] == "cody"

    host = "alice-chain.localhost"
    status, _, response = first.request("GET", "/login/", host=host)
    csrf = response.getheader("Set-Cookie").split("__Host-kassa-csrf=")[1].split(";")[0]
    form = f"csrfmiddlewaretoken={csrf}&username=cody&password={PASSWORD}"
    context = ssl._create_unverified_context()
    conn = http.client.HTTPSConnection("127.0.0.1", first.port, context=context, timeout=30)
    conn.request("POST", "/login/", body=form, headers={
        "Host": host, "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"__Host-kassa-csrf={csrf}",
        "Referer": f"https://{host}/login/"})  # fmt: skip
    response = conn.getresponse()
    assert response.status == 302
    session = response.getheader("Set-Cookie").split("__Host-kassa-session=")[1].split(";")[0]
    status, page, _ = second.request(
        "GET", "/account/", host=host, headers={"Cookie": f"__Host-kassa-session={session}"}
    )
    assert status == 200 and b"cody" in page


@transactional
def test_tasks_spread_over_both_workers(two_workers):
    results = [worker_name_task.delay(0.3) for _ in range(12)]
    ran_on = {result.get(timeout=60) for result in results}
    assert ran_on == set(two_workers)


@transactional
def test_killing_one_web_node_loses_no_answered_request(cast_a, two_nodes, as_tenant):
    from accounts.models import User

    first, second = two_nodes
    status, body, _ = first.request(
        "POST", "/api/v1/auth/token/", {"tenant": "alice-chain", "username": "alice", "password": PASSWORD}
    )
    token = json.loads(body)["token"]
    auth = {"Authorization": f"Bearer {token}"}
    answered = []
    for index in range(6):
        status, body, _ = first.request(
            "PATCH", f"/api/v1/users/{cast_a['cashier'].pk}/", {"full_name": f"Cody {index}"}, auth
        )
        assert status == 200
        answered.append(json.loads(body)["id"])
    first.stop(signal.SIGKILL)
    status, body, _ = second.request("GET", f"/api/v1/users/{cast_a['cashier'].pk}/", headers=auth)
    assert status == 200
    assert json.loads(body)["full_name"] == "Cody 5"
    with as_tenant(cast_a["owner"].tenant):
        assert User.objects.get(pk=cast_a["cashier"].pk).full_name == "Cody 5"
