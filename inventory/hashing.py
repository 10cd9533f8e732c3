"""Keyed hashes of customer contact data, so a customer can be found without decrypting all."""

import hashlib
import hmac
import time
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tenants import crypto
from tenants.context import require_tenant_id
from tenants.models import TenantKey

_CACHE_SECONDS = 300
_keys: dict[UUID, tuple[bytes, float]] = {}


def _lookup_key(tenant_id: UUID) -> bytes:
    cached = _keys.get(tenant_id)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    # The oldest data key: hashes must stay stable when a newer data key is added, and they
    # die with the keys when the tenant is purged.
    first = TenantKey.objects.order_by("version").first()
    if first is None:
        raise crypto.DecryptionError("the tenant has no data key")
    _, data_key = crypto._data_key(tenant_id, first.version)
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"kassa:{tenant_id}:lookup-hash".encode()
    ).derive(data_key)
    _keys[tenant_id] = (key, time.monotonic() + _CACHE_SECONDS)
    return key


def normalise_email(email: str) -> str:
    return email.strip().lower()


def normalise_phone(phone: str) -> str:
    phone = phone.strip()
    digits = "".join(c for c in phone if c.isdigit())
    return ("+" if phone.startswith("+") else "") + digits


def lookup_hash(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of a normalised value under the current tenant's lookup key ('' for '')."""
    if not value:
        return ""
    key = _lookup_key(require_tenant_id())
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def email_hash(email: str | None) -> str:
    return lookup_hash(normalise_email(email or ""), purpose="email")


def phone_hash(phone: str | None) -> str:
    return lookup_hash(normalise_phone(phone or ""), purpose="phone")
