"""The cast of every test: two tenants, Alice's chain (tenant_a) and Bob's (tenant_b).

Each has stores (`stores_a`, `stores_b`) and a user per built-in role (`cast_a`, `cast_b`),
made by the factories of tests/factories.py. Clients: `api(user)` (a token, the platform
host) and `web(user)` (signed in on the user's tenant host); `celery_worker` is a real worker.

Tests run against the real PostgreSQL and Redis (embedded unless DATABASE_URL/REDIS_URL are
set). The test database is created and migrated by the owner role; the tests themselves, like
the web and the worker, connect as the application role that row-level security binds.
"""

import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import connections
from django.test import Client

from tenants.context import tenant_context
from tests.factories import PASSWORD, StoreFactory, TenantFactory, UserFactory

ROOT = Path(__file__).resolve().parents[1]
HOST_A = "alice-chain.localhost"

# Every alias of the test process: the application role (default, with audit and snapshot), the
# maintenance role's own connection, and the owner.
DATABASES = ["default", "owner", "maintenance", "snapshot"]
# Committed data and a flush by the owner role afterwards (the app role may not TRUNCATE).
transactional = pytest.mark.django_db(transaction=True, databases=DATABASES)


class FastArgon2Hasher(Argon2PasswordHasher):
    """Argon2id with small costs: the algorithm of production at a test's speed."""

    algorithm = "argon2"
    time_cost = 1
    memory_cost = 1024
    parallelism = 1


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_modify_db_settings):
    from django.test.utils import setup_databases, teardown_databases

    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        config = setup_databases(verbosity=verbosity, interactive=False, aliases={"owner", "default"})
    yield
    with django_db_blocker.unblock():
        from auditlog import writer

        writer.close_all()  # the access log's own connection
        connections.close_all()
        teardown_databases(config, verbosity=verbosity)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with none of this run's cache keys (counters, throttles, sessions)."""
    from django.conf import settings
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000):
        client.delete(key)


@pytest.fixture(autouse=True)
def _fresh_host_cache():
    """Each test's tenants are new rows on the same hosts: no host is cached from an earlier test."""
    from tenants.selectors import tenant_host_cache_clear

    tenant_host_cache_clear()
    yield
    tenant_host_cache_clear()


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.PASSWORD_HASHERS = ["tests.conftest.FastArgon2Hasher"]
    # Static files straight from the apps (no collectstatic manifest under test).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    # Nor from what the deploy tests collect into var/static meanwhile (another worker's
    # collectstatic replaced files while WhiteNoise listed them: FileNotFoundError).
    settings.STATIC_ROOT = None


def role_connection(kind: str, **kwargs):
    """A plain psycopg connection to the test database logged in as a role's own credentials.

    `kind`: app, maintenance or owner, as the web, the privileged worker and migrate log in. The
    application role's credentials come from DATABASE_URL when the database is external.
    """
    import psycopg
    from django.conf import settings

    alias = {"app": "default", "maintenance": "maintenance", "owner": "owner"}[kind]
    params = connections[alias].get_connection_params()
    conninfo = {k: params[k] for k in ("dbname", "host", "port", "user", "password") if params.get(k)}
    if kind == "app":
        conninfo["user"] = settings.KASSA_DB_ROLES["app"]
        conninfo.pop("password", None)
        if os.environ.get("DATABASE_URL"):
            import environ

            url = environ.Env.db_url_config(os.environ["DATABASE_URL"])
            conninfo.update(user=url["USER"], password=url.get("PASSWORD") or None)
    return psycopg.connect(**{k: v for k, v in conninfo.items() if v}, **kwargs)


def make_tenant(slug: str, owner: str = "owner"):
    return TenantFactory(slug=slug, owner=owner)


@pytest.fixture
def tenant_a(db):
    return make_tenant("alice-chain", owner="alice")


@pytest.fixture
def tenant_b(db):
    return make_tenant("bob-chain", owner="bob")


@pytest.fixture
def as_tenant():
    """`with as_tenant(tenant):` runs the block as that tenant."""
    return tenant_context


