"""Kassa through a real PgBouncer in transaction mode: a tenant never leaks into another's transaction.

PgBouncer hands each transaction whichever server connection is free, so anything set for a
session would travel to the next client. Kassa sets the tenant with `set_config(..., true)`
inside each transaction, prepares nothing on the server and keeps no cursor across
transactions (KASSA_DB_TRANSACTION_POOLING). Here a gunicorn node with four workers runs on a
pool of two server connections: 1,000 requests of two tenants, interleaved, each sees only its
own tenant's rows, and a bare client on the same pool never finds a tenant set. The audit
writer's connection never keeps a server once its statement is answered (psycopg's pipeline
did, through PgBouncer 1.18, and a small pool deadlocked). The node's and PgBouncer's logs are
kept in the test's tmp_path.
"""

import http.client
import json
import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connections

from tests.conftest import token_for, transactional
from tests.deploy.test_two_nodes import Node, free_port
from tests.factories import ProductFactory

PGBOUNCER = Path(os.environ.get("KASSA_PGBOUNCER", "/usr/sbin/pgbouncer"))
REQUESTS = 1000


def _server() -> tuple[str, int, str]:
    params = connections["owner"].get_connection_params()
    return params.get("host") or "127.0.0.1", int(params.get("port") or 5432), params["dbname"]


