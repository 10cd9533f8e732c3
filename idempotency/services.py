"""The Idempotency-Key records: stored with the request's own transaction, kept 24 hours."""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from idempotency.models import IdempotencyRecord
from tenants import crypto
from tenants.context import require_tenant_id
from tenants.rows import prepared, row_built

RETENTION = timedelta(hours=24)


COLUMNS = tuple(field.attname for field in IdempotencyRecord._meta.concrete_fields)


def _statements() -> tuple[str, str]:
    table = connection.ops.quote_name(IdempotencyRecord._meta.db_table)
    columns = ", ".join(COLUMNS)
    # The table's name from the model; every value goes as a parameter.
    find = f"SELECT {columns} FROM {table} WHERE tenant_id = %s AND key = %s AND expires_at > %s"  # noqa: S608
    store = (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "  # noqa: S608
        "ON CONFLICT (tenant_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
        "response_status = EXCLUDED.response_status, response_body = EXCLUDED.response_body, "
        "created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at"
    )
    return prepared(find), prepared(store)


# Written once: on every POST with a key, one look and (after a success) one store. The ORM
# compiled both on each request (~0.4 ms of a sale's CPU in process; bench/RESULTS.md, fifth pass);
# prepared once per connection, so the database does not plan them each time either.
FIND_SQL, STORE_SQL = _statements()


def record_find(*, key: str) -> IdempotencyRecord | None:
    """The current tenant's live record of `key` (the body decrypted only if there is one)."""
    with connection.cursor() as cursor:
        cursor.execute(FIND_SQL, [require_tenant_id(), key, timezone.now()])
        row = cursor.fetchone()
    return row_built(IdempotencyRecord, dict(zip(COLUMNS, row, strict=True))) if row is not None else None


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
    body = IdempotencyRecord._meta.get_field("response_body").get_db_prep_value(
        record.response_body, connection
    )
    with connection.cursor() as cursor:
        values = {name: getattr(record, name) for name in COLUMNS}
        cursor.execute(STORE_SQL, [body if name == "response_body" else values[name] for name in COLUMNS])
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
