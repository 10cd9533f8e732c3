"""The exports service: refusals as domain errors, enqueueing on commit, the command through it."""

import io
import zipfile

import pytest
from django.conf import settings
from django.core.management import call_command

from core.api import exception_handler
from core.errors import Forbidden
from exports import services, tasks
from exports.errors import ExportError
from exports.models import Export
from tenants.context import tenant_context
from tests.conftest import transactional


def test_exports_tasks_are_named_app_dot_name_task():
    from kassa.celery import app

    for task in (tasks.export_run_task, tasks.exports_expire_task):
        assert task.name == f"exports.{task.__name__}"
        assert task.name in app.tasks
    scheduled = {
        e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"].startswith("exports.")
    }
    assert scheduled == {"exports.exports_expire_task"}


@pytest.fixture
def delayed(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.export_run_task, "delay", lambda *args: sent.append(args))
    return sent


def test_export_create_refuses_with_domain_errors_the_handler_maps(cast_a, tenant_a):
    with tenant_context(tenant_a):
        with pytest.raises(Forbidden) as forbidden:
            services.export_create(actor=cast_a["store_manager"], kind="full")
        with pytest.raises(ExportError) as invalid:
            services.export_create(actor=cast_a["owner"], kind="everything")
        assert not Export.objects.exists()

    answer = exception_handler(forbidden.value, {})
    assert answer.status_code == 403
    assert answer.data == {"code": "permission_denied", "detail": "You may not export the chain's data."}
    answer = exception_handler(invalid.value, {})
    assert answer.status_code == 400 and answer.data["code"] == "invalid"


def test_export_create_enqueues_after_commit_unless_the_caller_runs_it(
    cast_a, tenant_a, delayed, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
        export = services.export_create(actor=cast_a["owner"], kind="full")
        services.export_create(actor=cast_a["owner"], kind="products", enqueue=False)
        assert delayed == []

    assert delayed == [(str(tenant_a.pk), str(export.pk))]


@transactional
def test_the_export_command_records_its_export_through_the_service_and_runs_it_itself(
    cast_a, tenant_a, tmp_path, settings, delayed
):
    settings.KASSA_STORAGE_URL = f"file://{tmp_path / 'storage'}"
    settings.KASSA_STORAGE_URLS = {}
    out = tmp_path / "export.zip"

    call_command("export_tenant", tenant_a.slug, "--out", str(out), stdout=io.StringIO())

    with tenant_context(tenant_a):
        export = Export.objects.get()
    assert export.status == Export.Status.DONE and export.requested_by_id == cast_a["owner"].pk
    assert export.download_count == 0  # writing --out is not a download
    assert delayed == []  # run by the command, not by a worker
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    with zipfile.ZipFile(out) as archive:
        assert "manifest.json" in archive.namelist()


@transactional
def test_no_decrypted_zip_survives_a_failed_or_killed_export(cast_a, tenant_a, settings, tmp_path):
    """The ZIP is built in the job's own folder: emptied when the job starts again after a
    killed worker, and removed when it fails (here: the storage cannot be written)."""
    settings.KASSA_WORK_DIR = tmp_path / "work"
    (tmp_path / "not-a-folder").write_bytes(b"")
    settings.KASSA_STORAGE_URL = f"file://{tmp_path / 'not-a-folder' / 'storage'}"
    with tenant_context(tenant_a):
        export = services.export_create(actor=cast_a["owner"], kind="full", enqueue=False)
    folder = services.export_work_folder(tenant_a.pk, export.pk)
    folder.mkdir(parents=True)
    (folder / "export-killed.zip").write_bytes(b"PK what a killed worker left")

    with pytest.raises(Exception):  # noqa: B017 - whatever the storage raises
        services.export_run(tenant=tenant_a, export_id=export.pk)

    assert not folder.exists()
    assert list((tmp_path / "work").rglob("*.zip")) == []
    with tenant_context(tenant_a):
        assert Export.objects.get(pk=export.pk).status == Export.Status.FAILED
    settings.KASSA_STORAGE_URL = f"file://{tmp_path / 'storage'}"
    with tenant_context(tenant_a):
        Export.objects.filter(pk=export.pk).update(status=Export.Status.QUEUED)
    folder.mkdir(parents=True)
    (folder / "export-killed.zip").write_bytes(b"PK what a killed worker left")
    assert services.export_run(tenant=tenant_a, export_id=export.pk).status == Export.Status.DONE
    assert list((tmp_path / "work").rglob("*")) == [tmp_path / "work" / str(tenant_a.pk)]
