import os

import pytest

from core.storage import (
    FileStorage,
    S3Storage,
    StorageError,
    WrongRegion,
    storage_for_region,
    storage_for_tenant,
    storage_from_url,
)
from tenants.models import Tenant

TENANT = Tenant(slug="alice-chain", region="local")
PREFIX = f"tenants/{TENANT.pk}/"


@pytest.fixture(params=["file", "s3"])
def storage(request, tmp_path):
    if request.param == "file":
        return storage_from_url(f"file://{tmp_path}/objects", region="local")
    bucket = request.getfixturevalue("s3_bucket")
    return storage_from_url(f"s3://{bucket}/kassa", region="local")


def chunks(total: int, size: int = 1024 * 1024):
    data = os.urandom(total)
    return data, [data[i : i + size] for i in range(0, total, size)]


def test_an_object_goes_in_and_comes_back_in_chunks(storage):
    data, parts = chunks(9 * 1024 * 1024 + 17)  # more than one S3 part

    assert storage.put(f"{PREFIX}backups/one.kbk", iter(parts), tenant=TENANT) == len(data)

    read = list(storage.get(f"{PREFIX}backups/one.kbk"))
    assert b"".join(read) == data
    assert max(len(chunk) for chunk in read) <= 1024 * 1024


def test_exists_list_rename_and_delete(storage):
    storage.put(f"{PREFIX}tmp/a.partial", [b"a"], tenant=TENANT)
    storage.put(f"{PREFIX}backups/b.kbk", [b"b"], tenant=TENANT)

    storage.rename(f"{PREFIX}tmp/a.partial", f"{PREFIX}backups/a.kbk", tenant=TENANT)

    assert sorted(storage.list(PREFIX)) == [f"{PREFIX}backups/a.kbk", f"{PREFIX}backups/b.kbk"]
    assert list(storage.list(f"{PREFIX}backups/a")) == [f"{PREFIX}backups/a.kbk"]
    assert storage.exists(f"{PREFIX}backups/a.kbk") and not storage.exists(f"{PREFIX}tmp/a.partial")
    storage.delete(f"{PREFIX}backups/a.kbk")
    storage.delete(f"{PREFIX}backups/b.kbk")
    assert list(storage.list(PREFIX)) == []
    with pytest.raises(StorageError):
        b"".join(storage.get(f"{PREFIX}backups/a.kbk"))


def test_writing_for_a_tenant_of_another_region_is_refused(storage):
    north = Tenant(slug="north-chain", region="eu-north")

    with pytest.raises(WrongRegion):
        storage.put(f"tenants/{north.pk}/backups/x.kbk", [b"x"], tenant=north)
    assert list(storage.list(f"tenants/{north.pk}/")) == []


def test_an_object_outside_the_tenants_prefix_is_refused(storage):
    with pytest.raises(StorageError):
        storage.put("tenants/someone-else/x.kbk", [b"x"], tenant=TENANT)


def test_s3_objects_are_written_with_server_side_encryption(s3_bucket):
    storage = storage_from_url(f"s3://{s3_bucket}", region="local")
    storage.put(f"{PREFIX}backups/sse.kbk", [b"secret bytes"], tenant=TENANT)

    head = storage.client.head_object(Bucket=s3_bucket, Key=f"{PREFIX}backups/sse.kbk")
    assert head["ServerSideEncryption"] == "AES256"


def test_each_region_has_its_own_storage_and_a_tenant_only_its_own(settings, tmp_path, s3_bucket):
    settings.KASSA_STORAGE_URL = f"file://{tmp_path}/local"
    settings.KASSA_STORAGE_URLS = {"eu-north": f"s3://{s3_bucket}"}

    assert isinstance(storage_for_region("local"), FileStorage)
    assert isinstance(storage_for_region("eu-north"), S3Storage)
    assert isinstance(storage_for_tenant(TENANT), FileStorage)
    with pytest.raises(WrongRegion):
        storage_for_tenant(Tenant(slug="north-chain", region="eu-north"))  # not this deployment's region
    with pytest.raises(WrongRegion):
        storage_for_region("ap-south")


def test_a_file_key_cannot_climb_out_of_the_storage_root(tmp_path):
    storage = storage_from_url(f"file://{tmp_path}/objects", region="local")

    with pytest.raises(StorageError):
        storage.put(f"{PREFIX}../../../escape", [b"x"], tenant=TENANT)


def test_an_audit_anchor_is_written_once_on_s3_and_locked_where_asked(s3_bucket, settings, s3_server):
    import boto3

    from core.storage import S3Storage

    client = boto3.client("s3", endpoint_url=s3_server)
    locked = f"{s3_bucket}-locked"
    client.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    settings.KASSA_S3_OBJECT_LOCK_DAYS = 30
    storage = S3Storage(url=f"s3://{locked}", region=settings.KASSA_REGION)
    assert storage.put_once("platform/audit/anchors/000000000001.json", b'{"n": 1}') is True
    assert storage.put_once("platform/audit/anchors/000000000001.json", b'{"n": 2}') is False
    assert b"".join(storage.get("platform/audit/anchors/000000000001.json")) == b'{"n": 1}'
    head = client.head_object(Bucket=locked, Key="platform/audit/anchors/000000000001.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(Exception):  # noqa: B017 - S3 refuses, whatever its error class
        client.delete_object(
            Bucket=locked,
            Key="platform/audit/anchors/000000000001.json",
            VersionId=head["VersionId"],
        )
