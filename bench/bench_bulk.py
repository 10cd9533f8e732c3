"""Bulk upserts of 10,000 products and 10,000 stock counts: rows per second and peak memory.

A database of its own (created, migrated and dropped here). The requests go through the whole
API in process (bearer token, throttle, tenant and row-level security, audit log, idempotency,
the outbox with one webhook subscribed), 1,000 rows each as the API allows, and the same
10,000 rows again in batches of 100 to show that the time per row does not depend on the
batch. Memory: the Python heap peak of each request (tracemalloc) and the process's peak RSS;
flat means the peak of the tenth request equals the first's.
"""

import json
import os
import resource
import time
import tracemalloc

DATABASE = "kassa_bench_bulk"
ROWS = 10_000


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    os.environ["KASSA_TEST_DB_NAME"] = DATABASE
    os.environ.setdefault("KASSA_LOG_LEVEL", "WARNING")
    os.environ["KASSA_API_RATE"] = "1000000/minute"
    import django

    django.setup()


def _rows(start: int, count: int, price: str) -> list[dict]:
    return [
        {"sku": f"BULK-{n:06}", "name": f"Bulk product {n}", "price": price, "tax_rate": "24.00",
         "external_id": f"ERP-{n}"}
        for n in range(start, start + count)
    ]  # fmt: skip


def _post(client, path: str, body: dict) -> int:
    answer = client.post(path, json.dumps(body), content_type="application/json", secure=True)
    assert answer.status_code == 200, answer.content[:300]
    results = answer.json()["results"]
    assert not [r for r in results if r["status"] == "invalid"], results[:3]
    return len(results)


def _heap_peak(client, path: str, body: dict) -> float:
    tracemalloc.start()
    _post(client, path, body)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def _run(client, path: str, bodies: list[dict]) -> dict:
    """POST each body; the rows per second of all but the first and last, whose heap peaks
    are traced (tracemalloc slows what it traces, so those are not timed)."""
    first = _heap_peak(client, path, bodies[0])
    seconds, rows = 0.0, 0
    for body in bodies[1:-1]:
        started = time.perf_counter()
        rows += _post(client, path, body)
        seconds += time.perf_counter() - started
    last = _heap_peak(client, path, bodies[-1])
    return {
        "rows": rows,
        "rows_per_s": rows / seconds,
        "ms_per_row": 1000 * seconds / rows,
        "first": first,
        "last": last,
    }


def main() -> None:
    _django()
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases
    from rest_framework.test import APIClient

    from accounts.policy import policy_for
    from accounts.tokens import token_issue
    from integrations.services import webhook_create
    from lifecycle.services.onboarding import tenant_create
    from tenants.context import tenant_context
    from tenants.models import Store

    config = setup_databases(verbosity=0, interactive=False, aliases={"owner", "default"})
    try:
        tenant, owner = tenant_create(
            slug="bench-bulk", name="Bench", region="local", owner_username="owner",
            owner_password="bench-password-2026-ok",
        )  # fmt: skip
        with tenant_context(tenant):
            store = Store.objects.create(name="Bench store")
            token = token_issue(user=owner, policy=policy_for(owner))[1]
            # The outbox writes its rows; nothing is sent (no worker here, and only to loopback).
            webhook_create(
                actor=None, url="http://127.0.0.1:9/bench", events=["product.changed", "stock.changed"]
            )
        client = APIClient(HTTP_HOST="127.0.0.1")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        phases = [
            ("products: create, 10 x 1,000", "/api/v1/products/bulk/",
             [{"products": _rows(n, 1000, "2.50")} for n in range(0, ROWS, 1000)]),
            ("products: update, 10 x 1,000", "/api/v1/products/bulk/",
             [{"products": _rows(n, 1000, "2.75")} for n in range(0, ROWS, 1000)]),
            ("products: update, 100 x 100", "/api/v1/products/bulk/",
             [{"products": _rows(n, 100, "3.00")} for n in range(0, ROWS, 100)]),
            ("stock counts, 10 x 1,000", "/api/v1/stock-counts/bulk/",
             [{"counts": [{"store": str(store.pk), "sku": f"BULK-{n:06}", "counted": 5 + n % 7}
                          for n in range(start, start + 1000)]} for start in range(0, ROWS, 1000)]),
        ]  # fmt: skip
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'phase':<30} {'timed':>6} {'rows/s':>7} {'ms/row':>7} {'heap 1st':>9} {'heap last':>9}")
        for name, path, bodies in phases:
            r = _run(client, path, bodies)
            print(
                f"{name:<30} {r['rows']:>6} {r['rows_per_s']:>7.0f} {r['ms_per_row']:>7.2f} "
                f"{r['first']:>6.1f} MB {r['last']:>6.1f} MB"
            )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"process peak RSS {rss:.0f} MB; heap: Python allocations of the phase's first and last request"
        )
    finally:
        from auditlog import writer

        writer.close_all()
        connections.close_all()
        teardown_databases(config, verbosity=0)


if __name__ == "__main__":
    main()
