"""`make ha-drill`: Kassa on a production-shaped topology on this machine, and nodes killed under load.

Topology (all on 127.0.0.1, in var/ha/run, stopped and removed at the end whatever happens):
etcd; PostgreSQL 16 (pgserver's binaries) as a primary and a synchronous replica managed by
Patroni; HAProxy sending PostgreSQL traffic to whichever node Patroni's REST API calls the
primary (`/primary`) and HTTPS to two gunicorn nodes; PgBouncer in transaction mode in front
of HAProxy for the app role; Redis with a replica and three Sentinels; two Celery workers and
two beats (one sends, one stands by).

The drill: cashiers of several tenants sell through the entry point, each sale with an
Idempotency-Key and retried on a 5xx or a broken connection as a register would; meanwhile, in
turn, the PostgreSQL primary's node is killed (-9: Patroni and PostgreSQL), one web node is
killed, the worker running an export is killed, and Redis's master is restarted. Then the
ledger is checked and one line printed:

    ha-drill: N sales answered, N found, 0 lost, 0 duplicated, failover Ts

It exits non-zero when anything was lost or duplicated, or any check failed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import importlib.util
import json
import os
import random
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HA = ROOT / "var" / "ha"
TOOLS = HA / "venv"
LOCK = ROOT / "deploy" / "ha" / "requirements.lock"
RUN = HA / "run"
PYTHON = sys.executable
PG_BIN = Path(importlib.util.find_spec("pgserver").origin).parent / "pginstall" / "bin"
ROOT_USER = os.geteuid() == 0
SERVICE_USER = "nobody" if ROOT_USER else None  # PostgreSQL and PgBouncer refuse to run as root
SERVICE_GROUP = "nogroup" if ROOT_USER else None
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except Exception:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise DrillError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class DrillError(Exception):
    pass


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


# --- tools -------------------------------------------------------------------------------


def tool_venv() -> Path:
    """Patroni in var/ha/venv, installed from deploy/ha/requirements.lock (hashes) by Debian's Python."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    stamp = TOOLS / ".lock-sha256"
    if stamp.exists() and stamp.read_text() == digest and (TOOLS / "bin" / "patroni").exists():
        return TOOLS
    say("installing Patroni into var/ha/venv (deploy/ha/requirements.lock)")
    shutil.rmtree(TOOLS, ignore_errors=True)
    HA.mkdir(parents=True, exist_ok=True)
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(TOOLS)], check=True)
    pip = subprocess.run(
        [str(TOOLS / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "--require-hashes",
         "-r", str(LOCK)],
        capture_output=True, text=True,
    )  # fmt: skip
    if pip.returncode != 0:
        raise DrillError(f"pip install -r {LOCK.relative_to(ROOT)} failed: {pip.stderr.strip()[-2000:]}")
    stamp.write_text(digest)
    return TOOLS


# --- processes ---------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict | None = None
    user: str | None = None
    cwd: Path | None = None
    process: subprocess.Popen | None = None

    def start(self) -> Proc:
        log = open(RUN / "log" / f"{self.name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd or RUN, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, user=self.user,
            group=SERVICE_GROUP if self.user else None,
        )  # fmt: skip
        log.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(15)

    def log_tail(self, lines: int = 15) -> str:
        path = RUN / "log" / f"{self.name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Stack:
    def __init__(self):
        self.procs: dict[str, Proc] = {}
        self.ports: dict[str, int] = {}
        self.secrets = {k: secrets.token_urlsafe(24) for k in ("postgres", "replicator", "owner", "app")}

    def port(self, name: str) -> int:
        if name not in self.ports:
            self.ports[name] = free_port()
        return self.ports[name]

    def run(self, name, argv, **kwargs) -> Proc:
        proc = Proc(name, argv, **kwargs).start()
        self.procs[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.kill(signal.SIGTERM)
        for proc in self.procs.values():
            proc.kill(signal.SIGKILL)
        for name in ("pg1", "pg2"):  # Patroni leaves its postmaster running on purpose
            pid_file = RUN / name / "data" / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError, IndexError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

    # --- etcd and Patroni

    def etcd(self) -> None:
        client, peer = self.port("etcd"), self.port("etcd-peer")
        self.run("etcd", [
            "/usr/bin/etcd", "--name", "drill", "--data-dir", str(RUN / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"drill=http://127.0.0.1:{peer}", "--initial-cluster-state", "new",
        ])  # fmt: skip
        wait_for(lambda: http_status(f"http://127.0.0.1:{client}/health") == 200, 30, "etcd")

    def patroni_config(self, name: str) -> Path:
        pg, api = self.port(f"{name}-pg"), self.port(f"{name}-api")
        node = RUN / name  # the node's own folder, owned by the user PostgreSQL runs as
        socket_dir = node / "sock"
        socket_dir.mkdir(parents=True, exist_ok=True)
        if ROOT_USER:
            for path in (node, socket_dir):
                shutil.chown(path, SERVICE_USER, SERVICE_GROUP)
        config = {
            "scope": "kassa-drill",
            "name": name,
            "restapi": {"listen": f"127.0.0.1:{api}", "connect_address": f"127.0.0.1:{api}"},
            "etcd3": {"hosts": [f"127.0.0.1:{self.port('etcd')}"]},
            "bootstrap": {
                "dcs": {
                    "ttl": 20,  # Patroni's floor: a dead leader's key lasts at most this long
                    "loop_wait": 1,
                    "retry_timeout": 5,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,  # a commit waits for the replica: failover loses nothing
                    "primary_start_timeout": 0,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "max_connections": 200,
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "256MB",
                            "synchronous_commit": "on",
                            "timezone": "UTC",
                            "shared_buffers": "64MB",
                            "random_page_cost": "1.1",  # deploy/README.md, "PostgreSQL settings"
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{pg}",
                "connect_address": f"127.0.0.1:{pg}",
                "data_dir": str(node / "data"),
                "bin_dir": str(PG_BIN),
                "pgpass": str(node / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": self.secrets["postgres"]},
                    "replication": {"username": "replicator", "password": self.secrets["replicator"]},
                },
                "parameters": {"unix_socket_directories": str(socket_dir)},
                "pg_hba": [
                    "local all all trust",
                    "host replication replicator 127.0.0.1/32 scram-sha-256",
                    "host all all 127.0.0.1/32 scram-sha-256",
                ],
            },
        }
        path = RUN / f"{name}.yml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        return path

    def patroni(self, name: str) -> Proc:
        config = self.patroni_config(name)
        return self.run(
            name,
            [str(TOOLS / "bin" / "patroni"), str(config)],
            user=SERVICE_USER,
            env={"PATH": "/usr/bin:/bin", "HOME": str(RUN / name), "LC_ALL": "C.UTF-8"},
        )

    def api(self, name: str, path: str) -> int:
        return http_status(f"http://127.0.0.1:{self.port(name + '-api')}{path}")

    def leader(self) -> str | None:
        for name in ("pg1", "pg2"):
            if self.api(name, "/primary") == 200:
                return name
        return None

    def superuser(self, name: str):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port(f"{name}-pg"), user="postgres", password=self.secrets["postgres"],
            dbname="kassa", autocommit=True, connect_timeout=3,
        )  # fmt: skip

    def database(self) -> None:
        import psycopg

        self.patroni("pg1")
        wait_for(lambda: self.api("pg1", "/primary") == 200, 90, "the first PostgreSQL node to lead")
        self.patroni("pg2")
        wait_for(lambda: self.api("pg2", "/sync") == 200, 120, "the replica to stream synchronously")
        with psycopg.connect(
            host="127.0.0.1", port=self.port("pg1-pg"), user="postgres", password=self.secrets["postgres"],
            dbname="postgres", autocommit=True,
        ) as conn:  # fmt: skip
            # deploy/postgres-roles.sql, with this run's passwords.
            owner = conn.execute("SELECT quote_literal(%s)", [self.secrets["owner"]]).fetchone()[0]
            app = conn.execute("SELECT quote_literal(%s)", [self.secrets["app"]]).fetchone()[0]
            conn.execute(
                f"CREATE ROLE kassa_owner LOGIN PASSWORD {owner} NOSUPERUSER NOBYPASSRLS NOCREATEROLE"
            )
            conn.execute(
                f"CREATE ROLE kassa_app LOGIN PASSWORD {app} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
            )
            conn.execute("CREATE DATABASE kassa OWNER kassa_owner")

    # --- HAProxy, PgBouncer, Redis

    def haproxy(self) -> None:
        from kassa.tls import ensure_certificate

        cert, key = ensure_certificate(RUN / "tls", "localhost")
        pem = RUN / "tls" / "haproxy.pem"
        pem.write_text(cert.read_text() + key.read_text())
        p = self.port
        (RUN / "haproxy.cfg").write_text(f"""
global
    maxconn 4000
defaults
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 1s
# PostgreSQL: only the node whose Patroni answers /primary with 200 gets connections; when it
# is marked down its sessions are cut, so PgBouncer reconnects to the new primary.
listen postgres
    bind 127.0.0.1:{p("haproxy-pg")}
    mode tcp
    timeout client 30m
    timeout server 30m
    option httpchk
    http-check send meth GET uri /primary
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
    server pg1 127.0.0.1:{p("pg1-pg")} check port {p("pg1-api")}
    server pg2 127.0.0.1:{p("pg2-pg")} check port {p("pg2-api")}
# The one entry point: TLS here, two gunicorn nodes behind.
frontend entry
    bind 127.0.0.1:{p("entry")} ssl crt {pem}
    mode http
    option forwardfor
    http-request set-header X-Forwarded-Proto https
    default_backend web
backend web
    mode http
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz hdr Host 127.0.0.1
    http-check expect status 200
    retries 2
    option redispatch
    retry-on conn-failure
    default-server inter 500ms fall 2 rise 2
    server web1 127.0.0.1:{p("web1")} check
    server web2 127.0.0.1:{p("web2")} check
""")
        self.run("haproxy", ["/usr/sbin/haproxy", "-db", "-f", str(RUN / "haproxy.cfg")])

    def pgbouncer(self) -> None:
        (RUN / "userlist.txt").write_text(f'"kassa_app" "{self.secrets["app"]}"\n')
        (RUN / "pgbouncer.ini").write_text(f"""
[databases]
kassa = host=127.0.0.1 port={self.port("haproxy-pg")} dbname=kassa
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port("pgbouncer")}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {RUN / "userlist.txt"}
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
server_login_retry = 1
server_connect_timeout = 2
server_check_delay = 1
query_wait_timeout = 20
ignore_startup_parameters = extra_float_digits
""")
        for name in ("userlist.txt", "pgbouncer.ini"):
            if ROOT_USER:
                shutil.chown(RUN / name, SERVICE_USER, SERVICE_GROUP)
            (RUN / name).chmod(0o600)
        self.run("pgbouncer", ["/usr/sbin/pgbouncer", str(RUN / "pgbouncer.ini")], user=SERVICE_USER)

    def redis(self) -> None:
        for index in (1, 2):
            directory = RUN / f"redis{index}"
            directory.mkdir()
            port = self.port(f"redis{index}")
            lines = [f"port {port}", "bind 127.0.0.1", f"dir {directory}", "appendonly yes", 'save ""']
            if index == 2:
                lines.append(f"replicaof 127.0.0.1 {self.port('redis1')}")
            (directory / "redis.conf").write_text("\n".join(lines) + "\n")
            self.run(f"redis{index}", ["/usr/bin/redis-server", str(directory / "redis.conf")])
        for index in (1, 2, 3):
            directory = RUN / f"sentinel{index}"
            directory.mkdir()
            (directory / "sentinel.conf").write_text(
                f"port {self.port(f'sentinel{index}')}\nbind 127.0.0.1\ndir {directory}\n"
                f"sentinel monitor kassa 127.0.0.1 {self.port('redis1')} 2\n"
                "sentinel down-after-milliseconds kassa 1000\nsentinel failover-timeout kassa 5000\n"
                "sentinel parallel-syncs kassa 1\n"
            )
            self.run(f"sentinel{index}", ["/usr/bin/redis-sentinel", str(directory / "sentinel.conf")])
        wait_for(
            lambda: len(self.sentinel().discover_slaves("kassa")) == 1, 30, "Sentinel to see the replica"
        )

    def sentinel(self):
        from redis.sentinel import Sentinel

        return Sentinel([("127.0.0.1", self.port(f"sentinel{i}")) for i in (1, 2, 3)], socket_timeout=1)

    def redis_master(self) -> str:
        _, port = self.sentinel().discover_master("kassa")
        return next(name for name in ("redis1", "redis2") if self.ports[name] == port)

    # --- Kassa

    def kassa_env(self) -> dict:
        s, p = self.secrets, self.port
        direct = f"127.0.0.1:{p('pg1-pg')},127.0.0.1:{p('pg2-pg')}"
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR")}
        return {
            **keep,
            "KASSA_ENV": "production",
            "KASSA_SECRET_KEY": secrets.token_urlsafe(64),
            "KASSA_MASTER_KEY": self.master_key,
            "KASSA_VAR_DIR": str(RUN / "var"),
            "KASSA_STORAGE_URL": f"file://{RUN / 'storage'}",
            "KASSA_TRUSTED_PROXIES": "127.0.0.1",
            "KASSA_REGION": "local",
            "KASSA_LOG_LEVEL": "WARNING",
            "KASSA_API_RATE": "1000000/minute",
            # The app role through PgBouncer (transaction mode) -> HAProxy -> the primary.
            "DATABASE_URL": f"postgres://kassa_app:{s['app']}@127.0.0.1:{p('pgbouncer')}/kassa",
            "KASSA_DB_TRANSACTION_POOLING": "true",
            # Migrations, exports and backups straight to whichever node is the primary.
            "DATABASE_OWNER_URL": f"postgres://kassa_owner:{s['owner']}@{direct}/kassa"
            "?target_session_attrs=read-write&connect_timeout=2",
            "DATABASE_REPLICA_URL": f"postgres://kassa_app:{s['app']}@{direct}/kassa"
            "?target_session_attrs=prefer-standby&connect_timeout=2",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{p(f'sentinel{i}')}" for i in (1, 2, 3)),
            "REDIS_SENTINEL_MASTER": "kassa",
            "KASSA_CELERY_VISIBILITY_TIMEOUT": "20",
            "KASSA_EXPORT_STALE_SECONDS": "10",
            "KASSA_BEAT_LOCK_SECONDS": "6",
            "KASSA_BEAT_HEARTBEAT_SECONDS": "2",
            "WEB_CONCURRENCY": "2",
        }

    def manage(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, input=stdin, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise DrillError(f"manage.py {' '.join(args)} failed: {result.stderr.strip()[-2000:]}")
        return result.stdout

    def web(self, name: str) -> Proc:
        prometheus = RUN / f"prometheus-{name}"
        shutil.rmtree(prometheus, ignore_errors=True)
        prometheus.mkdir()
        env = {
            **self.env,
            "KASSA_BIND": f"127.0.0.1:{self.port(name)}",
            "PROMETHEUS_MULTIPROC_DIR": str(prometheus),
        }
        proc = self.run(
            name, [PYTHON, "-m", "gunicorn", "kassa.wsgi", "-c", "deploy/gunicorn.conf.py"], env=env, cwd=ROOT
        )
        wait_for(lambda: http_status(f"http://127.0.0.1:{self.port(name)}/healthz") == 200, 90, f"{name}")
        return proc

    def worker(self, name: str) -> Proc:
        return self.run(name, [
            PYTHON, "-m", "celery", "-A", "kassa", "worker", "--pool", "prefork", "--concurrency", "1",
            "--hostname", f"{name}@drill", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
        ], env=self.env, cwd=ROOT)  # fmt: skip

    def beat(self, name: str) -> Proc:
        return self.run(name, [
            PYTHON, "-m", "celery", "-A", "kassa", "beat", "--loglevel", "WARNING",
            "--schedule", str(RUN / f"{name}-schedule"), "--pidfile", "",
        ], env=self.env, cwd=ROOT)  # fmt: skip

    def kassa(self) -> list[dict]:
        self.master_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.env = self.kassa_env()
        say("migrating as the owner (straight to the primary)")
        self.manage("migrate", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        say("seeding the drill's tenants")
        seeded = subprocess.run(
            [PYTHON, str(ROOT / "deploy" / "ha" / "seed.py")],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if seeded.returncode != 0:
            raise DrillError(f"seed failed: {seeded.stderr.strip()[-2000:]}")
        shops = json.loads(seeded.stdout.strip().splitlines()[-1])
        for name in ("web1", "web2"):
            self.web(name)
        for name in ("worker1", "worker2"):
            self.worker(name)
        for name in ("beat1", "beat2"):
            self.beat(name)
        wait_for(lambda: Client(self).get("/readyz")[0] == 200, 60, "the entry point")
        return shops


# --- the registers -----------------------------------------------------------------------


class Client:
    """HTTPS to the entry point, one keep-alive connection, reopened after any error."""

    def __init__(self, stack: Stack, token: str | None = None):
        self.port = stack.port("entry")
        self.token = token
        self.conn: http.client.HTTPSConnection | None = None
        self.context = ssl.create_default_context()
        self.context.check_hostname, self.context.verify_mode = False, ssl.CERT_NONE

    def request(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, dict]:
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=40)
        all_headers = {"Host": "127.0.0.1", "Content-Type": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        try:
            self.conn.request(
                method, path, body=json.dumps(body) if body is not None else None, headers=all_headers
            )
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}

    def get(self, path: str):
        return self.request("GET", path)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class Sale:
    tenant: str
    key: str
    lines: list[tuple[str, int]]
    sale_id: str | None = None
    answered_at: float | None = None
    sent_last: float = 0.0
    attempts: int = 0
    refused: str = ""
    request_ids: list[str] = field(default_factory=list)  # every non-5xx answer's X-Request-ID


class Register(threading.Thread):
    def __init__(self, stack: Stack, shop: dict, token: str, stop: threading.Event, seed: int):
        super().__init__(daemon=True)
        self.client = Client(stack, token)
        self.shop, self.stop = shop, stop
        self.rng = random.Random(seed)  # noqa: S311 - load shape, not secrets
        self.sales: list[Sale] = []
        self.errors: dict[str, int] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            self.sell()
            time.sleep(self.rng.uniform(0.02, 0.08))

    def sell(self) -> None:
        products = self.rng.sample(self.shop["products"], self.rng.randint(1, 3))
        lines = [(p["id"], self.rng.randint(1, 2)) for p in products]
        total = sum(Decimal(p["price"]) * q for p, (_, q) in zip(products, lines, strict=True))
        sale = Sale(tenant=self.shop["id"], key=str(uuid.uuid4()), lines=lines)
        self.sales.append(sale)
        body = {
            "store": self.shop["store"],
            "lines": [{"product": product, "quantity": quantity} for product, quantity in lines],
            "payments": [{"method": "card", "amount": str(total)}],
        }
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            sale.attempts += 1
            sale.sent_last = time.monotonic()
            try:
                status, data, headers = self.client.request(
                    "POST", "/api/v1/sales/", body, {"Idempotency-Key": sale.key}
                )
            except (OSError, http.client.HTTPException) as error:
                self.errors[type(error).__name__] = self.errors.get(type(error).__name__, 0) + 1
                time.sleep(0.3)
                continue
            if status < 500 and headers.get("x-request-id"):
                sale.request_ids.append(headers["x-request-id"])
            if status == 201:
                sale.sale_id, sale.answered_at = data["id"], time.monotonic()
                return
            self.errors[str(status)] = self.errors.get(str(status), 0) + 1
            if status >= 500 or status in (409, 429):  # in flight elsewhere, or a node in trouble
                time.sleep(0.3)
                continue
            sale.refused = f"{status} {data.get('code')}"
            return


def token_for(stack: Stack, slug: str, user: dict) -> str:
    status, data, _ = Client(stack).request(
        "POST",
        "/api/v1/auth/token/",
        {"tenant": slug, "username": user["username"], "password": user["password"]},
    )
    if status != 201:
        raise DrillError(f"no token for {slug}/{user['username']}: {status} {data}")
    return data["token"]


# --- the drill ---------------------------------------------------------------------------


def first_sale_after(registers: list[Register], moment: float) -> float | None:
    times = [
        sale.answered_at
        for register in registers
        for sale in list(register.sales)
        if sale.answered_at and sale.sent_last >= moment
    ]
    return min(times) - moment if times else None


def wait_sale_after(registers, moment: float, what: str, timeout: float = 120) -> float:
    return wait_for(lambda: first_sale_after(registers, moment), timeout, f"a sale after {what}")


def cpu_of(proc: Proc) -> float:
    import psutil

    try:
        parent = psutil.Process(proc.process.pid)
        return sum(
            p.cpu_times().user + p.cpu_times().system for p in [parent, *parent.children(recursive=True)]
        )
    except psutil.Error:
        return 0.0


def kill_database_node(stack: Stack, name: str) -> None:
    """kill -9 the node: its Patroni, its postmaster and every backend."""
    import psutil

    pid = int((RUN / name / "data" / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    victims = [postmaster, *postmaster.children(recursive=True)]
    stack.procs[name].kill(signal.SIGKILL)
    for victim in victims:
        with contextlib.suppress(psutil.Error):
            victim.send_signal(signal.SIGKILL)


def drill(stack: Stack) -> int:
    tool_venv()
    if RUN.exists():
        shutil.rmtree(RUN)
    (RUN / "log").mkdir(parents=True)
    if ROOT_USER:
        RUN.chmod(0o755)
        for path in (HA, HA.parent):
            path.chmod(path.stat().st_mode | 0o055)
    say("starting etcd, Patroni (primary + synchronous replica), HAProxy, PgBouncer, Redis + Sentinel")
    stack.etcd()
    stack.database()
    stack.haproxy()
    stack.pgbouncer()
    stack.redis()
    say(f"PostgreSQL leader {stack.leader()}, Redis master {stack.redis_master()}; starting Kassa")
    shops = stack.kassa()
    owner_token = token_for(stack, shops[0]["slug"], shops[0]["owner"])
    stop = threading.Event()
    registers = [
        Register(stack, shop, token_for(stack, shop["slug"], cashier), stop, seed=index)
        for index, (shop, cashier) in enumerate((s, c) for s in shops for c in s["cashiers"])
    ]
    say(f"{len(registers)} registers selling in {len(shops)} tenants")
    for register in registers:
        register.start()
    report: dict = {}
    try:
        time.sleep(10)
        # 1. The PostgreSQL primary's node dies.
        leader = stack.leader()
        killed_at = time.monotonic()
        kill_database_node(stack, leader)
        say(f"killed -9 the PostgreSQL primary {leader} (Patroni and PostgreSQL)")
        report["failover"] = wait_sale_after(registers, killed_at, "the primary was killed", 120)
        new_leader = wait_for(stack.leader, 60, "a new leader")
        say(f"first sale {report['failover']:.1f} s after the kill; {new_leader} leads")
        stack.patroni(leader)
        wait_for(
            lambda: stack.api(leader, "/sync") == 200, 180, f"{leader} to rejoin as the synchronous replica"
        )
        say(f"{leader} rejoined as the synchronous replica (pg_rewind)")
        time.sleep(5)

        # 2. A web node dies.
        killed_at = time.monotonic()
        stack.procs["web1"].kill(signal.SIGKILL)
        say("killed -9 web node web1 (gunicorn master and workers)")
        report["web"] = wait_sale_after(registers, killed_at, "web1 was killed", 60)
        time.sleep(3)
        stack.web("web1")
        say(f"first sale {report['web']:.1f} s after; web1 restarted")

        # 3. The worker running an export dies in the middle.
        status, data, _ = Client(stack, owner_token).request("POST", "/api/v1/exports/", {"kind": "full"})
        if status != 202:
            raise DrillError(f"export not started: {status} {data}")
        export_id = data["id"]
        owner = Client(stack, owner_token)

        def export_state():
            return owner.get(f"/api/v1/exports/{export_id}/")[1]

        wait_for(lambda: export_state().get("status") == "running" and 2 <= export_state().get("progress", 0) < 80,
                 120, "the export to be under way", interval=0.1)  # fmt: skip
        before = {name: cpu_of(stack.procs[name]) for name in ("worker1", "worker2")}
        time.sleep(0.7)
        busy = max(before, key=lambda name: cpu_of(stack.procs[name]) - before[name])
        progress = export_state().get("progress")
        stack.procs[busy].kill(signal.SIGKILL)
        say(f"killed -9 {busy} (main process and pool) at export progress {progress}%")
        done = wait_for(lambda: export_state().get("status") in ("done", "failed") and export_state(), 300,
                        "the export to finish elsewhere", interval=1)  # fmt: skip
        say(f"export {done['status']} after the kill")
        stack.worker(busy)

        # 4. Redis's master restarts.
        master = stack.redis_master()
        runs = stack.sentinel().master_for("kassa", db=1)
        last_run = runs.lindex("kassa:beat:runs", 0)
        restarted_at = time.monotonic()
        with contextlib.suppress(Exception):
            stack.sentinel().master_for("kassa", socket_timeout=2).shutdown()
        stack.procs[master].process.wait(20)
        time.sleep(3)
        stack.run(master, ["/usr/bin/redis-server", str(RUN / master / "redis.conf")])
        new_master = wait_for(
            lambda: (m := stack.redis_master()) != master and m, 60, "Sentinel to fail over"
        )
        report["redis"] = wait_sale_after(registers, restarted_at, "Redis restarted", 60)
        say(
            f"Redis master {master} restarted; {new_master} is master; first sale {report['redis']:.1f} s after"
        )
        wait_for(lambda: stack.sentinel().master_for("kassa", db=1).lindex("kassa:beat:runs", 0) != last_run,
                 30, "the beat to run again after the Redis restart")  # fmt: skip
        say("the beat and a worker ran a schedule after the Redis restart")
        time.sleep(8)
    finally:
        stop.set()
        for register in registers:
            register.join(200)
    say("load stopped; the audit review against the replica")
    report["replica"] = replica_reads(stack, owner_token)
    say("checking the ledger")
    return ledger_check(stack, shops, registers, export_id, report)


def replica_reads(stack: Stack, token: str) -> tuple[int, float]:
    """Transactions the replica ran for five audit API reads, and its lag as the app role sees it."""
    import psycopg

    from core.replica import LAG_SQL

    node = "pg1" if stack.leader() == "pg2" else "pg2"
    count = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'kassa'"
    with psycopg.connect(
        host="127.0.0.1", port=stack.port(f"{node}-pg"), user="kassa_app", password=stack.secrets["app"],
        dbname="kassa", autocommit=True,
    ) as app:  # fmt: skip
        lag = app.execute(LAG_SQL).fetchone()[0]
    with stack.superuser(node) as db:
        before = db.execute(count).fetchone()[0]
        client = Client(stack, token)
        for _ in range(5):
            status = client.get("/api/v1/audit/access/?page_size=5")[0]
            if status != 200:
                raise DrillError(f"the audit API answered {status}")
        time.sleep(11)  # a backend flushes its statistics within 10 s of going idle
        db.execute("SELECT pg_stat_clear_snapshot()")
        after = db.execute(count).fetchone()[0]
    return after - before, lag


def ledger_check(stack, shops, registers, export_id, report) -> int:
    sales = [sale for register in registers for sale in register.sales]
    answered = {sale.sale_id: sale for sale in sales if sale.sale_id}
    unanswered = [sale for sale in sales if not sale.sale_id and not sale.refused]
    refused = [sale for sale in sales if sale.refused]
    tenants = [shop["id"] for shop in shops]
    problems: list[str] = []
    with stack.superuser(stack.leader()) as db:
        rows = db.execute(
            "SELECT id::text, tenant_id::text FROM inventory_sale WHERE tenant_id = ANY(%s::uuid[])",
            [tenants],
        ).fetchall()
        in_db = {row[0] for row in rows}
        records = dict(
            db.execute(
                "SELECT key, response_body->>'id' FROM kassa_idempotencyrecord WHERE tenant_id = ANY(%s::uuid[])",
                [tenants],
            ).fetchall()
        )
        found = [sale_id for sale_id in answered if sale_id in in_db]
        lost = [sale_id for sale_id in answered if sale_id not in in_db]
        found_by_key = {records[s.key] for s in unanswered if records.get(s.key) in in_db}
        duplicated = in_db - set(answered) - found_by_key
        for sale in sales:  # an answer must be the one the key's record keeps
            if sale.sale_id and records.get(sale.key) != sale.sale_id:
                problems.append(f"sale {sale.sale_id}: its key's record names {records.get(sale.key)}")
        half = db.execute(
            "SELECT count(*) FROM inventory_sale s WHERE s.tenant_id = ANY(%s::uuid[]) AND ("
            " NOT EXISTS (SELECT FROM inventory_saleline l WHERE l.sale_id = s.id)"
            " OR NOT EXISTS (SELECT FROM inventory_payment p WHERE p.sale_id = s.id)"
            " OR EXISTS (SELECT FROM inventory_saleline l WHERE l.sale_id = s.id AND NOT EXISTS ("
            "   SELECT FROM inventory_stockmovement m WHERE m.sale_id = s.id AND m.product_id = l.product_id)))",
            [tenants],
        ).fetchone()[0]
        if half:
            problems.append(f"{half} sales without their lines, payments or stock movements")
        stock = db.execute(
            "SELECT l.product_id::text, l.quantity, (SELECT coalesce(sum(m.quantity), 0) FROM inventory_stockmovement m"
            " WHERE m.store_id = l.store_id AND m.product_id = l.product_id),"
            " (SELECT coalesce(sum(-m.quantity), 0) FROM inventory_stockmovement m"
            "  WHERE m.store_id = l.store_id AND m.product_id = l.product_id AND m.kind = 'sale')"
            " FROM inventory_stocklevel l WHERE l.tenant_id = ANY(%s::uuid[])",
            [tenants],
        ).fetchall()
        sold: dict[str, int] = {}
        for sale in sales:
            if sale.sale_id or records.get(sale.key) in found_by_key:
                for product, quantity in sale.lines:
                    sold[product] = sold.get(product, 0) + quantity
        for product, quantity, ledger, sold_in_ledger in stock:
            if quantity != ledger:
                problems.append(f"product {product}: stock {quantity} but ledger {ledger}")
            if sold_in_ledger != sold.get(product, 0):
                problems.append(
                    f"product {product}: {sold_in_ledger} sold in the ledger, {sold.get(product, 0)} answered"
                )
        request_ids = [rid for sale in sales for rid in sale.request_ids]
        logged = {
            row[0]
            for row in db.execute(
                "SELECT request_id::text FROM auditlog_access WHERE request_id = ANY(%s::uuid[])",
                [request_ids],
            ).fetchall()
        }
        missing_access = [rid for rid in request_ids if rid not in logged]
        if missing_access:
            problems.append(f"{len(missing_access)} answered requests without their access row")
        export = db.execute(
            "SELECT status, attempts, object_key FROM exports_export WHERE id = %s", [export_id]
        ).fetchone()
    files = list((RUN / "storage").rglob(f"{export_id}*"))
    if export is None or export[0] != "done" or len(files) != 1:
        problems.append(f"export: {export}, {len(files)} files")
    beat_runs = stack.sentinel().master_for("kassa", db=1).lrange("kassa:beat:runs", 0, -1)
    if len(beat_runs) != len(set(beat_runs)):
        problems.append("a beat slot ran twice")
    if refused:
        problems.append(f"{len(refused)} sales refused: {sorted({s.refused for s in refused})}")
    errors: dict[str, int] = {}
    for register in registers:
        for kind, count in register.errors.items():
            errors[kind] = errors.get(kind, 0) + count
    say(f"answers other than 201 (retried): {errors or 'none'}")
    say(f"failover: PostgreSQL {report['failover']:.1f} s, web node {report['web']:.1f} s, "
        f"Redis {report['redis']:.1f} s; export attempts {export[1] if export else '?'}; "
        f"beat slots run {len(beat_runs)} (none twice); unanswered sales {len(unanswered)} "
        f"({len(found_by_key)} found by key)")  # fmt: skip
    replica_transactions, lag = report["replica"]
    say(f"replica: the app role measures a lag of {lag:.1f} s; five audit API reads ran "
        f"{replica_transactions} transactions there")  # fmt: skip
    if replica_transactions < 5:
        problems.append("the audit review did not read from the replica")
    for problem in problems:
        say(f"PROBLEM: {problem}")
    print(
        f"ha-drill: {len(answered)} sales answered, {len(found)} found, {len(lost)} lost, "
        f"{len(duplicated)} duplicated, failover {report['failover']:.1f}s",
        flush=True,
    )
    return 1 if lost or duplicated or problems else 0


def main() -> int:
    sys.path.insert(0, str(ROOT))
    stack = Stack()

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    code = 1
    try:
        code = drill(stack)
    except (Exception, KeyboardInterrupt) as error:
        print(f"ha-drill: failed: {type(error).__name__}: {error}", file=sys.stderr)
        for proc in stack.procs.values():
            if not proc.alive() or os.environ.get("DRILL_VERBOSE"):
                print(
                    f"--- {proc.name} ({'running' if proc.alive() else 'exited'})\n{proc.log_tail()}",
                    file=sys.stderr,
                )
    finally:
        stack.stop_all()
        if left_behind():
            code = 1
        if not os.environ.get("DRILL_KEEP"):
            shutil.rmtree(RUN, ignore_errors=True)
    return code


def left_behind() -> list[str]:
    """Processes of this run still alive after the stop (a daemon escaping its group): ended, named."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if str(RUN) in " ".join(process.info["cmdline"] or []):
                found.append(" ".join(process.info["cmdline"])[:120])
                process.kill()
    for line in found:
        print(f"ha-drill: left behind and killed: {line}", file=sys.stderr)
    return found


if __name__ == "__main__":
    sys.exit(main())
