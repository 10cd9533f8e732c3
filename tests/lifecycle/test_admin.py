from lifecycle.models import Backup, RestoreDrill
from tests.inventory.test_admin import get, post, signed_in


def test_the_owner_starts_a_backup_from_the_admin_and_sees_only_the_chains_backups(cast_a, tenant_b):
    foreign = Backup.objects.create(tenant=tenant_b, region="local")
    client = signed_in(cast_a["owner"])
    assert get(client, "/admin/lifecycle/backup/add/").status_code == 200
    response = post(client, "/admin/lifecycle/backup/add/", {})
    assert response.status_code == 302
    mine = Backup.objects.filter(tenant=cast_a["owner"].tenant)
    assert mine.count() == 1 and mine.get().status == Backup.Status.QUEUED
    listing = get(client, "/admin/lifecycle/backup/")
    assert str(mine.get().pk) in listing.content.decode() or listing.status_code == 200
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
    drill = RestoreDrill.objects.create(tenant=tenant_b, status=RestoreDrill.Status.PASSED)
    client = signed_in(cast_a["owner"])
    assert get(client, f"/admin/lifecycle/restoredrill/{drill.pk}/change/").status_code == 404
