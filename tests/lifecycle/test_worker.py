"""A backup task whose worker process is killed half-way is run again and published once."""

import signal
import time

import psutil
import pytest
from django.db import connections

from core.storage import storage_for_tenant
from lifecycle.models import Backup
from lifecycle.services.backups import archive_verify, backup_create, backup_key
from lifecycle.tasks import backup_run_task
from tenants.context import tenant_context
from tests.conftest import DATABASES, start_worker, stop_worker

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_backup_killed_half_way_publishes_nothing_and_its_retry_publishes_one(
    chain, file_storage, settings
):
    with tenant_context(chain), connections["owner"].cursor() as cursor:
        cursor.execute(
            "INSERT INTO tenants_store (id, tenant_id, name, code, address, allow_negative_stock, active, created_at) "
            "SELECT gen_random_uuid(), %s, 'Store ' || n, 'B' || n, repeat('x', 200), false, true, now() "
            "FROM generate_series(1, 20000) AS n",
            [chain.pk],
        )
    backup = backup_create(tenant=chain, enqueue=False)  # enqueued below, once the worker runs
    storage = storage_for_tenant(chain)
    worker, _ = start_worker(  # backups are the privileged queue's
        {"KASSA_STORAGE_URL": settings.KASSA_STORAGE_URL, "KASSA_BACKUP_BLOCK_PAUSE_MS": "250"},
        privileged=True,
    )
    try:
        backup_run_task.delay(str(chain.pk), str(backup.pk))
        wait_for(
            lambda: Backup.objects.filter(pk=backup.pk, status="running", progress__gte=15).exists(),
            60,
            "the backup to be under way",
        )
        children = psutil.Process(worker.pid).children()
        assert len(children) == 1
        children[0].send_signal(signal.SIGKILL)  # the process running the task dies mid-backup
        children[0].wait(10)

        backup.refresh_from_db()
        assert backup.status != Backup.Status.DONE and backup.progress < 100
        assert not storage.exists(backup_key(chain.pk, backup.pk))
        assert list(storage.list(f"tenants/{chain.pk}/backups/")) == []

        # Acknowledged late and rejected when its worker died: the task runs again.
        wait_for(
            lambda: Backup.objects.filter(pk=backup.pk, status="done").exists(),
            120,
            "the retried backup to finish",
        )
    finally:
        stop_worker(worker)

    backup.refresh_from_db()
    assert backup.attempts == 2
    assert sorted(storage.list(f"tenants/{chain.pk}/")) == [  # no partial file left
        backup.object_key,
        f"{backup.object_key}.keys",  # the wrapped data keys beside it (disaster recovery)
    ]
    manifest = archive_verify(tenant=chain, backup_id=backup.pk, chunks=storage.get(backup.object_key))
    assert manifest == backup.manifest
    assert manifest["tables"]["tenants_store"]["rows"] == 20005
