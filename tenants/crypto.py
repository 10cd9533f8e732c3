"""Envelope encryption: a master key wraps one data key per tenant; data keys encrypt data.

Ciphertext layout: b"\\x01" | data key version (4 bytes) | nonce (12 bytes) | AES-256-GCM output.
The associated data binds every ciphertext to its tenant and purpose, so a value cannot be
moved to another tenant or another field and still decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from tenants.context import NoTenantSelected, current_tenant_id
from tenants.models import TenantKey

FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
HEADER = struct.Struct(">cI")
DATA_KEY_CACHE_SECONDS = 300
# Which version is a tenant's newest, for `encrypt`: a rotation in another process is seen within
# this long (until then new data goes under the previous key, which still decrypts); in this
# process at once (`data_key_create` forgets it).
NEWEST_KEY_CACHE_SECONDS = 60
WRAP_AAD = b"kassa:data-key"


class DecryptionError(Exception):
    """The ciphertext is damaged, was made for another tenant or purpose, or its key is gone."""


def _aesgcm(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


# --- master keys -------------------------------------------------------------------------


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    secret: bytes


def _decode_key(text: str, origin: str) -> bytes:
    try:
        secret = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError:
        secret = b""
    if len(secret) != 32:
        from core.env import ConfigError

        raise ConfigError(f"{origin} must be 32 random bytes in URL-safe base64")
    return secret


def _master_key(secret: bytes) -> MasterKey:
    return MasterKey(hashlib.sha256(secret).hexdigest()[:16], secret)


def new_master_key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _key_file() -> Path | None:
    return getattr(settings, "KASSA_MASTER_KEY_FILE", None)


def previous_key_file(key_file: Path) -> Path:
    """Where the key file's predecessor waits while a rotation is under way."""
    return key_file.parent / f"{key_file.name}.previous"


def master_keys() -> tuple[MasterKey, list[MasterKey]]:
    """The current master key and the previous ones still accepted for unwrapping."""
    previous: list[MasterKey] = []
    key_file = _key_file()
    if settings.KASSA_MASTER_KEY:
        current = _master_key(_decode_key(settings.KASSA_MASTER_KEY, "KASSA_MASTER_KEY"))
        if settings.KASSA_MASTER_KEY_PREVIOUS:
            previous.append(
                _master_key(_decode_key(settings.KASSA_MASTER_KEY_PREVIOUS, "KASSA_MASTER_KEY_PREVIOUS"))
            )
    else:
        assert key_file is not None  # nosec B101 - settings guarantee one of the two
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.touch(mode=0o600)
            key_file.write_text(new_master_key_text())
        current = _master_key(_decode_key(key_file.read_text(), str(key_file)))
        previous_file = previous_key_file(key_file)
        if previous_file.exists():
            previous.append(_master_key(_decode_key(previous_file.read_text(), str(previous_file))))
    return current, previous


# --- AWS KMS as the key-encryption key (KASSA_KMS_KEY_ID) --------------------------------

KMS_PREFIX = "kms:"
KMS_CONTEXT = {"purpose": "kassa-data-key"}


def _kms():
    import boto3

    return boto3.client(
        "kms", region_name=settings.KASSA_KMS_REGION, endpoint_url=settings.KASSA_KMS_ENDPOINT_URL
    )


def _kms_kek_id(key_id: str) -> str:
    return KMS_PREFIX + hashlib.sha256(key_id.encode()).hexdigest()[:16]


def current_kek_id() -> str:
    """The id new data keys are wrapped under: the KMS key if configured, else the master key."""
    if settings.KASSA_KMS_KEY_ID:
        return _kms_kek_id(settings.KASSA_KMS_KEY_ID)
    return master_keys()[0].key_id


def wrap_data_key(data_key: bytes) -> tuple[str, bytes]:
    if settings.KASSA_KMS_KEY_ID:
        blob = _kms().encrypt(
            KeyId=settings.KASSA_KMS_KEY_ID, Plaintext=data_key, EncryptionContext=KMS_CONTEXT
        )
        return _kms_kek_id(settings.KASSA_KMS_KEY_ID), blob["CiphertextBlob"]
    current, _ = master_keys()
    nonce = os.urandom(NONCE_BYTES)
    return current.key_id, nonce + _aesgcm(current.secret).encrypt(nonce, data_key, WRAP_AAD)


def unwrap_data_key(kek_id: str, wrapped: bytes) -> bytes:
    if kek_id.startswith(KMS_PREFIX):
        from botocore.exceptions import ClientError

        try:  # the ciphertext names its KMS key; the context binds it to this use
            return _kms().decrypt(CiphertextBlob=wrapped, EncryptionContext=KMS_CONTEXT)["Plaintext"]
        except ClientError as error:
            raise DecryptionError(
                f"KMS refused to unwrap a data key: {error.response['Error']['Code']}"
            ) from None
    if not (settings.KASSA_MASTER_KEY or _key_file()):
        raise DecryptionError(f"master key {kek_id} is not configured")
    current, previous = master_keys()
    for master in (current, *previous):
        if master.key_id == kek_id:
            try:
                return _aesgcm(master.secret).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], WRAP_AAD)
            except InvalidTag:
                raise DecryptionError("a data key does not unwrap with its master key") from None
    raise DecryptionError(f"master key {kek_id} is not configured")