@pytest.fixture(autouse=True)
def file_storage(tmp_path, settings):
    """Each test gets its own object storage (and so do the workers it starts): backups, exports
    and audit anchors of one test never meet another's, nor `make run`'s under var/."""
    settings.KASSA_STORAGE_URL = f"file://{tmp_path / 'storage'}"
    settings.KASSA_STORAGE_URLS = {}
    return tmp_path / "storage"


def start_worker(
    extra_env: dict | None = None, *, pool: str = "prefork", prefix: str = "test", privileged: bool = False
):
    """A real Celery worker process on this test's queue and test database: (process, name).

    A plain worker (the application role, this test's queue) unless `privileged`: then the
    privileged worker (the maintenance role, this test's privileged queue). It leads a process
    group of its own, so stop_worker ends its pool processes with it.
    """
    from kassa.celery import app

    name = f"{prefix}-{uuid.uuid4().hex[:8]}@localhost"
    from django.conf import settings

    env = {
        **os.environ,
        "KASSA_PROCESS": "privileged-worker" if privileged else "worker",
        "KASSA_DB_NAME": connections["default"].settings_dict["NAME"],
        "KASSA_STORAGE_URL": settings.KASSA_STORAGE_URL,
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kassa",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            "1",
            "--hostname",
            name,
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[name], timeout=0.5):
            assert process.poll() is None, "the Celery worker exited at start"
            assert time.monotonic() < deadline, "the Celery worker did not answer within 60 s"
    except BaseException:
        stop_worker(process)
        raise
    return process, name


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


@pytest.fixture
def celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker (prefork, one process) for this test, stopped after it."""
    process, _ = start_worker()
    yield process
    stop_worker(process)


@pytest.fixture
def privileged_worker(django_db_setup, django_db_blocker):
    """The privileged worker (maintenance role, privileged queue; one process), stopped after it."""
    process, _ = start_worker(privileged=True, prefix="privileged")
    yield process
    stop_worker(process)


@pytest.fixture
def stores_a(tenant_a):
    return [StoreFactory(tenant=tenant_a, name="Main street"), StoreFactory(tenant=tenant_a, name="Harbour")]


@pytest.fixture
def stores_b(tenant_b):
    return [StoreFactory(tenant=tenant_b, name="Bob's corner")]


def make_user(tenant, username: str, role_key: str, stores=(), password: str = PASSWORD):
    return UserFactory(tenant=tenant, username=username, role=role_key, stores=stores, password=password)


# The built-in roles below the owner; the store roles work in their chain's first store only.
STORE_ROLES = ("store_manager", "cashier")


def make_cast(tenant, stores, owner: str, names: dict[str, str]) -> dict:
    """The owner (made with the tenant, every store) and a user per other built-in role."""
    from accounts.models import User

    with tenant_context(tenant):
        cast = {"owner": User.objects.get(username=owner)}
    for role, username in names.items():
        cast[role] = make_user(tenant, username, role, [stores[0]] if role in STORE_ROLES else [])
    return cast


@pytest.fixture
def cast_a(tenant_a, stores_a):
    """Alice's chain: the owner `alice` (every store) and one user per other built-in role.

    The store manager and the cashier work in the first store only.
    """
    names = {"store_manager": "sam", "cashier": "cody", "integrator": "ivy", "auditor": "aud"}
    return make_cast(tenant_a, stores_a, "alice", names)


@pytest.fixture
def cast_b(tenant_b, stores_b):
    """Bob's chain, as cast_a: the owner `bob` and one user per other built-in role.

    The store manager and the cashier work in Bob's first (and only) store.
    """
    names = {"store_manager": "sid", "cashier": "cora", "integrator": "ian", "auditor": "ada"}
    return make_cast(tenant_b, stores_b, "bob", names)


class HttpsApiClient:
    """Django REST framework's test client over HTTPS on the platform host, with a token."""

    def __init__(self, token: str | None = None, host: str = "127.0.0.1"):
        from rest_framework.test import APIClient

        self.client = APIClient(HTTP_HOST=host)
        self.token = token
        if token:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def __getattr__(self, method):
        call = getattr(self.client, method)

        def request(path, data=None, **extra):
            extra.setdefault("secure", True)
            extra.setdefault("format", "json")
            return call(path, data, **extra)

        return request


