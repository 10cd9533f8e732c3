"""MFA: TOTP devices (30 s, 6 digits, one step of tolerance, no replay) and backup codes."""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import BackupCode, TotpDevice, User

BACKUP_CODE_COUNT = 10


class MfaError(Exception):
    pass


def has_device(user: User) -> bool:
    if user.tenant_id is None:
        return False  # platform staff: devices live in tenant tables; see docs (left to do)
    return TotpDevice.objects.filter(user=user, confirmed=True).exists()


def totp_enrol(*, user: User) -> TotpDevice:
    """Start enrolment: an unconfirmed device with a new secret (replaces earlier unconfirmed ones)."""
    TotpDevice.objects.filter(user=user, confirmed=False).delete()
    return TotpDevice.objects.create(
        user=user, name="Authenticator", confirmed=False, secret=secrets.token_hex(20)
    )


def totp_uri(device: TotpDevice) -> str:
    from base64 import b32encode

    secret = b32encode(bytes.fromhex(device.secret)).decode().rstrip("=")
    issuer = settings.OTP_TOTP_ISSUER
    label = quote(f"{issuer}:{device.user.username}@{device.user.tenant.slug}")
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
    """Confirm a device with a first code; return ten new backup codes (shown once)."""
    device = TotpDevice.objects.select_for_update().filter(user=user, pk=device_id, confirmed=False).first()
    if device is None:
        raise MfaError("no such device awaiting confirmation")
    if not device.verify_token(otp):
        raise MfaError("the code is wrong")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TotpDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    return backup_codes_replace(user=user)


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
    device = TotpDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None and otp.isdigit() and device.verify_token(otp):
        return True
    spent = BackupCode.objects.filter(user=user, code_hash=_code_hash(otp), used_at__isnull=True).update(
        used_at=timezone.now()
    )
    return spent == 1


def mfa_reset(*, user: User) -> None:
    """Remove a user's devices and codes (an administrator's recovery for a lost phone)."""
    TotpDevice.objects.filter(user=user).delete()
    BackupCode.objects.filter(user=user).delete()
