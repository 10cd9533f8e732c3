"""The cost of the RateLimit-* headers: Redis round trips per request and time, with and without.

In process, through Django's test client, against the embedded Redis of this checkout (nothing
else uses its cache database during the run): the server's own command counter
(`INFO stats: total_commands_processed`) gives the commands per request; alternating rounds
with and without `RateLimitHeadersMiddleware` give the time it adds.
"""

import os
import statistics
import time

REQUESTS, ROUNDS = 200, 5
DATABASE = "kassa_bench_ratelimit"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    os.environ["KASSA_TEST_DB_NAME"] = DATABASE
    os.environ.setdefault("KASSA_LOG_LEVEL", "WARNING")
    os.environ["KASSA_API_RATE"] = "1000000/minute"
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connections
    from django.test.utils import override_settings, setup_databases, teardown_databases
    from rest_framework.test import APIClient

    from accounts.policy import policy_for
    from accounts.tokens import token_issue
    from lifecycle.services.onboarding import tenant_create
    from tenants.context import tenant_context

    config = setup_databases(verbosity=0, interactive=False, aliases={"owner", "default"})
    redis = cache._cache.get_client(write=True)
    try:
        tenant, owner = tenant_create(
            slug="bench-rl", name="Bench", region="local", owner_username="owner",
            owner_password="bench-password-2026-ok",
        )  # fmt: skip
        with tenant_context(tenant):
            token = token_issue(user=owner, policy=policy_for(owner))[1]
        without = [m for m in settings.MIDDLEWARE if m != "core.throttling.RateLimitHeadersMiddleware"]

        def commands() -> int:
            return int(redis.info("stats")["total_commands_processed"])

        def round_of(headers: bool) -> tuple[float, float]:
            client = APIClient(HTTP_HOST="127.0.0.1")  # loads the middleware of this round
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            client.get("/api/v1/me/", secure=True)
            before = commands()
            started = time.perf_counter()
            for _ in range(REQUESTS):
                answer = client.get("/api/v1/me/", secure=True)
                assert answer.status_code == 200 and (("RateLimit-Limit" in answer) == headers)
            seconds = time.perf_counter() - started
            return seconds * 1e6 / REQUESTS, (commands() - before - 1) / REQUESTS

        results = {True: [], False: []}
        for _ in range(ROUNDS):
            results[True].append(round_of(True))
            with override_settings(MIDDLEWARE=without):
                results[False].append(round_of(False))
        print(
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; GET /api/v1/me/, {REQUESTS} x {ROUNDS}"
        )
        for headers, label in ((False, "without the headers"), (True, "with RateLimit-*")):
            micros = statistics.median(r[0] for r in results[headers])
            per = statistics.median(r[1] for r in results[headers])
            print(f"{label:<22} {micros:>8.0f} us/request  {per:.2f} Redis commands/request")
        print("(the throttle sends its commands, INCR, EXPIRE, GET, in one round trip)")
    finally:
        from auditlog import writer

        writer.close_all()
        connections.close_all()
        teardown_databases(config, verbosity=0)


if __name__ == "__main__":
    main()
