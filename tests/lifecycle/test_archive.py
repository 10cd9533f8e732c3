"""The backup file's layout stays readable: records, zlib, then the tenant's encrypted chunks."""

import json
import os
import struct
import uuid
import zlib

import pytest

from core.storage import storage_for_tenant
from lifecycle import archive
from lifecycle.services.backups import backup_create, backup_run
from tests.conftest import DATABASES
from tests.tenants.test_chunks import layout_frames, layout_read


def records_bytes(records) -> bytes:
    return b"".join(struct.pack(">cI", kind, len(payload)) + payload for kind, payload in records)


def test_a_backup_file_in_the_stored_layout_is_read(tenant_a):
    backup_id = uuid.uuid4()
    records = [
        (archive.HEADER, archive.header_record("tenants_store", ["id", "name"])),
        *[(archive.DATA, os.urandom(300_000)) for _ in range(8)],  # incompressible: several chunks
        (archive.END, b""),
        (archive.MANIFEST, json.dumps({"backup": str(backup_id)}).encode()),
    ]
    compressed = zlib.compress(records_bytes(records), 3)
    stored = layout_frames(compressed, tenant=tenant_a, kind="backup", object_id=backup_id)
    assert len(stored) > 2

    assert list(archive.read_records(stored, tenant=tenant_a, backup_id=backup_id)) == records
    with pytest.raises(archive.ArchiveError, match="chunk 1 does not decrypt"):
        list(archive.read_records([stored[0], stored[2]], tenant=tenant_a, backup_id=backup_id))


@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_a_backup_is_stored_in_that_layout(chain):
    backup = backup_run(tenant=chain, backup_id=backup_create(tenant=chain, enqueue=False).pk)
    stored = b"".join(storage_for_tenant(chain).get(backup.object_key))

    plaintext = b"".join(layout_read(stored, tenant=chain, kind="backup", object_id=backup.pk))
    data, records, offset = zlib.decompress(plaintext), [], 0
    while offset < len(data):
        kind, size = struct.unpack_from(">cI", data, offset)
        records.append((kind, data[offset + 5 : offset + 5 + size]))
        offset += 5 + size
    assert records[0][0] == archive.HEADER and json.loads(records[0][1])["table"]
    assert records[-1][0] == archive.MANIFEST and json.loads(records[-1][1]) == backup.manifest
    assert len([r for r in records if r[0] == archive.END]) == len(backup.manifest["tables"])
