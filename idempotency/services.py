"""The Idempotency-Key records: stored with the request's own transaction, kept 24 hours."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from idempotency.models import IdempotencyRecord
from tenants import crypto

RETENTION = timedelta(hours=24)


def record_find(*, key: str) -> IdempotencyRecord | None:
    """The current tenant's live record of `key`."""
    return IdempotencyRecord.objects.filter(key=key, expires_at__gt=timezone.now()).first()


def record_body(record: IdempotencyRecord):
    """The stored answer's body (JSON)."""
    return json.loads(record.response_body) if record.response_body is not None else None


def record_store(*, key: str, fingerprint: str, response_status: int, response_body) -> IdempotencyRecord:
    now = timezone.now()
    # An expired record of the same key may still be there; it no longer counts.
    IdempotencyRecord.objects.filter(key=key, expires_at__lte=now).delete()
    return IdempotencyRecord.objects.create(
        key=key,
        fingerprint=fingerprint,
        response_status=response_status,
        response_body=json.dumps(response_body) if response_body is not None else None,
        expires_at=now + RETENTION,
    )


def records_expired_delete() -> int:
    """Delete the current tenant's expired records."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def records_forget(*, cursor, tenant_id, customer_id) -> int:
    """Delete the tenant's stored answers that name the customer (a customer's erasure, in the
    caller's transaction, the tenant selected): a replay must not bring the erased data back.
    The bodies are encrypted, so each live one is read here; there are at most a day's."""
    purpose = IdempotencyRecord._meta.get_field("response_body").purpose
    cursor.execute(
        "SELECT id, response_body FROM kassa_idempotencyrecord WHERE tenant_id = %s AND response_body IS NOT NULL",
        [tenant_id],
    )
    wanted = str(customer_id)
    naming = [
        pk
        for pk, blob in cursor.fetchall()
        if wanted in crypto.decrypt(bytes(blob), purpose=purpose).decode()
    ]
    if naming:
        cursor.execute("DELETE FROM kassa_idempotencyrecord WHERE id = ANY(%s)", [naming])
    return len(naming)
