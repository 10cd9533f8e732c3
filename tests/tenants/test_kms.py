"""Data keys wrapped by AWS KMS (KASSA_KMS_KEY_ID), against moto's KMS."""

import io

import boto3
import pytest
from django.core.management import call_command
from moto import mock_aws

from tenants import crypto
from tenants.models import TenantKey
from tests.conftest import make_tenant


@pytest.fixture
def kms(settings, monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("kms", region_name="eu-north-1")
        key_id = client.create_key(Description="kassa test")["KeyMetadata"]["KeyId"]
        settings.KASSA_KMS_REGION = "eu-north-1"
        crypto._data_key_cache.clear()
        yield client, key_id
    crypto._data_key_cache.clear()


def test_a_new_tenants_data_key_is_wrapped_by_kms(kms, settings, db, as_tenant):
    _, key_id = kms
    settings.KASSA_KMS_KEY_ID = key_id
    tenant = make_tenant("kms-chain")
    with as_tenant(tenant):
        key = TenantKey.objects.get()
        assert key.kek_id.startswith("kms:")
        blob = crypto.encrypt(b"secret", purpose="p")
        crypto._data_key_cache.clear()
        assert crypto.decrypt(blob, purpose="p") == b"secret"


def test_rotating_from_the_master_key_to_kms(kms, settings, db, as_tenant, tmp_path):
    _, key_id = kms
    settings.KASSA_MASTER_KEY = None
    settings.KASSA_MASTER_KEY_FILE = tmp_path / "master.key"
    tenant = make_tenant("moving-chain")
    with as_tenant(tenant):
        blob = crypto.encrypt(b"kept", purpose="p")
    settings.KASSA_KMS_KEY_ID = key_id
    out = io.StringIO()
    call_command("rotate_master_key", stdout=out)
    assert "1 data keys re-wrapped with key kms:" in out.getvalue()
    settings.KASSA_MASTER_KEY_FILE = None  # the old master key is gone: only KMS can unwrap now
    crypto._data_key_cache.clear()
    with as_tenant(tenant):
        assert TenantKey.objects.get().kek_id.startswith("kms:")
        assert crypto.decrypt(blob, purpose="p") == b"kept"


def test_a_data_key_kms_does_not_recognise_is_refused(kms, settings, db, as_tenant):
    _, key_id = kms
    settings.KASSA_KMS_KEY_ID = key_id
    tenant = make_tenant("gone-chain")
    with as_tenant(tenant):
        blob = crypto.encrypt(b"secret", purpose="p")
        wrapped = bytearray(TenantKey.objects.get().wrapped_key)
        wrapped[-1] ^= 1
        TenantKey.objects.update(wrapped_key=bytes(wrapped))
        crypto._data_key_cache.clear()
        with pytest.raises(crypto.DecryptionError, match="KMS refused"):
            crypto.decrypt(blob, purpose="p")


def test_audit_seals_are_keyed_by_an_hmac_key_in_kms(kms, settings):
    client, _ = kms
    mac_key = client.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    settings.KASSA_SEAL_KMS_KEY_ID = mac_key
    key_id, mac = crypto.seal_mac(b"h|1|platform")
    assert key_id.startswith("kms:") and len(mac) == 64
    assert crypto.seal_mac_valid(b"h|1|platform", key_id=key_id, mac=mac) is True
    assert crypto.seal_mac_valid(b"h|2|platform", key_id=key_id, mac=mac) is False
    assert crypto.seal_mac_valid(b"h|1|platform", key_id="kms:0000", mac=mac) in (None, False)
