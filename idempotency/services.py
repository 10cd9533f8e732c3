"""The Idempotency-Key records: stored with the request's own transaction, kept 24 hours."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from idempotency.models import IdempotencyRecord

RETENTION = timedelta(hours=24)


def record_find(*, key: str) -> IdempotencyRecord | None:
    """The current tenant's live record of `key`."""
    return IdempotencyRecord.objects.filter(key=key, expires_at__gt=timezone.now()).first()


def record_store(*, key: str, fingerprint: str, response_status: int, response_body) -> IdempotencyRecord:
    now = timezone.now()
    # An expired record of the same key may still be there; it no longer counts.
    IdempotencyRecord.objects.filter(key=key, expires_at__lte=now).delete()
    return IdempotencyRecord.objects.create(
        key=key,
        fingerprint=fingerprint,
        response_status=response_status,
        response_body=response_body,
        expires_at=now + RETENTION,
    )


def records_expired_delete() -> int:
    """Delete the current tenant's expired records."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def records_forget(*, cursor, tenant_id, pattern: str) -> int:
    """Delete the tenant's stored answers whose body matches `pattern` (a customer's erasure, in
    the caller's owner transaction): a replay must not bring the erased data back."""
    cursor.execute(
        "DELETE FROM kassa_idempotencyrecord WHERE tenant_id = %s AND response_body::text ~* %s",
        [tenant_id, pattern],
    )
    return cursor.rowcount
