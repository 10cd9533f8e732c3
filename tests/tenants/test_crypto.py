import pytest
from django.core.management import call_command

from tenants import crypto
from tenants.models import TenantKey


def test_encrypt_round_trip_without_storing_the_key_in_clear(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        blob = crypto.encrypt(b"anna@example.com", purpose="customer.email")
        assert b"anna@example.com" not in blob
        assert crypto.decrypt(blob, purpose="customer.email") == b"anna@example.com"
        key = TenantKey.objects.get()
        _version, secret = crypto._data_key(tenant_a.pk, key.version)
        assert secret not in bytes(key.wrapped_key)
        assert len(secret) == 32


def test_ciphertext_is_bound_to_tenant_and_purpose(tenant_a, tenant_b, as_tenant):
    with as_tenant(tenant_a):
        blob = crypto.encrypt(b"secret", purpose="customer.email")
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(blob, purpose="customer.phone")
    with as_tenant(tenant_b), pytest.raises(crypto.DecryptionError):
        crypto.decrypt(blob, purpose="customer.email")


def test_a_flipped_byte_is_detected(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        blob = bytearray(crypto.encrypt(b"secret", purpose="p"))
        blob[-1] ^= 1
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(bytes(blob), purpose="p")


def test_rotated_data_key_still_decrypts_old_values(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        old = crypto.encrypt(b"before", purpose="p")
        crypto.data_key_create()
        new = crypto.encrypt(b"after", purpose="p")
        assert old[1:5] != new[1:5]
        assert crypto.decrypt(old, purpose="p") == b"before"
        assert crypto.decrypt(new, purpose="p") == b"after"


def test_destroyed_data_keys_make_ciphertext_unreadable(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        blob = crypto.encrypt(b"gone", purpose="p")
        assert crypto.data_keys_destroy() == 1
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(blob, purpose="p")


def test_rotate_master_key_rewraps_every_tenants_data_key(tenant_a, tenant_b, as_tenant, settings, tmp_path):
    settings.KASSA_MASTER_KEY = None
    settings.KASSA_MASTER_KEY_FILE = tmp_path / "master.key"
    crypto._data_key_cache.clear()
    with as_tenant(tenant_a):
        # Re-wrap under this test's key file first (the fixture used the session's key).
        TenantKey.objects.all().delete()
        crypto.data_key_create()
        blob = crypto.encrypt(b"kept", purpose="p")
        old_kek = TenantKey.objects.get().kek_id
    with as_tenant(tenant_b):
        TenantKey.objects.all().delete()
        crypto.data_key_create()
    call_command("rotate_master_key", "--generate")
    assert not (tmp_path / "master.key.previous").exists()
    crypto._data_key_cache.clear()
    with as_tenant(tenant_a):
        assert TenantKey.objects.get().kek_id != old_kek
        assert crypto.decrypt(blob, purpose="p") == b"kept"


def test_master_key_from_environment_must_be_32_bytes(settings):
    from core.env import ConfigError

    settings.KASSA_MASTER_KEY = "too-short"
    with pytest.raises(ConfigError, match="KASSA_MASTER_KEY"):
        crypto.master_keys()


def test_the_newest_data_key_is_cached_and_a_rotation_elsewhere_is_seen_within_its_time(
    tenant_a, as_tenant, django_assert_num_queries
):
    with as_tenant(tenant_a):
        first = crypto.encrypt(b"one", purpose="p")
        with django_assert_num_queries(0):  # the newest key from this process's cache
            again = crypto.encrypt(b"two", purpose="p")
        assert first[1:5] == again[1:5]
        # Another process rotates the key (this process's cache does not hear of it).
        newest = TenantKey.objects.get()
        kek_id, wrapped = crypto.wrap_data_key(b"k" * 32)
        TenantKey.objects.create(version=newest.version + 1, kek_id=kek_id, wrapped_key=wrapped)
        assert crypto.encrypt(b"three", purpose="p")[1:5] == first[1:5]  # the old key still decrypts
        version, expires = crypto._newest_version_cache[str(tenant_a.pk)]
        crypto._newest_version_cache[str(tenant_a.pk)] = (version, expires - crypto.NEWEST_KEY_CACHE_SECONDS)
        rotated = crypto.encrypt(b"four", purpose="p")  # the entry's time is up
        assert int.from_bytes(rotated[1:5], "big") == newest.version + 1
        assert crypto.decrypt(rotated, purpose="p") == b"four"
        assert crypto.decrypt(first, purpose="p") == b"one"
        # Destroyed in this process: forgotten at once.
        crypto.data_keys_destroy()
        with pytest.raises(crypto.DecryptionError):
            crypto.encrypt(b"five", purpose="p")
