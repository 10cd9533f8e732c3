"""Task names (`<app>.<name>_task`, as the beat schedule names them) and enqueueing on commit."""

import pytest
from django.conf import settings

from core.errors import DomainError
from lifecycle import tasks
from lifecycle.errors import BackupBusy, LifecycleError
from lifecycle.models import Backup
from lifecycle.services.backups import backup_create
from tenants.maintenance import as_maintenance


def test_lifecycle_tasks_are_named_app_dot_name_task():
    from kassa.celery import app

    for task in (
        tasks.backup_run_task,
        tasks.backups_nightly_task,
        tasks.restore_drills_task,
        tasks.storage_drills_task,
        tasks.tenants_purge_due_task,
    ):
        assert task.name == f"lifecycle.{task.__name__}"
        assert task.name in app.tasks
    scheduled = {
        e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"].startswith("lifecycle.")
    }
    weekly = {"lifecycle.storage_drills_task"} if settings.KASSA_STORAGE_DRILL_BEAT else set()
    assert scheduled == {
        "lifecycle.backups_nightly_task",
        "lifecycle.restore_drills_task",
        "lifecycle.tenants_purge_due_task",
        *weekly,
    }
    assert scheduled <= set(app.tasks)


@pytest.fixture
def delayed(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.backup_run_task, "delay", lambda *args, record: sent.append((*args, record)))
    return sent


def test_a_created_backup_runs_in_a_worker_after_commit(
    tenant_a, delayed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        backup = backup_create(tenant=tenant_a)
        assert delayed == []  # not before the commit
        backup_create(tenant=tenant_a, enqueue=False)  # the caller runs this one

    assert delayed == [(str(tenant_a.pk), str(backup.pk), False)]
    assert Backup.objects.filter(tenant=tenant_a).count() == 2


def test_a_scheduled_backup_done_tonight_is_not_run_again(
    tenant_a, delayed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        backup = backup_create(tenant=tenant_a, trigger=Backup.Trigger.SCHEDULED, scheduled_for="2026-01-02")
    with as_maintenance():
        Backup.objects.filter(pk=backup.pk).update(status=Backup.Status.DONE)
    with django_capture_on_commit_callbacks(execute=True):
        again = backup_create(tenant=tenant_a, trigger=Backup.Trigger.SCHEDULED, scheduled_for="2026-01-02")

    assert again.pk == backup.pk
    assert delayed == [(str(tenant_a.pk), str(backup.pk), False)]


def test_lifecycle_refusals_are_domain_errors_with_their_code():
    refused = LifecycleError("backup 1 is failed", code="backup_not_done")
    assert isinstance(refused, DomainError) and refused.code == "backup_not_done"
    assert str(refused) == refused.detail == "backup 1 is failed"
    busy = BackupBusy()
    assert isinstance(busy, LifecycleError) and busy.code == "backup_busy"
    assert str(busy) == "another worker is running this backup"
