"""The Idempotency-Key records: stored with the request's own transaction, kept 24 hours."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from idempotency.models import IdempotencyRecord
from tenants import crypto
from tenants.context import require_tenant_id

RETENTION = timedelta(hours=24)


def record_find(*, key: str) -> IdempotencyRecord | None:
    """The current tenant's live record of `key`."""
    return IdempotencyRecord.objects.filter(key=key, expires_at__gt=timezone.now()).first()


def record_body(record: IdempotencyRecord):
    """The stored answer's body (JSON)."""
    return json.loads(record.response_body) if record.response_body is not None else None


def record_store(*, key: str, fingerprint: str, response_status: int, response_body) -> IdempotencyRecord:
    """Store the answer (one statement). For the holder of the key's lock that found no live
    record (idempotency.decorator): a row of the same key still there is expired, and replaced."""
    now = timezone.now()
    record = IdempotencyRecord(
        tenant_id=require_tenant_id(),
        key=key,
        fingerprint=fingerprint,
        response_status=response_status,
        response_body=json.dumps(response_body) if response_body is not None else None,
        created_at=now,
        expires_at=now + RETENTION,
    )
    IdempotencyRecord.objects.bulk_create(
        [record],
        update_conflicts=True,
        unique_fields=["tenant", "key"],
        update_fields=["fingerprint", "response_status", "response_body", "created_at", "expires_at"],
    )
    return record


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
