"""The outbox: `events_emit` writes events and their deliveries inside the caller's transaction.

Services call it with what happened (`[(kind, payload), ...]`); it is one statement whatever the
number of events or endpoints: the events are inserted only when an active endpoint of the
tenant subscribes to their kind, with one `Delivery` per such endpoint, so a tenant without
webhooks pays one cheap statement and stores nothing. The event exists exactly when the change
committed (it rolls back with it). After the commit each endpoint is woken once, however many
events the transaction emitted (`integrations.tasks.endpoint_wake`: a drain is queued unless one
is queued and has not started, so a busy till queues one drain for many sales).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from uuid6 import uuid7

from integrations.models import EVENT_KINDS, PING
from tenants.context import require_tenant_id
from tenants.rows import prepared

EMIT_SQL = prepared("""
WITH input AS (
    SELECT (i.event->>'id')::uuid AS id, i.event->>'kind' AS kind, i.event->'payload' AS payload, i.n
      FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS i(event, n)
), subscribed AS (
    SELECT e.id AS endpoint_id, i.id AS event_id, i.n
      FROM input i
      JOIN integrations_webhookendpoint e
        ON e.tenant_id = %(tenant)s AND e.active
       AND (i.kind = ANY(e.events) OR e.id = %(endpoint)s::uuid)  -- a ping goes to its endpoint only
     WHERE %(endpoint)s::uuid IS NULL OR e.id = %(endpoint)s::uuid
), events AS (
    INSERT INTO integrations_event (id, tenant_id, kind, payload, created_at)
    SELECT i.id, %(tenant)s, i.kind, i.payload, %(now)s FROM input i
     WHERE i.id IN (SELECT event_id FROM subscribed)
    RETURNING id
)
INSERT INTO integrations_delivery
       (uid, tenant_id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at)
SELECT gen_random_uuid(), %(tenant)s, s.endpoint_id, s.event_id, 'pending', 0, %(now)s, %(now)s
  FROM subscribed s
 WHERE EXISTS (SELECT 1 FROM events)
 ORDER BY s.n, s.endpoint_id
RETURNING endpoint_id
""")


def events_emit(events: Iterable[tuple[str, dict]], *, endpoint_id: uuid.UUID | None = None) -> int:
    """Record `events` (kind, payload) for every endpoint subscribed to them; the number of deliveries.

    `endpoint_id` limits the deliveries to one endpoint (the test ping).
    """
    events = list(events)
    if not events:
        return 0
    for kind, _ in events:
        if kind not in EVENT_KINDS and kind != PING:
            raise ValueError(f"unknown event kind {kind!r}")
    tenant_id = require_tenant_id()
    # One JSON document, not arrays: psycopg quotes a string in C, but writes an array's text
    # escaping each element's quotes by a pattern in Python (~370 matches for a sale's payloads).
    rows = [{"id": str(uuid7()), "kind": kind, "payload": payload} for kind, payload in events]
    params = {
        "events": json.dumps(rows, cls=DjangoJSONEncoder),
        "tenant": tenant_id,
        "endpoint": endpoint_id,
        "now": timezone.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(EMIT_SQL, params)
        rows = cursor.fetchall()
    if rows:
        _deliver_after_commit(tenant_id, {endpoint for (endpoint,) in rows})
    return len(rows)


def event_emit(kind: str, payload: dict) -> int:
    return events_emit([(kind, payload)])


class _AfterCommit:
    """The endpoints to wake once this transaction commits: one callback per transaction."""

    def __init__(self, tenant_id):
        self.tenant_id = tenant_id
        self.endpoints: set = set()

    def __call__(self):
        from integrations.tasks import endpoint_wake

        for endpoint_id in sorted(self.endpoints, key=str):
            endpoint_wake(tenant_id=str(self.tenant_id), endpoint_id=str(endpoint_id))


def _deliver_after_commit(tenant_id, endpoints: set) -> None:
    # Found again only while its callback is still queued on this connection: a new transaction
    # (after a commit or a rollback) gets a new one.
    pending = next(
        (
            callback
            for _, callback, _ in connection.run_on_commit
            if isinstance(callback, _AfterCommit) and callback.tenant_id == tenant_id
        ),
        None,
    )
    if pending is not None:
        pending.endpoints |= endpoints
        return
    pending = _AfterCommit(tenant_id)
    pending.endpoints |= endpoints
    transaction.on_commit(pending)  # outside a transaction: now