@pytest.fixture
def pgbouncer(django_db_setup, tmp_path):
    """PgBouncer on a free loopback port, transaction pooling, two server connections per pool."""
    host, port, _ = _server()
    directory = Path(tempfile.mkdtemp(prefix="kassa-pgbouncer-"))
    directory.chmod(0o755)
    listen = free_port()
    (directory / "users.txt").write_text('"kassa_app" ""\n"kassa_owner" ""\n')
    (directory / "pgbouncer.ini").write_text(
        f"[databases]\n* = host={host} port={port}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {directory / 'users.txt'}\nstats_users = kassa_app\n"
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 50\n"
        f"logfile = {directory / 'pgbouncer.log'}\n"
    )
    # PgBouncer refuses to run as root: it runs as the user who may reach the socket.
    user = None
    if os.geteuid() == 0:
        owner = os.stat(host).st_uid if host.startswith("/") else 65534
        user = pwd.getpwuid(owner).pw_name
        os.chown(directory, owner, -1)
    process = subprocess.Popen(
        [str(PGBOUNCER), str(directory / "pgbouncer.ini")], user=user, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            psycopg.connect(host="127.0.0.1", port=listen, user="kassa_app", dbname="pgbouncer").close()
            break
        except psycopg.OperationalError:
            assert process.poll() is None, (directory / "pgbouncer.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "PgBouncer did not answer within 20 s"
            time.sleep(0.1)
    yield listen
    process.terminate()
    process.wait(10)
    shutil.copy(directory / "pgbouncer.log", tmp_path / "pgbouncer.log")  # kept for a failure's reader
    for path in directory.iterdir():
        path.unlink()
    directory.rmdir()


def admin(port: int, command: str) -> list[dict]:
    """A SHOW command on PgBouncer's console (simple query protocol only)."""
    with psycopg.connect(
        host="127.0.0.1", port=port, user="kassa_app", dbname="pgbouncer", autocommit=True
    ) as conn:
        result = conn.pgconn.exec_(command.encode())
        names = [result.fname(i).decode() for i in range(result.nfields)]
        return [
            {names[c]: (result.get_value(r, c) or b"").decode() for c in range(result.nfields)}
            for r in range(result.ntuples)
        ]


@transactional
def test_a_thousand_interleaved_requests_of_two_tenants_through_pgbouncer_never_cross(
    tenant_a, tenant_b, pgbouncer, stack_env, tmp_path
):
    from accounts.models import User
    from tenants.context import tenant_context

    host, port, dbname = _server()
    owner_host = quote(host, safe="")
    env = {
        **stack_env,
        "DATABASE_URL": f"postgres://kassa_app@127.0.0.1:{pgbouncer}/{dbname}",
        "DATABASE_OWNER_URL": f"postgres://kassa_owner@{owner_host}:{port}/{dbname}",  # direct
        "KASSA_DB_TRANSACTION_POOLING": "true",
        "WEB_CONCURRENCY": "4",
    }
    for index in range(3):
        ProductFactory(tenant=tenant_a, sku=f"ALICE-{index}")
    ProductFactory(tenant=tenant_b, sku="BOB-0")
    owners = {}
    for tenant, username in ((tenant_a, "alice"), (tenant_b, "bob")):
        with tenant_context(tenant):
            owners[username] = User.objects.get(username=username)
    tenants = {
        "alice": ("ALICE-", token_for(owners["alice"])),
        "bob": ("BOB-", token_for(owners["bob"])),
    }
    node = Node(tmp_path, env, log=tmp_path / "gunicorn.log")
    answers: list[tuple[str, int, list[str]]] = []
    lock = threading.Lock()
    bare_reads: list[str] = []

    def register(offset: int) -> None:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", node.port, context=context, timeout=30)  # kept alive
        for number in range(REQUESTS // 4):
            name = ("alice", "bob")[(number + offset) % 2]  # alternate tenants on every connection
            prefix, token = tenants[name]
            headers = {
                "Host": "127.0.0.1",
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
            }
            if number % 10 == 0:  # a write now and then: a transaction that changes rows
                body = json.dumps(
                    {"sku": f"{prefix}{offset}-{number}", "name": "x", "price": "1.00", "tax_rate": "24.00"}
                )
                conn.request("POST", "/api/v1/products/", body=body, headers=headers)
            else:
                conn.request("GET", "/api/v1/products/?page_size=500", headers=headers)
            response = conn.getresponse()
            data = response.read()
            skus = [p["sku"] for p in json.loads(data)["results"]] if response.status == 200 else []
            with lock:
                answers.append((name, response.status, skus))
        conn.close()

    def bare_client() -> None:
        # No tenant of its own: on a pool shared with the requests, it must never find one set.
        # (psycopg's default prepares a statement run five times, which a pooled server connection
        # never saw: "prepared statement _pg3_0 does not exist". Kassa's settings turn that off.)
        with psycopg.connect(
            host="127.0.0.1",
            port=pgbouncer,
            user="kassa_app",
            dbname=dbname,
            autocommit=True,
            prepare_threshold=None,
        ) as conn:
            for _ in range(200):
                value = conn.execute("SELECT current_setting('kassa.tenant_id', true)").fetchone()[0]
                bare_reads.append(value or "")
                time.sleep(0.01)

    try:
        threads = [threading.Thread(target=register, args=(offset,)) for offset in range(4)]
        threads.append(threading.Thread(target=bare_client))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        pools = admin(pgbouncer, "SHOW POOLS")
        clients = admin(pgbouncer, "SHOW CLIENTS")
        stats = admin(pgbouncer, "SHOW STATS")
    finally:
        node.stop()

    assert len(answers) == REQUESTS, f"logs: {tmp_path}/gunicorn.log and pgbouncer.log"
    assert {status for _, status, _ in answers} <= {200, 201}, sorted({status for _, status, _ in answers})
    cross = [(name, sku) for name, _, skus in answers for sku in skus if not sku.startswith(tenants[name][0])]
    assert cross == []
    assert all(skus for _, status, skus in answers if status == 200)  # each read saw its own rows
    assert bare_reads == [""] * 200  # never a tenant left behind by a request
    # It really was pooled: more clients than the two server connections they shared.
    app_pool = next(p for p in pools if p["database"] == dbname and p["user"] == "kassa_app")
    assert int(app_pool["sv_active"]) + int(app_pool["sv_idle"]) + int(app_pool["sv_used"]) <= 2
    assert len([c for c in clients if c["database"] == dbname and c["user"] == "kassa_app"]) >= 4
    app_stats = next(s for s in stats if s["database"] == dbname)
    assert int(app_stats["total_xact_count"]) >= REQUESTS
    # The access log wrote every request through the pool too (its INSERT is not prepared there).
    from auditlog.models import AccessEvent

    logged = 0
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            logged += AccessEvent.objects.filter(path__startswith="/api/v1/products/").count()
    assert logged == REQUESTS


def _pool(port: int, dbname: str) -> dict:
    return next(p for p in admin(port, "SHOW POOLS") if p["database"] == dbname and p["user"] == "kassa_app")


@transactional
def test_the_audit_writer_never_keeps_a_server_connection_through_pgbouncer(
    tenant_a, pgbouncer, monkeypatch, settings
):
    """After each access-and-API-call write, the writer's connection holds no server of the pool.

    psycopg's pipeline (one Sync per step and one at its end) left a server linked to the idle
    writer within about a hundred writes through PgBouncer 1.18: the next transaction of the same
    worker waited for it for ever once the pool was full.
    """
    import uuid

    from django.utils import timezone

    from auditlog import writer
    from auditlog.models import AccessEvent, ApiCall
    from tenants.context import tenant_context

    _, _, dbname = _server()
    params = connections["audit"].get_connection_params()
    params.pop("options", None)  # PgBouncer takes no startup options: the role is the login
    params.update(host="127.0.0.1", port=pgbouncer, user="kassa_app")
    monkeypatch.setattr(connections["audit"], "get_connection_params", lambda: dict(params))
    settings.KASSA_DB_TRANSACTION_POOLING = True
    writer.close()
    tenant = str(tenant_a.pk)
    writes, held = 300, []
    try:
        for number in range(writes):
            request_id, now = str(uuid.uuid4()), timezone.now()
            access = (tenant, now, tenant, request_id, None, None, None, None, "127.0.0.1", "127.0.0.1",
                      "GET", "/api/v1/products/", "", 200, 1.0, "probe")  # fmt: skip
            api_call = (tenant, now, tenant, request_id, None, None, None, "GET", "/api/v1/products/", "",
                        "{}", "", False, 200, "{}", False)  # fmt: skip
            writer.execute_access_and_api_call(access, api_call)
            pool = _pool(pgbouncer, dbname)
            if pool["sv_active"] != "0":
                held.append((number, pool["sv_active"], pool["cl_active"]))
                break
    finally:
        writer.close()
    assert held == []
    with tenant_context(tenant_a):
        assert AccessEvent.objects.filter(user_agent="probe").count() == writes
        assert ApiCall.objects.filter(path="/api/v1/products/").count() == writes


def _drain_locks() -> list[int]:
    """The server sessions holding a webhook drain's advisory lock (read on a direct connection)."""
    from integrations.delivery import LOCK_NAMESPACE

    params = connections["owner"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as direct:
        rows = direct.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND granted",
            [LOCK_NAMESPACE],
        ).fetchall()
    return [pid for (pid,) in rows]


@transactional
def test_a_webhook_drain_through_pgbouncer_leaves_its_endpoint_locked_on_no_server(
    api, cast_a, tenant_a, stores_a, pgbouncer, monkeypatch, settings
):
    """Through a transaction-mode pooler each statement may reach another server session. A drain
    took its endpoint's session lock on one server and gave it back on another (a no-op there),
    so the lock stayed held on the first: only a drain that reached that server again could send.
    Here another client takes the lock's server while the receiver is answering, as a busy pool
    does, so the drain's next statements go to the other one. Pooled, the drain is one transaction
    holding the lock for the transaction: during the send exactly one session holds it, after the
    drain none, and the next drain sends too."""
    from uuid import UUID

    from integrations.delivery import endpoint_drain
    from integrations.models import Delivery
    from tenants.context import tenant_context
    from tests.integrations.conftest import Receiver
    from tests.inventory.conftest import product_make

    _, _, dbname = _server()
    product = product_make(tenant_a, "POOL-1")
    client = api(cast_a["owner"])
    hooks = Receiver()
    answer = client.post("/api/v1/webhooks/", {"url": hooks.url(), "events": ["product.changed"]})
    assert answer.status_code == 201, answer.content
    endpoint_id = UUID(answer.json()["id"])
    held_during_send: list[list[int]] = []
    pinned: list[psycopg.Connection] = []

    def busy_pool():  # while the receiver answers: another client's transaction takes a server
        other = psycopg.connect(host="127.0.0.1", port=pgbouncer, user="kassa_app", dbname=dbname,
                                prepare_threshold=None)  # fmt: skip
        other.execute("SELECT 1")  # its transaction is open: PgBouncer keeps that server for it
        pinned.append(other)
        held_during_send.append(_drain_locks())

    post = hooks.server.RequestHandlerClass.do_POST

    def do_post(handler):
        busy_pool()
        post(handler)

    monkeypatch.setattr(hooks.server.RequestHandlerClass, "do_POST", do_post)
    default = connections["default"]
    params = default.get_connection_params()
    params.pop("options", None)  # PgBouncer takes no startup options: the role is the login
    params.update(host="127.0.0.1", port=pgbouncer, user="kassa_app", prepare_threshold=None)
    try:
        for round_ in range(2):
            answer = client.patch(f"/api/v1/products/{product.pk}/", {"name": f"renamed {round_}"})
            assert answer.status_code == 200, answer.content
            default.close()
            with monkeypatch.context() as pooled:  # the drain's connection goes through PgBouncer
                pooled.setattr(default, "get_connection_params", lambda: dict(params))
                settings.KASSA_DB_TRANSACTION_POOLING = True
                with tenant_context(tenant_a):
                    drained = endpoint_drain(endpoint_id=endpoint_id)
                default.close()
                settings.KASSA_DB_TRANSACTION_POOLING = False
            for other in pinned:  # it ends its transaction as a client does (closing it mid-way
                other.commit()  # would make PgBouncer drop the server, and any lock it holds)
                other.close()
            pinned.clear()
            assert drained.locked and drained.sent == 1, (round_, drained)
            assert len(held_during_send[round_]) == 1, held_during_send  # one drain, one holder
            assert _drain_locks() == [], round_  # and no server left holding it
        assert len(hooks.requests) == 2
        with tenant_context(tenant_a):
            assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SUCCEEDED}
        assert int(_pool(pgbouncer, dbname)["sv_active"]) == 0
    finally:
        for other in pinned:
            other.close()
        hooks.stop()
