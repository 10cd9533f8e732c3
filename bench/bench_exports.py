"""Full export of a tenant with 100,000 and 1,000,000 rows: time and peak memory.

Runs on a database of its own (created, migrated and dropped here). The tenant holds a
catalogue (products, 5 % of the rows) and a stock ledger (stock movements, the rest), filled
by generate_series with the change-log trigger off for the fill. Each export runs in a fresh
Python process that reports its time and peak memory, so the two sizes can be compared:
streaming means the peak must not grow with the tenant.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

SIZES = (100_000, 1_000_000)
DATABASE = "kassa_bench_exports"
PRODUCTS_SQL = """
INSERT INTO inventory_product (id, tenant_id, sku, barcode, name, description, price, cost, tax_rate, active,
  created_at, updated_at)
SELECT gen_random_uuid(), %s, 'SKU-' || g, '', 'Product ' || g || ' of the bench', '', (g %% 1000) / 7.0 + 1, 0,
  24, true, now(), now()
FROM generate_series(1, %s) AS g
"""
MOVEMENTS_SQL = """
INSERT INTO inventory_stockmovement (id, tenant_id, store_id, product_id, kind, quantity, balance_after, reason,
  created_at)
SELECT gen_random_uuid(), %s, %s, p.id, 'receive', 1 + g %% 10, g %% 100, 'bench delivery', now()
FROM generate_series(1, %s) AS g
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM inventory_product WHERE tenant_id = %s) p
  ON p.n = g %% %s
"""


def _django(database: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    os.environ.setdefault("KASSA_PROCESS", "manage")  # backups, restores, exports: the maintenance role
    os.environ["KASSA_DB_NAME"] = database
    os.environ.setdefault("KASSA_LOG_LEVEL", "WARNING")
    import django

    django.setup()


def measure(slug: str) -> None:
    """In a child process: run one full export and print its figures as JSON."""
    import resource
    import tracemalloc

    _django(os.environ["KASSA_DB_NAME"])
    from accounts.models import User
    from exports import services
    from exports.models import Export
    from tenants.context import tenant_context
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=slug)
    with tenant_context(tenant):
        export = Export.objects.create(kind="full", requested_by=User.objects.get(username="owner"))
    tracemalloc.start()
    started = time.perf_counter()
    export = services.export_run(tenant=tenant, export_id=export.pk)
    result = {"rows": export.row_count, "bytes": export.size_bytes, "status": export.status}
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["heap_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    tracemalloc.stop()
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


def _child(slug: str, env: dict) -> dict:
    output = subprocess.run(
        [sys.executable, "-m", "bench.bench_exports", slug],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _triggers(action: str) -> None:
    """The change-log trigger off while filling: a million change rows would only slow the fill."""
    from django.db import connections

    with connections["owner"].cursor() as cursor:
        for table in ("inventory_product", "inventory_stockmovement"):
            cursor.execute(f"ALTER TABLE {table} {action} TRIGGER auditlog_change")


def main() -> None:
    storage = tempfile.mkdtemp(prefix="kassa-bench-exports-")
    os.environ["KASSA_STORAGE_URL"] = f"file://{storage}"
    os.environ["KASSA_TEST_DB_NAME"] = DATABASE
    os.environ.setdefault("KASSA_LOG_LEVEL", "WARNING")
    _django(DATABASE)
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    from lifecycle.services.onboarding import tenant_create
    from tenants.context import tenant_context
    from tenants.maintenance import maintenance_transaction
    from tenants.models import Store

    config = setup_databases(verbosity=0, interactive=False, aliases={"owner", "default"})
    try:
        env = {**os.environ, "KASSA_DB_NAME": connections["owner"].settings_dict["NAME"]}
        print(f"{'rows':>10} {'export s':>9} {'rows/s':>8} {'file MB':>8} {'heap peak':>10} {'RSS':>9}")
        for size in SIZES:
            tenant, _ = tenant_create(
                slug=f"bench-{size}",
                name="Bench",
                region="local",
                owner_username="owner",
                owner_password="bench-password-2026-ok",
            )
            with tenant_context(tenant):
                store = Store.objects.create(name="Bench store")
            products = size // 20
            _triggers("DISABLE")
            try:
                with maintenance_transaction(tenant) as cursor:
                    cursor.execute(PRODUCTS_SQL, [tenant.pk, products])
                    cursor.execute(MOVEMENTS_SQL, [tenant.pk, store.pk, size - products, tenant.pk, products])
            finally:
                _triggers("ENABLE")
            with connections["owner"].cursor() as cursor:
                cursor.execute("ANALYZE")
            result = _child(tenant.slug, env)
            print(
                f"{result['rows']:>10} {result['seconds']:>9} {result['rows'] / result['seconds']:>8.0f} "
                f"{result['bytes'] / 1e6:>8.1f} {result['heap_peak_mb']:>7} MB {result['peak_rss_mb']:>6} MB"
            )
        print("heap peak: Python allocations during the export (tracemalloc); RSS: whole-process peak")
    finally:
        from auditlog import writer

        writer.close_all()  # the access log's own connection
        connections.close_all()
        teardown_databases(config, verbosity=0)


if __name__ == "__main__":
    if len(sys.argv) == 2:
        measure(sys.argv[1])
    else:
        main()
