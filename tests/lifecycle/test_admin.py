from lifecycle import tasks
from lifecycle.models import Backup, RestoreDrill
from lifecycle.services.backups import backup_record
from tenants.maintenance import as_maintenance
from tests.inventory.test_admin import get, post, signed_in


def test_the_owner_starts_a_backup_from_the_admin_and_sees_only_the_chains_backups(
    cast_a, tenant_b, monkeypatch, django_capture_on_commit_callbacks
):
    tenant = cast_a["owner"].tenant
    with as_maintenance():
        foreign = Backup.objects.create(tenant=tenant_b, region="local")
    sent = []
    monkeypatch.setattr(tasks.backup_run_task, "delay", lambda *args, record: sent.append((*args, record)))
    client = signed_in(cast_a["owner"])
    assert get(client, "/admin/lifecycle/backup/add/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, "/admin/lifecycle/backup/add/", {})
    assert response.status_code == 302
    # The web writes no backup record: it asks the privileged worker, which records and runs it.
    assert not Backup.objects.filter(tenant=tenant).exists()
    [(tenant_id, backup_id, record)] = sent
    assert (tenant_id, record) == (str(tenant.pk), True)
    backup_record(tenant=tenant, backup_id=backup_id)  # what the privileged task does first
    mine = Backup.objects.filter(tenant=tenant)
    assert mine.count() == 1 and mine.get().status == Backup.Status.QUEUED and str(mine.get().pk) == backup_id
    listing = get(client, "/admin/lifecycle/backup/")
    assert listing.status_code == 200 and backup_id in listing.content.decode()
    assert get(client, f"/admin/lifecycle/backup/{foreign.pk}/change/").status_code == 404


def test_an_auditor_sees_backups_and_drills_but_cannot_start_one(cast_a):
    client = signed_in(cast_a["auditor"])
    assert get(client, "/admin/lifecycle/backup/").status_code == 200
    assert get(client, "/admin/lifecycle/restoredrill/").status_code == 200
    assert post(client, "/admin/lifecycle/backup/add/", {}).status_code == 403
    assert not Backup.objects.exists()


def test_a_cashier_sees_no_backups(cast_a):
    client = signed_in(cast_a["cashier"])
    assert get(client, "/admin/lifecycle/backup/").status_code == 403
    assert get(client, "/admin/lifecycle/restoredrill/").status_code == 403


def test_another_tenants_drill_is_not_found(cast_a, tenant_b):
    with as_maintenance():
        drill = RestoreDrill.objects.create(tenant=tenant_b, status=RestoreDrill.Status.PASSED)
    client = signed_in(cast_a["owner"])
    assert get(client, f"/admin/lifecycle/restoredrill/{drill.pk}/change/").status_code == 404
