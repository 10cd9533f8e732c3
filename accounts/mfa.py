"""MFA: TOTP devices (30 s, 6 digits, one step of tolerance, no replay) and backup codes."""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import BackupCode, PlatformTotpDevice, TotpDevice, User

BACKUP_CODE_COUNT = 10


class MfaError(Exception):
    pass


def _devices(user: User):
    """Tenant users' devices live in the tenant's table; platform staff's in the platform's."""
    return PlatformTotpDevice.objects if user.tenant_id is None else TotpDevice.objects


def has_device(user: User) -> bool:
    return _devices(user).filter(user=user, confirmed=True).exists()


def totp_enrol(*, user: User) -> TotpDevice | PlatformTotpDevice:
    """Start enrolment: an unconfirmed device with a new secret (replaces earlier unconfirmed ones)."""
    _devices(user).filter(user=user, confirmed=False).delete()
    return _devices(user).create(
        user=user, name="Authenticator", confirmed=False, secret=secrets.token_hex(20)
    )


def totp_uri(device: TotpDevice) -> str:
    from base64 import b32encode

    secret = b32encode(bytes.fromhex(device.secret)).decode().rstrip("=")
    issuer = settings.OTP_TOTP_ISSUER
    where = device.user.tenant.slug if device.user.tenant_id else "platform"
    label = quote(f"{issuer}:{device.user.username}@{where}")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": device.digits,
            "period": device.step,
        }
    )
    return f"otpauth://totp/{label}?{query}"


def totp_secret_base32(device: TotpDevice) -> str:
    from base64 import b32encode

    return b32encode(bytes.fromhex(device.secret)).decode().rstrip("=")


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").lower().encode()).hexdigest()


@transaction.atomic
def totp_confirm(*, user: User, device_id: int, otp: str) -> list[str]:
    """Confirm a device with a first code; return ten new backup codes (shown once; none for
    platform staff, whose recovery is an operator's `platform_mfa_reset`)."""
    devices = _devices(user)
    device = devices.select_for_update().filter(user=user, pk=device_id, confirmed=False).first()
    if device is None:
        raise MfaError("no such device awaiting confirmation")
    if not device.verify_token(otp):
        raise MfaError("the code is wrong")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    devices.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    return backup_codes_replace(user=user) if user.tenant_id is not None else []


def backup_codes_replace(*, user: User) -> list[str]:
    BackupCode.objects.filter(user=user).delete()
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(BACKUP_CODE_COUNT)]
    BackupCode.objects.bulk_create(
        [BackupCode(tenant_id=user.tenant_id, user=user, code_hash=_code_hash(c)) for c in codes]
    )
    return codes


def otp_verify(user: User, otp: str) -> bool:
    """A TOTP code of a confirmed device, or an unused backup code (then spent)."""
    otp = (otp or "").strip()
    device = _devices(user).filter(user=user, confirmed=True).first()
    if device is not None and otp.isdigit() and device.verify_token(otp):
        return True
    if user.tenant_id is None:
        return False  # platform staff have no backup codes
    spent = BackupCode.objects.filter(user=user, code_hash=_code_hash(otp), used_at__isnull=True).update(
        used_at=timezone.now()
    )
    return spent == 1


def mfa_reset(*, user: User) -> None:
    """Remove a user's devices and codes (an administrator's recovery for a lost phone:
    accounts.services.user_mfa_reset; for platform staff the `platform_mfa_reset` command)."""
    _devices(user).filter(user=user).delete()
    if user.tenant_id is not None:
        BackupCode.objects.filter(user=user).delete()


def platform_secrets_rewrap() -> int:
    """Wrap every platform device's data key with the current master key (rotate_master_key)."""
    from django.db import connection

    from tenants.crypto import platform_rewrap

    changed = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, secret FROM accounts_platformtotpdevice ORDER BY id")
        for device_id, blob in cursor.fetchall():
            rewrapped = platform_rewrap(bytes(blob))
            if rewrapped is not None:
                cursor.execute(
                    "UPDATE accounts_platformtotpdevice SET secret = %s WHERE id = %s", [rewrapped, device_id]
                )
                changed += 1
    return changed