def token_for(user) -> str:
    """A user token for `user`, as a sign-in without a second factor would issue (a service
    user's credential is an integrator key: see key_for)."""
    from accounts.policy import policy_for
    from accounts.tokens import token_issue

    with tenant_context(user.tenant):
        return token_issue(user=user, policy=policy_for(user))[1]


@pytest.fixture
def api():
    """`api(user)`: a client signed in as `user`; `api()`: an anonymous one."""
    return lambda user=None: HttpsApiClient(token_for(user) if user is not None else None)


def totp_code(device, at: float | None = None) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(bytes.fromhex(device.secret), device.step, 0, device.digits, 0)
    totp.time = at if at is not None else time.time()
    return f"{totp.token():06d}"


def mfa_enrol(user) -> list[str]:
    """Enrol a TOTP device for `user` as /account/mfa/ would; return the ten backup codes."""
    from accounts import mfa

    with tenant_context(user.tenant):
        device = mfa.totp_enrol(user=user)
        return mfa.totp_confirm(user=user, device_id=device.pk, otp=totp_code(device))


def mfa_token_for(user) -> str:
    """A token from a real sign-in with a second factor (a backup code): what the recovery
    actions and key management need (accounts.services._check_recovery)."""
    codes = mfa_enrol(user)
    body = {"tenant": user.tenant.slug, "username": user.username, "password": PASSWORD, "otp": codes[0]}
    answer = HttpsApiClient().post("/api/v1/auth/token/", body)
    assert answer.status_code == 201, answer.content
    return answer.json()["token"]


@pytest.fixture
def mfa_api():
    """`mfa_api(user)`: a client whose token was issued by a sign-in with a second factor."""
    return lambda user: HttpsApiClient(mfa_token_for(user))


def mfa_signed_in(user, host: str | None = None) -> Client:
    """A web client signed in through /login/ and its one-time-code step (a fresh backup code)."""
    codes = mfa_enrol(user)
    client = web_client(host or tenant_host(user))
    first = client.post("/login/", {"username": user.username, "password": PASSWORD}, secure=True)
    assert first.status_code == 302 and first["Location"].startswith("/login/otp/"), first.content[:300]
    second = client.post("/login/otp/", {"otp": codes[0]}, secure=True)
    assert second.status_code == 302, second.content[:500]
    return client


@pytest.fixture
def mfa_web():
    """`mfa_web(user)`: a browser signed in with a second factor (what recovery in the admin needs)."""
    return mfa_signed_in


def key_for(user, scopes=("view_products",), host: str | None = None) -> HttpsApiClient:
    """A client with an integrator key of the service user `user`, on its tenant's host."""
    from accounts.models import ApiToken
    from accounts.policy import policy_for
    from accounts.tokens import token_issue

    with tenant_context(user.tenant):
        raw = token_issue(
            user=user, policy=policy_for(user), kind=ApiToken.Kind.INTEGRATOR, scopes=list(scopes)
        )[1]
    return HttpsApiClient(raw, host=host or tenant_host(user))


def tenant_host(user) -> str:
    return f"{user.tenant.slug}.localhost"


def web_client(host: str = HOST_A, **extra) -> Client:
    """A browser-like client (no JavaScript) on `host`, by default Alice's tenant host."""
    # An address of its own: other tests' failed sign-ins from 127.0.0.1 count against the IP.
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    return Client(HTTP_HOST=host, REMOTE_ADDR=address, **extra)


def signed_in(user, host: str | None = None, **extra) -> Client:
    """A web client signed in through /login/ as `user`, on its tenant's host unless told."""
    client = web_client(host or tenant_host(user), **extra)
    response = client.post("/login/", {"username": user.username, "password": PASSWORD}, secure=True)
    assert response.status_code == 302, response.content[:500]
    return client


@pytest.fixture
def web():
    """`web(user)`: a browser-like client signed in as `user`; `web()`: anonymous, on Alice's host."""
    return lambda user=None, **extra: signed_in(user, **extra) if user is not None else web_client(**extra)
