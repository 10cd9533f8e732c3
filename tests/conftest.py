"""The cast of every test: two tenants, Alice's chain (tenant_a) and Bob's (tenant_b).

Tests run against the real PostgreSQL and Redis (embedded unless DATABASE_URL/REDIS_URL are
set). The test database is created and migrated by the owner role; the tests themselves, like
the web and the worker, connect as the application role that row-level security binds.
"""

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import connections

from lifecycle.services.onboarding import tenant_create
from tenants.context import tenant_context

PASSWORD = "correct-horse-battery-7"

# Committed data and a flush by the owner role afterwards (the app role may not TRUNCATE).
transactional = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


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
def _test_settings(settings):
    settings.PASSWORD_HASHERS = ["tests.conftest.FastArgon2Hasher"]
    # Static files straight from the apps (no collectstatic manifest under test).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True


def make_tenant(slug: str, owner: str = "owner"):
    tenant, _ = tenant_create(
        slug=slug, name=slug.title(), region="local", owner_username=owner, owner_password=PASSWORD
    )
    return tenant


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


@pytest.fixture
def celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker process on this test's queue and test database."""
    import os
    import subprocess
    import sys
    import time
    import uuid

    from kassa.celery import app

    name = f"test-{uuid.uuid4().hex[:8]}@localhost"
    env = {**os.environ, "KASSA_DB_NAME": connections["default"].settings_dict["NAME"]}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kassa",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--hostname",
            name,
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[name], timeout=0.5):
            assert process.poll() is None, "the Celery worker exited at start"
            assert time.monotonic() < deadline, "the Celery worker did not answer within 60 s"
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def stores_a(tenant_a):
    from tenants.models import Store

    with tenant_context(tenant_a):
        return [Store.objects.create(name="Main street"), Store.objects.create(name="Harbour")]


@pytest.fixture
def stores_b(tenant_b):
    from tenants.models import Store

    with tenant_context(tenant_b):
        return [Store.objects.create(name="Bob's corner")]


def make_user(tenant, username: str, role_key: str, stores=(), password: str = PASSWORD):
    from accounts.models import Role
    from accounts.services import user_create

    with tenant_context(tenant):
        role = Role.objects.get(builtin=role_key)
        return user_create(
            username=username,
            password=password,
            roles=[role],
            stores=list(stores),
            must_change_password=False,
        )


@pytest.fixture
def cast_a(tenant_a, stores_a):
    """Alice's chain: the owner `alice` (every store) and one user per other built-in role.

    The store manager and the cashier work in the first store only.
    """
    from accounts.models import User

    with tenant_context(tenant_a):
        owner = User.objects.get(username="alice")
    return {
        "owner": owner,
        "store_manager": make_user(tenant_a, "sam", "store_manager", [stores_a[0]]),
        "cashier": make_user(tenant_a, "cody", "cashier", [stores_a[0]]),
        "integrator": make_user(tenant_a, "ivy", "integrator"),
        "auditor": make_user(tenant_a, "aud", "auditor"),
    }


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
    from accounts.policy import policy_for
    from accounts.tokens import token_issue

    with tenant_context(user.tenant):
        return token_issue(user=user, policy=policy_for(user))[1]


@pytest.fixture
def api():
    """`api(user)`: a client signed in as `user`; `api()`: an anonymous one."""
    return lambda user=None: HttpsApiClient(token_for(user) if user is not None else None)