# --- data keys ---------------------------------------------------------------------------

_data_key_cache: dict[tuple[UUID, int], tuple[bytes, float]] = {}
_newest_version_cache: dict[str, tuple[int, float]] = {}


def data_key_create() -> TenantKey:
    """Create the next data key version for the current tenant; new data uses it from now on."""
    with transaction.atomic():
        latest = TenantKey.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0
        kek_id, wrapped = wrap_data_key(os.urandom(32))
        key = TenantKey.objects.create(version=latest + 1, kek_id=kek_id, wrapped_key=wrapped)
    _newest_version_cache.pop(str(key.tenant_id), None)
    return key


def data_keys_destroy() -> int:
    """Delete every data key of the current tenant: all its ciphertext becomes unreadable."""
    tenant_id = _require_tenant()
    deleted, _ = TenantKey.objects.all().delete()
    data_key_cache_forget(tenant_id)
    return deleted


def data_key_cache_forget(tenant_id) -> None:
    """Drop this process's cached copies of the tenant's data keys (after they were destroyed)."""
    for cached in [k for k in _data_key_cache if str(k[0]) == str(tenant_id)]:
        del _data_key_cache[cached]
    _newest_version_cache.pop(str(tenant_id), None)


def master_key_rewrap() -> int:
    """Wrap the current tenant's data keys with the current master key; return how many changed."""
    changed = 0
    for key in TenantKey.objects.exclude(kek_id=current_kek_id()):
        secret = unwrap_data_key(key.kek_id, bytes(key.wrapped_key))
        key.kek_id, key.wrapped_key = wrap_data_key(secret)
        key.save(update_fields=["kek_id", "wrapped_key"])
        changed += 1
    return changed


def _require_tenant() -> UUID:
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise NoTenantSelected("encryption needs a tenant")
    return tenant_id


def _data_key(tenant_id: UUID, version: int | None) -> tuple[int, bytes]:
    """The data key of this version, or the newest (None): from this process's cache while it is
    fresh (no round trip), else read and unwrapped."""
    now = time.monotonic()
    if version is None:
        newest = _newest_version_cache.get(str(tenant_id))
        if newest and newest[1] > now:
            cached = _data_key_cache.get((tenant_id, newest[0]))
            if cached and cached[1] > now:
                return newest[0], cached[0]
    else:
        cached = _data_key_cache.get((tenant_id, version))
        if cached and cached[1] > now:
            return version, cached[0]
    keys = TenantKey.objects.order_by("-version")
    key = keys.filter(version=version).first() if version is not None else keys.first()
    if key is None:
        raise DecryptionError("the tenant's data key does not exist (destroyed or never created)")
    secret = unwrap_data_key(key.kek_id, bytes(key.wrapped_key))
    _data_key_cache[(tenant_id, key.version)] = (secret, now + DATA_KEY_CACHE_SECONDS)
    if version is None:
        _newest_version_cache[str(tenant_id)] = (key.version, now + NEWEST_KEY_CACHE_SECONDS)
    return key.version, secret


def _aad(tenant_id: UUID, purpose: str) -> bytes:
    return f"kassa:{tenant_id}:{purpose}".encode()


def encrypt(plaintext: bytes, *, purpose: str) -> bytes:
    """Encrypt for the current tenant with its newest data key."""
    tenant_id = _require_tenant()
    version, key = _data_key(tenant_id, None)
    nonce = os.urandom(NONCE_BYTES)
    return (
        HEADER.pack(FORMAT_V1, version)
        + nonce
        + _aesgcm(key).encrypt(nonce, plaintext, _aad(tenant_id, purpose))
    )


def decrypt(blob: bytes, *, purpose: str) -> bytes:
    """Decrypt a value made by `encrypt` for the current tenant and the same purpose."""
    tenant_id = _require_tenant()
    blob = bytes(blob)
    if len(blob) < HEADER.size + NONCE_BYTES or blob[:1] != FORMAT_V1:
        raise DecryptionError("not a Kassa ciphertext")
    _, version = HEADER.unpack_from(blob)
    _, key = _data_key(tenant_id, version)
    nonce = blob[HEADER.size : HEADER.size + NONCE_BYTES]
    try:
        return _aesgcm(key).decrypt(nonce, blob[HEADER.size + NONCE_BYTES :], _aad(tenant_id, purpose))
    except InvalidTag:
        raise DecryptionError("ciphertext was altered or belongs to another tenant or purpose") from None


