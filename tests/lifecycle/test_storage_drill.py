"""Issue 15, item 4: the weekly drill rebuilds each tenant from storage alone into a scratch
database (created, migrated, dropped) and compares it with the backup's manifest.

Each drill that gets past the age check costs a scratch database and a `migrate` in a process of
its own (seconds): one passing run carries the assertions about passing, the leftover of a killed
run, the record, the API and the task; one tampered run those about failing.
"""

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone
from psycopg import sql

from lifecycle import tasks
from lifecycle.models import Backup, RestoreDrill
from lifecycle.services.drills import DRILL_FAILED_STATUS, scratch_prefix
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tests.conftest import DATABASES, HttpsApiClient, role_connection, token_for
from tests.lifecycle.conftest import backup_now, tenant_rows

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)
ROOT = Path(__file__).resolve().parents[2]


def scratch_databases() -> list[str]:
    with role_connection("owner") as connection:
        rows = connection.execute("SELECT datname FROM pg_database WHERE datname LIKE 'kassa\\_drill\\_%'")
        return sorted(r[0] for r in rows if r[0].startswith(scratch_prefix()))


def drills(tenant) -> list[RestoreDrill]:
    with tenant_context(tenant):
        return list(RestoreDrill.objects.filter(tenant=tenant, kind=RestoreDrill.Kind.STORAGE))


def test_the_weekly_task_rebuilds_the_backup_from_storage_in_a_scratch_database_and_drops_it(chain, alerts):
    backup = backup_now(chain)
    rows_before = tenant_rows(chain)
    # A run killed before its clean-up left its scratch database (with a table in it).
    leftover = f"{scratch_prefix()}killedrun000"
    with role_connection("owner", autocommit=True) as owner:
        owner.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(leftover)))
    assert scratch_databases() == [leftover]

    status = tasks.storage_drills_task()  # as the privileged worker runs it: manage.py drill_from_storage

    assert status == 0
    assert scratch_databases() == []  # its own scratch database and the leftover are gone
    [drill] = drills(chain)
    assert drill.status == RestoreDrill.Status.PASSED, drill.detail
    assert drill.backup_id == backup.pk and drill.detail == ""
    # Every backed-up table came back with the manifest's rows (and checksums: compared by the drill).
    assert drill.table_count == len(backup.manifest["tables"])
    assert drill.row_count == sum(t["rows"] for t in backup.manifest["tables"].values()) == backup.row_count
    assert drill.seconds > 0
    print(f"drill from storage of {chain.slug}: {drill.seconds:.1f} s, {drill.row_count} rows")
    assert alerts == []
    assert tenant_rows(chain) == rows_before  # the live tenant is untouched
    # The chain sees it as the backup's last drill.
    from accounts.models import User

    with tenant_context(chain):
        alice = User.objects.get(username="alice")
    [listed] = HttpsApiClient(token_for(alice)).get("/api/v1/backups/").json()["results"]
    assert listed["last_drill"]["kind"] == "storage" and listed["last_drill"]["status"] == "passed"


def test_a_tampered_backup_object_fails_the_drill_records_and_alerts_and_leaves_no_database(
    chain, file_storage, alerts
):
    backup = backup_now(chain)
    path = file_storage / backup.object_key
    original = path.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0x01  # one bit of one chunk
    path.write_bytes(bytes(data))
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("drill_from_storage", "--tenant", chain.slug, stdout=out, stderr=err)

    assert refused.value.returncode == DRILL_FAILED_STATUS
    assert scratch_databases() == []
    [drill] = drills(chain)
    assert drill.status == RestoreDrill.Status.FAILED and drill.row_count == 0
    assert "restore_tenant failed" in drill.detail and "nothing was changed" in drill.detail
    assert "Traceback" not in drill.detail
    assert f"{chain.slug}: failed" in out.getvalue()
    assert "step" in err.getvalue()  # the progress bar
    assert (
        len(alerts) == 1 and "storage_drill_failed" in alerts[0].subject and chain.slug in alerts[0].subject
    )
    assert str(backup.pk) in alerts[0].body
    # The chain's owners see it on the admin dashboard even after a nightly drill passed.
    from lifecycle.selectors import backup_trouble
    from lifecycle.services.drills import restore_drill_run

    path.write_bytes(original)
    assert restore_drill_run(tenant=chain).status == RestoreDrill.Status.PASSED
    with tenant_context(chain):
        assert backup_trouble()["drill_failed"] == drill
    # The object is sound again, but the manifest this database recorded says otherwise: the
    # rebuilt tables are compared with the record, not only with the object's own manifest.
    manifest = backup.manifest
    manifest["tables"]["tenants_store"]["checksum"] = "sha256:" + "0" * 64
    with as_maintenance():
        Backup.objects.filter(pk=backup.pk).update(manifest=manifest)
    with pytest.raises(CommandError):
        call_command("drill_from_storage", "--no-progress", stdout=io.StringIO(), stderr=io.StringIO())
    latest = drills(chain)[0]
    assert latest.status == RestoreDrill.Status.FAILED
    assert latest.detail.endswith("differ from the manifest: tenants_store")
    assert scratch_databases() == [] and len(alerts) == 2


