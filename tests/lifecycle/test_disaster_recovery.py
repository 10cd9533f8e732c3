"""Issue 15, item 4: a tenant rebuilt from its backup in storage and the master key alone."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import TotpDevice
from lifecycle.services.backups import keys_key
from lifecycle.services.purge import tenant_delete
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tenants.models import Tenant, TenantKey
from tests.conftest import DATABASES, PASSWORD, HttpsApiClient
from tests.lifecycle.conftest import backup_now, tenant_rows

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)


def test_a_tenant_the_database_lost_is_rebuilt_from_storage_with_equal_counts_and_checksums(
    chain, file_storage
):
    backup = backup_now(chain)
    source = {"id": chain.pk, "slug": chain.slug, "name": chain.name}
    rows_before = tenant_rows(chain)
    keys = json.loads((file_storage / keys_key(backup.object_key)).read_text())
    assert keys["tenant"] == str(chain.pk) and len(keys["data_keys"]) == 1
    with tenant_context(chain):
        stored = TenantKey.objects.get()
    # The key beside the backup is the wrapped one, never the data key itself.
    assert keys["data_keys"][0]["kek_id"] == stored.kek_id
    assert backup.manifest["data_keys"] == keys["data_keys"]
    # The database loses the tenant: rows, keys, backup records, domain, the tenant itself.
    with as_maintenance():
        tenant_delete(tenant=chain)
    assert not Tenant.objects.filter(pk=source["id"]).exists()
    url = f"file://{file_storage}/{backup.object_key}"

    out = io.StringIO()
    call_command("restore_tenant", "--from-storage", url, stdout=out)

    rebuilt = Tenant.objects.get(pk=source["id"])
    assert (rebuilt.slug, rebuilt.name, rebuilt.status) == (
        source["slug"],
        source["name"],
        Tenant.Status.ACTIVE,
    )
    again = backup_now(rebuilt)
    assert again.manifest["tables"] == backup.manifest["tables"]  # every table's rows and checksum
    for table, count in rows_before.items():
        if table not in ("tenants_tenantkey", "tenants_domain"):
            assert tenant_rows(rebuilt)[table] == count, table
    with tenant_context(rebuilt):
        assert TotpDevice.objects.get().secret  # an encrypted column decrypts with the restored key
    signed = HttpsApiClient().post(
        "/api/v1/auth/token/", {"tenant": rebuilt.slug, "username": "sam", "password": PASSWORD}
    )
    assert signed.status_code == 201, signed.content
    assert "rebuilt tenant alice-chain" in out.getvalue()
    # Again: the tenant exists now, so nothing is done.
    with pytest.raises(CommandError, match="exists here"):
        call_command("restore_tenant", "--from-storage", url, stdout=io.StringIO())


def test_a_rebuild_with_a_tampered_key_document_or_another_master_key_leaves_nothing(
    chain, file_storage, settings
):
    backup = backup_now(chain)
    with as_maintenance():
        tenant_delete(tenant=chain)
    url = f"file://{file_storage}/{backup.object_key}"
    path = file_storage / keys_key(backup.object_key)
    original = path.read_text()
    other = (
        backup_now(Tenant.objects.get(slug="bob-chain"))
        if Tenant.objects.filter(slug="bob-chain").exists()
        else None
    )
    assert other is None
    document = json.loads(original)
    document["data_keys"][0]["wrapped_key"] = document["data_keys"][0]["wrapped_key"][::-1]
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("restore_tenant", "--from-storage", url, stdout=io.StringIO())
    assert not Tenant.objects.filter(pk=chain.pk).exists()
    path.write_text(original)
    settings.KASSA_MASTER_KEY = "A" * 43  # another master key: the data key does not unwrap
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("restore_tenant", "--from-storage", url, stdout=io.StringIO())
    assert not Tenant.objects.filter(pk=chain.pk).exists()
    with pytest.raises(CommandError, match="backup object's URL"):
        call_command("restore_tenant", "--from-storage", "file:///nowhere/x.txt", stdout=io.StringIO())


def test_the_nightly_drill_checks_what_a_recovery_from_storage_needs(chain, file_storage):
    from lifecycle.models import RestoreDrill
    from lifecycle.services.drills import restore_drill_run

    backup = backup_now(chain)
    assert restore_drill_run(tenant=chain).status == RestoreDrill.Status.PASSED
    (file_storage / keys_key(backup.object_key)).unlink()  # the key document lost

    drill = restore_drill_run(tenant=chain)

    assert drill.status == RestoreDrill.Status.FAILED and "key document" in drill.detail
