"""Issue 15, item 5: backups you can trust — failures alert, drills refuse old backups, the API
shows age and drills, and asking for backups is idempotent and rate limited per tenant."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from lifecycle import tasks
from lifecycle.models import Backup, RestoreDrill
from lifecycle.services.backups import backup_create, backup_run
from lifecycle.services.drills import restore_drill_run
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tests.conftest import DATABASES, HttpsApiClient, signed_in, token_for
from tests.lifecycle.conftest import backup_now

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)


def test_a_failed_backup_alerts_the_operators_and_the_owners_see_it(
    cast_a, tenant_a, settings, tmp_path, alerts, caplog
):
    (tmp_path / "a-file").write_bytes(b"")
    settings.KASSA_STORAGE_URL = f"file://{tmp_path / 'a-file' / 'storage'}"  # cannot be written
    backup = backup_create(tenant=tenant_a, enqueue=False)
    with caplog.at_level(logging.ERROR, logger="core.alerts"), pytest.raises(Exception):  # noqa: B017
        backup_run(tenant=tenant_a, backup_id=backup.pk)

    with as_maintenance():
        assert Backup.objects.get(pk=backup.pk).status == Backup.Status.FAILED
    assert len(alerts) == 1 and "backup_failed" in alerts[0].subject and tenant_a.slug in alerts[0].subject
    assert str(backup.pk) in alerts[0].body
    page = signed_in(cast_a["owner"]).get("/admin/", secure=True)
    assert b'id="backup-trouble"' in page.content and b"failed" in page.content
    cashier_page = signed_in(cast_a["cashier"]).get("/admin/", secure=True)
    assert b'id="backup-trouble"' not in cashier_page.content


def test_the_drill_refuses_a_backup_older_than_26_hours_and_alerts(cast_a, tenant_a, file_storage, alerts):
    backup = backup_now(tenant_a)
    with as_maintenance():
        Backup.objects.filter(pk=backup.pk).update(finished_at=timezone.now() - timedelta(hours=27))

    drill = restore_drill_run(tenant=tenant_a)

    assert drill.status == RestoreDrill.Status.FAILED and "27 hours old" in drill.detail
    assert drill.row_count == 0  # nothing was restored
    assert len(alerts) == 1 and "restore_drill_failed" in alerts[0].subject
    page = signed_in(cast_a["owner"]).get("/admin/", secure=True).content.decode()
    assert 'id="backup-trouble"' in page and "27 hours old" in page
    with as_maintenance():
        Backup.objects.filter(pk=backup.pk).update(finished_at=timezone.now() - timedelta(hours=25))
    assert restore_drill_run(tenant=tenant_a).status == RestoreDrill.Status.PASSED


def test_the_backup_list_shows_age_and_the_last_drill(cast_a, tenant_a, tenant_b, file_storage):
    backup = backup_now(tenant_a)
    backup_now(tenant_b)
    with as_maintenance():
        Backup.objects.filter(pk=backup.pk).update(finished_at=timezone.now() - timedelta(hours=3))
    owner = HttpsApiClient(token_for(cast_a["owner"]))
    [listed] = owner.get("/api/v1/backups/").json()["results"]
    assert 3 * 3600 <= listed["age_seconds"] < 3 * 3600 + 120 and listed["last_drill"] is None
    restore_drill_run(tenant=tenant_a)
    [listed] = owner.get("/api/v1/backups/").json()["results"]
    assert listed["last_drill"]["status"] == "passed" and listed["last_drill"]["detail"] == ""


def test_asking_for_a_backup_takes_an_idempotency_key_and_a_per_tenant_rate_limit(
    cast_a, cast_b, tenant_a, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.KASSA_BACKUP_REQUEST_RATE = "3/hour"  # a replay counts: it is a request too
    sent = []
    monkeypatch.setattr(tasks.backup_run_task, "delay", lambda *args, record: sent.append(args))
    owner = HttpsApiClient(token_for(cast_a["owner"]))
    with django_capture_on_commit_callbacks(execute=True):
        first = owner.post("/api/v1/backups/", HTTP_IDEMPOTENCY_KEY="nightly-extra-1")
        again = owner.post("/api/v1/backups/", HTTP_IDEMPOTENCY_KEY="nightly-extra-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and len(sent) == 1  # one backup asked for
    with django_capture_on_commit_callbacks(execute=True):
        second = owner.post("/api/v1/backups/", HTTP_IDEMPOTENCY_KEY="nightly-extra-2")
        third = owner.post("/api/v1/backups/", HTTP_IDEMPOTENCY_KEY="nightly-extra-3")
    assert second.status_code == 202
    assert third.status_code == 429 and third.json()["code"] == "throttled" and third["Retry-After"]
    assert len(sent) == 2
    # Another chain has its own limit; a bad key is a 400 and asks for nothing.
    bob = HttpsApiClient(token_for(cast_b["owner"]))
    with django_capture_on_commit_callbacks(execute=True):
        assert bob.post("/api/v1/backups/").status_code == 202
        bad = bob.post("/api/v1/backups/", HTTP_IDEMPOTENCY_KEY="x" * 10_000)
    assert bad.status_code == 400 and set(bad.json()) >= {"code", "detail"}
    assert len(sent) == 3
    with tenant_context(tenant_a):
        assert not Backup.objects.exists()  # the privileged task records them, not the request