def test_a_drill_stopped_with_sigterm_drops_its_scratch_database(chain, settings):
    backup_now(chain)
    from django.db import connections

    env = {
        **os.environ,
        "KASSA_PROCESS": "manage",
        "KASSA_DB_NAME": connections["default"].settings_dict["NAME"],
        "KASSA_STORAGE_URL": settings.KASSA_STORAGE_URL,
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "drill_from_storage", "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not scratch_databases():  # created: the migrate step is under way
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    assert scratch_databases() == []
    assert drills(chain) == []  # stopped, not failed: nothing recorded, nothing alerted


def test_a_stale_backup_is_refused_before_any_database_is_made(chain, alerts):
    backup = backup_now(chain)
    with as_maintenance():
        Backup.objects.filter(pk=backup.pk).update(finished_at=timezone.now() - timedelta(hours=27))

    with pytest.raises(CommandError):
        call_command("drill_from_storage", "--no-progress", stdout=io.StringIO(), stderr=io.StringIO())

    [drill] = drills(chain)
    assert drill.status == RestoreDrill.Status.FAILED and "27 hours old" in drill.detail
    assert drill.seconds < 5 and scratch_databases() == []
    assert len(alerts) == 1 and "storage_drill_failed" in alerts[0].subject


def test_the_weekly_entry_is_in_beat_and_its_task_on_the_privileged_queue():
    from kassa.celery import app

    assert tasks.storage_drills_task.name == "lifecycle.storage_drills_task" in app.tasks
    assert (
        settings.CELERY_TASK_ROUTES["lifecycle.storage_drills_task"]["queue"]
        == settings.KASSA_PRIVILEGED_QUEUE
    )
    # Beat sends it once a week where the database is embedded; with an external one the systemd
    # timer runs the command (the privileged worker has no owner credential), so beat does not.
    probe = (
        "import json, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'kassa.settings');"
        "from django.conf import settings;"
        "e = settings.CELERY_BEAT_SCHEDULE.get('storage-drill-weekly');"
        "print(json.dumps(e and [e['task'], sorted(e['schedule'].day_of_week), sorted(e['schedule'].hour)]))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KASSA_", "DATABASE_"))}
    found = {}
    for case, extra in {
        "embedded": {},
        "external": {"DATABASE_URL": "postgres://kassa_app:x@db.invalid/kassa"},
    }.items():
        done = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={**clean, "KASSA_PROCESS": "beat", "REDIS_URL": "redis://redis.invalid:6379", **extra},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        found[case] = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"embedded": ["lifecycle.storage_drills_task", [0], [5]], "external": None}
    # The timer's service: a manage.py process with the maintenance and owner credentials, as
    # kassa-manage hands them, and none written in the unit.
    units = ROOT / "deploy" / "systemd"
    timer, service = (units / "kassa-drill.timer").read_text(), (units / "kassa-drill.service").read_text()
    assert "OnCalendar=Sun *-*-* 05:30:00" in timer and "Unit=kassa-drill.service" in timer
    assert "KASSA_PROCESS=manage" in service and "manage.py drill_from_storage" in service
    loaded = set(re.findall(r"LoadCredential=([a-z-]+):", service))
    assert {c for c in loaded if "database-url" in c} == {"maintenance-database-url", "owner-database-url"}
    assert "PASSWORD" not in service and "postgres://" not in service
    roles = (ROOT / "deploy" / "postgres-roles.sql").read_text()
    assert re.search(r"^CREATE ROLE kassa_owner .*\bCREATEDB\b", roles, re.M)
    assert "GRANT pg_signal_backend TO kassa_owner;" in roles
