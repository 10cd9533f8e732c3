"""Audit benchmarks, on a database of their own (created and dropped here).

1. Overhead of the audit layer on a typical API request (GET /api/v1/me/ with a token, in
   process): the same requests with the audit middleware and without it, interleaved in the
   same run; the figure is the ratio of median latencies.
2. The access-log query of the review API (one user, one day) over 1,000,000 entries of one
   tenant: p95 of the first page, in milliseconds.
3. The access row's write over those 1,000,000 entries (random request ids, as every entry had
   before the tenth pass of issue 17): a new entry's request id random (UUIDv4) against
   time-ordered (UUIDv7, what the middleware makes), alternated, each after a checkpoint (on the
   embedded server): time and WAL an insert. WAL is the page images a random key costs: the
   first change of an index page after a checkpoint writes the whole page.
"""

import os
import random
import statistics
import time
from datetime import timedelta

ROUNDS = 6
REQUESTS_PER_ROUND = 150
ENTRIES = 1_000_000
USERS = 50
DAYS = 30
QUERIES = 200
WRITES = 3000


def _setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    # As the test suite: every role's connection, the requests measured as the application role.
    os.environ.setdefault("KASSA_PROCESS", "manage")
    os.environ.setdefault("KASSA_DB_ACT_AS_APP", "true")
    os.environ["KASSA_TEST_DB_NAME"] = f"bench_kassa_{os.getpid()}"
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # setup speed only
    return setup_databases(verbosity=0, interactive=False, aliases={"owner", "default"})


def _teardown(config):
    from django.db import connections
    from django.test.utils import teardown_databases

    from auditlog import writer

    writer.close_all()
    connections.close_all()
    teardown_databases(config, verbosity=0)


def _client(token, middleware):
    from django.test import override_settings
    from rest_framework.test import APIClient

    with override_settings(MIDDLEWARE=middleware):
        client = APIClient(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert client.get("/api/v1/me/", secure=True).status_code == 200  # loads this middleware
    return client


def _timed(client, count) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get("/api/v1/me/", secure=True)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return times


def bench_overhead(token) -> None:
    from django.conf import settings

    with_audit = _client(token, settings.MIDDLEWARE)
    without = _client(token, [m for m in settings.MIDDLEWARE if m != "auditlog.middleware.AuditMiddleware"])
    _timed(with_audit, 50)
    _timed(without, 50)
    on, off = [], []
    for _ in range(ROUNDS):
        on += _timed(with_audit, REQUESTS_PER_ROUND)
        off += _timed(without, REQUESTS_PER_ROUND)
    median_on, median_off = statistics.median(on) * 1000, statistics.median(off) * 1000
    print(f"GET /api/v1/me/ median: audit on {median_on:.2f} ms, off {median_off:.2f} ms")
    print(f"audit overhead ratio (on/off): {median_on / median_off:.3f} ({len(on)} requests each)")


def bench_access_query(tenant, reader) -> None:
    from django.db import connection, connections, transaction
    from django.utils import timezone

    from accounts.selectors import log_scope
    from auditlog import selectors
    from tenants.context import tenant_context

    start = timezone.now() - timedelta(days=DAYS)
    users = [f"00000000-0000-4000-8000-{i:012d}" for i in range(USERS)]
    began = time.perf_counter()
    with tenant_context(tenant), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO auditlog_access (created_at, tenant_id, request_id, user_id, ip, host, method,
              path, query, status, duration_ms, user_agent)
            SELECT %(start)s + (g * interval '1 second' * %(span)s / %(n)s), %(tenant)s, gen_random_uuid(),
              (%(users)s::uuid[])[1 + g %% %(u)s], '10.0.0.1', 'bench.localhost', 'GET', '/api/v1/products/',
              '', 200, 3.5, 'bench'
            FROM generate_series(1, %(n)s) AS g
            """,
            {
                "start": start,
                "span": DAYS * 86400,
                "n": ENTRIES,
                "tenant": tenant.pk,
                "users": users,
                "u": USERS,
            },
        )
    with connections["owner"].cursor() as cursor:
        cursor.execute("ANALYZE auditlog_access")
    print(f"inserted {ENTRIES} access entries in {time.perf_counter() - began:.1f} s")
    rng = random.Random(4)
    times = []
    with tenant_context(tenant):
        for _ in range(QUERIES):
            day = start + timedelta(days=rng.randrange(DAYS))
            filters = {"user": users[rng.randrange(USERS)], "since": day, "until": day + timedelta(days=1)}
            started = time.perf_counter()
            with transaction.atomic():
                rows = list(
                    selectors.access_list(scope=log_scope(reader=reader), filters=filters).order_by(
                        "-created_at", "-id"
                    )[:50]
                )
            times.append((time.perf_counter() - started) * 1000)
            assert rows
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(
        f"access log, one user and one day, first page of 50 over {ENTRIES} entries: "
        f"p50 {statistics.median(times):.2f} ms, p95 {p95:.2f} ms ({QUERIES} queries)"
    )


def _checkpoint() -> bool:
    """A checkpoint on the embedded server (its superuser); False on another server."""
    from django.conf import settings

    if not settings.DATABASES["default"].get("EMBEDDED"):
        return False
    import pgserver

    from core import embedded

    pgserver.get_server(embedded.postgres_dir(), cleanup_mode=None).psql("CHECKPOINT;")
    return True


def bench_request_ids(tenant) -> None:
    import uuid

    from django.utils import timezone
    from uuid6 import uuid7

    from auditlog import writer

    def params(request_id):
        tenant_id = str(tenant.pk)
        row = ("10.0.0.1", "bench.localhost", "GET", "/api/v1/products/", "", 200, 3.5, "bench")
        return (tenant_id, timezone.now(), tenant_id, str(request_id), None, None, None, None, *row)

    def lsn():
        return writer._connection().execute("SELECT pg_current_wal_lsn()").fetchone()[0]

    for name, make in [("random (UUIDv4)", uuid.uuid4), ("time-ordered (UUIDv7)", uuid7)] * 2:
        checkpointed = _checkpoint()
        before = lsn()
        started = time.perf_counter()
        for _ in range(WRITES):
            writer.execute(writer.ACCESS_SQL, params(make()))
        elapsed = time.perf_counter() - started
        wal = (
            writer._connection().execute("SELECT pg_current_wal_lsn() - %s::pg_lsn", (before,)).fetchone()[0]
        )
        print(
            f"access row write, request id {name}: {elapsed / WRITES * 1000:.3f} ms, "
            f"WAL {wal / WRITES:,.0f} B an insert ({WRITES} inserts"
            f"{', after a checkpoint' if checkpointed else ', no checkpoint: not the embedded server'})"
        )


def main() -> None:
    config = _setup()
    try:
        from accounts.models import Role
        from accounts.permissions import AUDITOR
        from accounts.policy import policy_for
        from accounts.services import user_create
        from accounts.tokens import token_issue
        from lifecycle.services.onboarding import tenant_create
        from tenants.context import tenant_context

        tenant, _ = tenant_create(
            slug="bench",
            name="Bench",
            region="local",
            owner_username="owner",
            owner_password="bench-Password-123",
        )
        with tenant_context(tenant):
            reader = user_create(
                username="auditor",
                password="bench-Password-123",
                roles=[Role.objects.get(builtin=AUDITOR)],
                must_change_password=False,
            )
            token = token_issue(user=reader, policy=policy_for(reader))[1]
        bench_overhead(token)
        bench_access_query(tenant, reader)
        bench_request_ids(tenant)
    finally:
        _teardown(config)


if __name__ == "__main__":
    main()