# --- platform secrets (no tenant) --------------------------------------------------------
#
# Platform staff belong to no tenant, so a tenant's data key cannot protect their secrets (TOTP
# seeds). Each platform secret gets a data key of its own, wrapped like a tenant's by the master
# key or KMS (`wrap_data_key`), so it works in every key mode, follows a master-key rotation
# (`platform_rewrap`) and needs no table of platform keys. Layout:
# b"\x02" | len(kek id) (1) | kek id | len(wrapped) (2) | wrapped data key | nonce (12) | AES-GCM,
# with the associated data `kassa:platform:<purpose>`.

FORMAT_PLATFORM = b"\x02"


def _platform_aad(purpose: str) -> bytes:
    return f"kassa:platform:{purpose}".encode()


def _platform_parts(blob: bytes) -> tuple[str, bytes, bytes]:
    """(kek id, wrapped data key, nonce + ciphertext) of a platform ciphertext."""
    try:
        if blob[:1] != FORMAT_PLATFORM:
            raise ValueError
        kek_length = blob[1]
        kek_id = blob[2 : 2 + kek_length].decode("ascii")
        at = 2 + kek_length
        (wrapped_length,) = struct.unpack_from(">H", blob, at)
        wrapped = blob[at + 2 : at + 2 + wrapped_length]
        rest = blob[at + 2 + wrapped_length :]
        if len(wrapped) != wrapped_length or len(rest) <= NONCE_BYTES:
            raise ValueError
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        raise DecryptionError("not a Kassa platform ciphertext") from None
    return kek_id, wrapped, rest


def _platform_pack(kek_id: str, wrapped: bytes, sealed: bytes) -> bytes:
    kek = kek_id.encode("ascii")
    return FORMAT_PLATFORM + bytes([len(kek)]) + kek + struct.pack(">H", len(wrapped)) + wrapped + sealed


def platform_encrypt(plaintext: bytes, *, purpose: str) -> bytes:
    """Encrypt a platform secret under a fresh data key wrapped by the master key (or KMS)."""
    data_key = os.urandom(32)
    kek_id, wrapped = wrap_data_key(data_key)
    nonce = os.urandom(NONCE_BYTES)
    return _platform_pack(
        kek_id, wrapped, nonce + _aesgcm(data_key).encrypt(nonce, plaintext, _platform_aad(purpose))
    )


def platform_decrypt(blob: bytes, *, purpose: str) -> bytes:
    kek_id, wrapped, sealed = _platform_parts(bytes(blob))
    data_key = unwrap_data_key(kek_id, wrapped)
    try:
        return _aesgcm(data_key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _platform_aad(purpose))
    except InvalidTag:
        raise DecryptionError("platform ciphertext was altered or belongs to another purpose") from None


def platform_rewrap(blob: bytes) -> bytes | None:
    """The same ciphertext with its data key wrapped by the current master key; None if it is."""
    kek_id, wrapped, sealed = _platform_parts(bytes(blob))
    if kek_id == current_kek_id():
        return None
    new_kek_id, new_wrapped = wrap_data_key(unwrap_data_key(kek_id, wrapped))
    return _platform_pack(new_kek_id, new_wrapped, sealed)


# --- the audit seals' key (auditlog.sealing) ----------------------------------------------

SEAL_INFO = b"kassa:audit-seal:v1"


def _seal_key(master: MasterKey) -> bytes:
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=SHA256(), length=32, salt=None, info=SEAL_INFO).derive(master.secret)


def seal_mac(message: bytes) -> tuple[str, str]:
    """(key id, hex HMAC-SHA256) of an audit seal: keyed outside the database, from the master key
    (HKDF) or an HMAC key in KMS (KASSA_SEAL_KMS_KEY_ID). The key is never stored in a table."""
    if settings.KASSA_SEAL_KMS_KEY_ID:
        answer = _kms().generate_mac(
            KeyId=settings.KASSA_SEAL_KMS_KEY_ID, Message=message, MacAlgorithm="HMAC_SHA_256"
        )
        return _kms_kek_id(settings.KASSA_SEAL_KMS_KEY_ID), answer["Mac"].hex()
    current = master_keys()[0]
    return current.key_id, hmac.new(_seal_key(current), message, hashlib.sha256).hexdigest()


def seal_mac_valid(message: bytes, *, key_id: str, mac: str) -> bool | None:
    """Whether `mac` is the seal MAC of `message` under `key_id`; None when that key is not here."""
    if settings.KASSA_SEAL_KMS_KEY_ID and key_id == _kms_kek_id(settings.KASSA_SEAL_KMS_KEY_ID):
        client = _kms()
        try:
            answer = client.verify_mac(
                KeyId=settings.KASSA_SEAL_KMS_KEY_ID,
                Message=message,
                Mac=bytes.fromhex(mac),
                MacAlgorithm="HMAC_SHA_256",
            )
        except (client.exceptions.KMSInvalidMacException, ValueError):
            return False
        return bool(answer["MacValid"])
    if settings.KASSA_MASTER_KEY or _key_file():
        current, previous = master_keys()
        for master in (current, *previous):
            if master.key_id == key_id:
                expected = hmac.new(_seal_key(master), message, hashlib.sha256).hexdigest()
                return hmac.compare_digest(expected, mac)
    return None
