"""A full export holds every row of every entity, no secret, and is stored encrypted."""

import json
from pathlib import Path

from django.db import connections

from exports.catalogue import EXCLUDED_TABLES
from tenants.catalogue import tenant_table_names
from tenants.context import tenant_context
from tenants.rls import PLATFORM_TABLES
from tests.conftest import transactional
from tests.exports.conftest import export_bytes, run_export, unzip

pytestmark = transactional


def test_a_full_export_holds_every_row_of_every_entity(shop_a, cast_a, tenant_a):
    export = run_export(tenant_a, cast_a["owner"])
    assert export.status == "done" and export.progress == 100
    files = unzip(export_bytes(tenant_a, export))
    manifest = json.loads(files["manifest.json"])
    with tenant_context(tenant_a), connections["owner"].cursor() as cursor:
        for table in tenant_table_names():
            if table in PLATFORM_TABLES:  # the tenant's host names: platform records
                continue
            if table in EXCLUDED_TABLES:
                assert f"{table}.jsonl" not in files
                continue
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE tenant_id = %s', [tenant_a.pk])
            in_database = cursor.fetchone()[0]
            lines = files[f"{table}.jsonl"].splitlines()
            if table == "auditlog_change":  # the export's own progress, logged after its snapshot
                cursor.execute(
                    "SELECT count(*) FROM auditlog_change WHERE tenant_id = %s AND object_id = %s",
                    [tenant_a.pk, str(export.pk)],
                )
                own = cursor.fetchone()[0]
                in_snapshot = sum(1 for line in lines if json.loads(line)["object_id"] == str(export.pk))
                in_database -= own - in_snapshot
            csv_rows = files[f"{table}.csv"].decode().count("\r\n") - 1
            assert len(lines) == in_database == manifest["entities"][table]["rows"], table
            assert csv_rows >= in_database, table
    assert manifest["entities"]["inventory_product"]["rows"] == 3
    assert "README.md" in files and "inventory_product" in files["README.md"].decode()
    customers = [json.loads(line) for line in files["inventory_customer.jsonl"].splitlines()]
    assert customers[0]["email"] == "zelda.q@example.org"  # decrypted for the chain


def test_a_full_export_contains_no_secret(shop_a, cast_a, tenant_a):
    from accounts.models import ApiToken, BackupCode, TotpDevice, User
    from tenants import crypto
    from tenants.models import TenantKey

    owner = cast_a["owner"]
    with tenant_context(tenant_a):
        device = TotpDevice.objects.create(
            user=owner, name="phone", secret="3132333435363738393031323334353637383930"
        )
        BackupCode.objects.create(user=owner, code_hash="b" * 64)
    export = run_export(tenant_a, owner)
    content = b"".join(unzip(export_bytes(tenant_a, export)).values())
    with tenant_context(tenant_a):
        secrets = [user.password for user in User.objects.all()]
        secrets += [token.token_hash for token in ApiToken.objects.all()]
        secrets += [device.secret, "b" * 64]
        for key in TenantKey.objects.all():
            secrets += [bytes(key.wrapped_key).hex(), crypto._data_key(tenant_a.pk, key.version)[1].hex()]
    assert len(secrets) > 8
    for secret in secrets:
        assert secret.encode() not in content


def test_the_stored_file_is_encrypted(shop_a, cast_a, tenant_a, file_storage):
    export = run_export(tenant_a, cast_a["owner"])
    stored = (Path(file_storage) / export.object_key).read_bytes()
    assert export.object_key.startswith(f"tenants/{tenant_a.pk}/exports/")
    # Markers long enough not to turn up in random ciphertext (a 3-byte one, b"sku", did in one CI run).
    for plain in (b"PK\x03\x04", b"manifest.json", b"inventory_product", b"SKU-1"):
        assert plain not in stored, plain
    assert len(stored) == export.size_bytes


def test_the_stored_file_keeps_the_chunk_layout_of_earlier_exports(cast_a, tenant_a, file_storage):
    from tests.tenants.test_chunks import layout_read

    export = run_export(tenant_a, cast_a["owner"])
    stored = (Path(file_storage) / export.object_key).read_bytes()

    chunks = layout_read(stored, tenant=tenant_a, kind="export", object_id=export.pk)
    assert b"".join(chunks) == export_bytes(tenant_a, export)
    assert "manifest.json" in unzip(b"".join(chunks))


def test_csv_cells_cannot_run_as_formulas(shop_a, cast_a, tenant_a):
    export = run_export(tenant_a, cast_a["owner"], kind="products")
    files = unzip(export_bytes(tenant_a, export))
    csv_text = files["inventory_product.csv"].decode()
    assert "'=cmd|' /C calc'!A0" in csv_text
    assert ",=cmd" not in csv_text
    assert set(json.loads(files["manifest.json"])["entities"]) == {
        "inventory_product",
        "inventory_category",
        "inventory_supplier",
    }
