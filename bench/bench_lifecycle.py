"""Backup, restore and purge of a tenant with 100,000 and 1,000,000 rows: time and peak memory.

`python -m bench.bench_lifecycle purge-only` measures the purge alone (no backup first).

Runs on a database of its own (created, migrated and dropped here) with a plain tenant-owned
table filled by generate_series. Each backup and restore runs in a fresh Python process that
reports its time and its peak resident memory, so the two sizes can be compared: streaming
means the peak must not grow with the tenant.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

SIZES = (100_000, 1_000_000)
DATABASE = "kassa_bench_lifecycle"
TABLE_SQL = """
CREATE TABLE bench_sale_line (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants_tenant (id) DEFERRABLE INITIALLY DEFERRED,
  n integer NOT NULL,
  label text NOT NULL,
  amount numeric(12, 2) NOT NULL,
  created_at timestamptz NOT NULL
)
"""
FILL_SQL = """
INSERT INTO bench_sale_line (tenant_id, n, label, amount, created_at)
SELECT %s, g, 'article ' || g || ' of the bench', (g %% 10000) / 7.0, now() - g * interval '1 second'
FROM generate_series(1, %s) AS g
"""


def _django(database: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    os.environ.setdefault("KASSA_PROCESS", "manage")  # backups, restores, exports: the maintenance role
    os.environ["KASSA_DB_NAME"] = database
    os.environ.setdefault("KASSA_LOG_LEVEL", "WARNING")
    import django

    django.setup()


def measure(operation: str, argument: str) -> None:
    """In a child process: run one backup or restore and print its figures as JSON.

    Peak RSS covers the whole process; tracemalloc's peak, the Python allocations made during
    the operation alone (started just before it; it slows the run a little, which is counted).
    """
    import resource
    import tracemalloc

    _django(os.environ["KASSA_DB_NAME"])
    from lifecycle.services.backups import backup_create, backup_get, backup_run
    from lifecycle.services.purge import tenant_purge, tenant_terminate
    from lifecycle.services.restore import backup_restore
    from tenants.models import Tenant

    if operation == "purge":
        tenant_terminate(tenant=Tenant.objects.get(slug=argument))
    tracemalloc.start()
    started = time.perf_counter()
    if operation == "purge":
        certificate = tenant_purge(tenant=Tenant.objects.get(slug=argument), requested_by="bench")
        result = {"rows": sum(certificate.rows_deleted.values())}
    elif operation == "backup":
        tenant = Tenant.objects.get(slug=argument)
        backup = backup_run(tenant=tenant, backup_id=backup_create(tenant=tenant, enqueue=False).pk)
        result = {"backup": str(backup.pk), "rows": backup.row_count, "bytes": backup.size_bytes}
    else:
        backup = backup_get(backup_id=argument)
        restored = backup_restore(backup=backup, new_slug=f"{backup.tenant.slug}-copy")
        result = {"rows": restored.row_count}
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["heap_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    tracemalloc.stop()
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


def _child(operation: str, argument: str, env: dict) -> dict:
    output = subprocess.run(
        [sys.executable, "-m", "bench.bench_lifecycle", operation, argument],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(purge_only: bool = False) -> None:
    storage = tempfile.mkdtemp(prefix="kassa-bench-storage-")
    os.environ["KASSA_STORAGE_URL"] = f"file://{storage}"
    os.environ["KASSA_TEST_DB_NAME"] = DATABASE
    os.environ.setdefault("KASSA_LOG_LEVEL", "WARNING")
    _django(DATABASE)
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    from lifecycle.services.onboarding import tenant_create
    from tenants.maintenance import maintenance_transaction
    from tenants.rls import rls_statements

    config = setup_databases(verbosity=0, interactive=False, aliases={"owner", "default"})
    try:
        name = connections["owner"].settings_dict["NAME"]
        env = {**os.environ, "KASSA_DB_NAME": name}
        with connections["owner"].cursor() as cursor:
            cursor.execute(TABLE_SQL)
            for statement in rls_statements("bench_sale_line"):
                cursor.execute(statement)
        print(
            f"{'rows':>10} {'backup s':>9} {'file MB':>8} {'heap peak':>10} {'RSS':>9} "
            f"{'restore s':>10} {'heap peak':>10} {'RSS':>9} {'purge s':>8} {'heap peak':>10} {'RSS':>9}"
        )
        for size in SIZES:
            tenant, _ = tenant_create(
                slug=f"bench-{size}",
                name="Bench",
                region="local",
                owner_username="owner",
                owner_password="bench-password-2026-ok",
            )
            with maintenance_transaction(tenant) as cursor:
                cursor.execute(FILL_SQL, [tenant.pk, size])
                cursor.execute("ANALYZE bench_sale_line")
            if purge_only:
                backup = {"rows": size, "seconds": "-", "bytes": 0, "heap_peak_mb": "-", "peak_rss_mb": "-"}
                restore = {"seconds": "-", "heap_peak_mb": "-", "peak_rss_mb": "-"}
            else:
                backup = _child("backup", tenant.slug, env)
                restore = _child("restore", backup["backup"], env)
            purge = _child("purge", tenant.slug, env)
            backup["rows"] = purge["rows"] if purge_only else backup["rows"]
            print(
                f"{backup['rows']:>10} {backup['seconds']:>9} {backup['bytes'] / 1e6:>8.1f} "
                f"{backup['heap_peak_mb']:>7} MB {backup['peak_rss_mb']:>6} MB {restore['seconds']:>10} "
                f"{restore['heap_peak_mb']:>7} MB {restore['peak_rss_mb']:>6} MB {purge['seconds']:>8} "
                f"{purge['heap_peak_mb']:>7} MB {purge['peak_rss_mb']:>6} MB"
            )
        print("heap peak: Python allocations during the operation (tracemalloc); RSS: whole-process peak")
    finally:
        from auditlog import writer

        writer.close_all()  # the access log's own connection
        connections.close_all()
        teardown_databases(config, verbosity=0)


if __name__ == "__main__":
    if len(sys.argv) == 3:
        measure(sys.argv[1], sys.argv[2])
    else:
        main(purge_only=sys.argv[1:] == ["purge-only"])
