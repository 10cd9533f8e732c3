"""Sending webhook deliveries: one endpoint at a time, in order, with retries for 24 hours.

- Order: an endpoint's pending deliveries go out one at a time in `Delivery.id` order (the
  order their events were committed in; the changes of one object always in the order they
  happened). The next is sent only when the one before succeeded or was given up, so at most
  one request per endpoint is in flight. An advisory lock on the endpoint makes the worker that
  drains it the only one (a dead worker's connection drops the lock). It is the session's,
  taken and given back around the drain, except through a transaction-mode pooler
  (KASSA_DB_TRANSACTION_POOLING), where each statement may reach another server session: a
  session lock would be taken on one and "given back" on another, and stay held on the first.
  There the drain is one transaction and the lock is the transaction's; its records commit
  together at its end (a worker that dies mid-drain sends that drain's deliveries again, with
  the same `Kassa-Delivery` ids).
- A drain hands over to a fresh task after BATCH deliveries or DRAIN_SECONDS, so a slow
  receiver holds neither the worker nor (pooled) a server connection and a transaction for long.
- Retries: a non-2xx answer, a timeout, a refused address or a TLS error is a failed attempt;
  the next comes after 10 s, doubling up to one hour, until the delivery is 24 hours old, when it
  is given up (`failed`). The same `Kassa-Delivery` id goes with every attempt.
- After 24 hours of failures in a row the endpoint is disabled (`active` false, `disabled_at`),
  its pending deliveries are given up, and the chain's owners get an e-mail. Turning it on again
  (PATCH `active: true`) clears that.
- Signature: `Kassa-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from uuid6 import uuid7

from integrations import net
from integrations.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from tenants.context import get_current_tenant, require_tenant_id, tenant_context
from tenants.rows import prepared, row_built

logger = logging.getLogger("integrations.delivery")

LOCK_NAMESPACE = 63  # pg_try_advisory_(xact_)lock(63, hashtext(endpoint id)); backups use 61
FIRST_RETRY = timedelta(seconds=10)
LONGEST_WAIT = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
BATCH = 200  # deliveries sent (or given up) by one task run before it hands over to a fresh one
DRAIN_SECONDS = 30  # nor does a task run start a send after this long
PAGE = 50  # deliveries read from the queue at a time
USER_AGENT = "Kassa-Webhooks/1"
DISABLED_AFTER_FAILURES = gettext_noop("24 hours of failed deliveries")  # kept in English, mailed translated


@dataclass
class Drained:
    sent: int = 0
    retry_at: datetime | None = None  # set after a failed attempt: when the next one is due
    more: bool = False  # the batch ended with deliveries still due
    locked: bool = True  # False: another worker is draining this endpoint


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 10 s, 20 s, 40 s, ... at most an hour."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_WAIT)


def body_of(event: Event) -> bytes:
    """The delivery's body: the same bytes on every attempt."""
    return json.dumps(
        {
            "id": str(event.pk),
            "type": event.kind,
            "created_at": event.created_at.isoformat(),
            "data": event.payload,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


LOCK_SQL = {
    "take": "SELECT pg_try_advisory_lock(%s, hashtext(%s))",
    "give back": "SELECT pg_advisory_unlock(%s, hashtext(%s))",
    "take for the transaction": "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
}


def _lock(endpoint_id: UUID, how: str) -> bool:
    sql = LOCK_SQL[how]
    with connection.cursor() as cursor:
        cursor.execute(sql, [LOCK_NAMESPACE, str(endpoint_id)])
        return bool(cursor.fetchone()[0])


def _statements() -> tuple[str, str]:
    quote = connection.ops.quote_name
    attempts, deliveries, endpoints, events = (
        quote(model._meta.db_table) for model in (DeliveryAttempt, Delivery, WebhookEndpoint, Event)
    )
    # Table names from the models; every value goes as a parameter. The endpoint comes with its
    # queue (the same columns on every row): one statement, nothing when it is off.
    queue = f"""
        SELECT {", ".join(f"w.{column}" for column in ENDPOINT_COLUMNS)},
               d.id, d.uid, d.attempts, d.next_attempt_at, d.created_at, d.event_id,
               e.kind, e.payload::text, e.created_at
          FROM {deliveries} d JOIN {events} e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
          JOIN {endpoints} w ON w.tenant_id = d.tenant_id AND w.id = d.endpoint_id AND w.active
         WHERE d.tenant_id = %s AND d.endpoint_id = %s AND d.status = %s
         ORDER BY d.id LIMIT %s
    """  # noqa: S608
    # One statement: the attempt and its delivery's new state written together, and the endpoint
    # read back.
    record = f"""
        WITH attempt AS (
            INSERT INTO {attempts} (tenant_id, id, delivery_id, endpoint_id, number, succeeded,
                                    status_code, error, duration_ms, created_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ), delivery AS (
            UPDATE {deliveries} SET attempts = attempts + 1, status = %s, finished_at = %s,
                                    next_attempt_at = %s
            WHERE tenant_id = %s AND id = %s
        )
        SELECT active, updated_at FROM {endpoints} WHERE tenant_id = %s AND id = %s
    """  # noqa: S608
    return prepared(queue), prepared(record)


# What a drain uses of its endpoint (the rest is left deferred, read if ever asked for).
ENDPOINT_COLUMNS = ("id", "tenant_id", "url", "secret", "active", "failing_since", "updated_at")
# Written once: a drain of one delivery (the common case for a chain's tills, 200 ms apart)
# spent ~3/4 of its CPU compiling its reads in the ORM.
QUEUE, RECORD = _statements()


def _queue(endpoint_id: UUID, limit: int) -> tuple[WebhookEndpoint | None, list[Delivery]]:
    """The endpoint (its secret decrypted) with its next `limit` pending deliveries and their
    events, in order; (None, []) if it is off or has nothing pending: one statement."""
    with connection.cursor() as cursor:
        cursor.execute(QUEUE, [require_tenant_id(), endpoint_id, Delivery.Status.PENDING, limit])
        rows = cursor.fetchall()
    if not rows:
        return None, []
    width = len(ENDPOINT_COLUMNS)
    endpoint = row_built(WebhookEndpoint, dict(zip(ENDPOINT_COLUMNS, rows[0][:width], strict=True)))
    page = []
    for pk, uid, attempts, next_attempt_at, created_at, event_id, kind, payload, event_at in (
        row[width:] for row in rows
    ):
        delivery = row_built(
            Delivery,
            {
                "id": pk,
                "uid": uid,
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "status": Delivery.Status.PENDING,
                "attempts": attempts,
                "next_attempt_at": next_attempt_at,
                "created_at": created_at,
            },
        )
        delivery.event = row_built(
            Event, {"id": event_id, "kind": kind, "payload": payload, "created_at": event_at}
        )
        page.append(delivery)
    return endpoint, page


def endpoint_drain(*, endpoint_id: UUID) -> Drained:
    """Send the endpoint's due deliveries in order until one fails, none is due, or the batch ends
    (BATCH deliveries or DRAIN_SECONDS).

    The endpoint is read with each page of its queue, and read back with the record of every
    attempt (`delivery_attempt`), so a delivery goes out only while the endpoint is on, to its
    URL and with its secret as they were after the one before: an endpoint turned off or changed
    meanwhile is read afresh before the next send (and found off: the drain ends). The queue is
    read a page at a time (one statement for up to `PAGE` deliveries of an active endpoint, the
    endpoint with them); a page shorter than asked for is the end of what was due when it was read.
    """
    if settings.KASSA_DB_TRANSACTION_POOLING:  # one transaction, so one server session (above)
        with transaction.atomic():
            if not _lock(endpoint_id, "take for the transaction"):
                return Drained(locked=False)
            return _drain(endpoint_id)
    if not _lock(endpoint_id, "take"):
        return Drained(locked=False)
    try:
        return _drain(endpoint_id)
    finally:
        _lock(endpoint_id, "give back")


def _drain(endpoint_id: UUID) -> Drained:
    """endpoint_drain's sends, with the endpoint's lock held."""
    result = Drained()
    done = 0  # sent or given up
    deadline = time.monotonic() + DRAIN_SECONDS
    while done < BATCH:
        limit = min(PAGE, BATCH - done)
        endpoint, page = _queue(endpoint_id, limit)
        if endpoint is None:
            return result
        for delivery in page:
            if done and time.monotonic() >= deadline:  # at least one send a run, whatever the time
                result.more = True
                return result
            if delivery.next_attempt_at > timezone.now():
                return result
            outcome = delivery_attempt(endpoint=endpoint, delivery=delivery)
            done += 1
            if outcome.succeeded:
                result.sent += 1
            elif outcome.status == Delivery.Status.PENDING:
                result.retry_at = outcome.next_attempt_at
                return result
            if not outcome.endpoint_unchanged:
                break  # read it (and the queue) again
        else:
            if len(page) < limit:
                # The queue's end when it was read: a delivery committed after that read found
                # the wake-up claim given back (integrations.tasks), so it has a drain of its own.
                return result
    result.more = True
    return result


@dataclass(frozen=True)
class Attempted:
    succeeded: bool
    status: str  # the delivery's status after the attempt
    next_attempt_at: datetime
    endpoint_unchanged: bool  # the endpoint is still on and as it was read (updated_at)


def delivery_attempt(*, endpoint: WebhookEndpoint, delivery: Delivery) -> Attempted:
    """POST the delivery once and record the attempt with the delivery's new state.

    The record is one statement that also reads the endpoint back (`Attempted.endpoint_unchanged`),
    sent on its own (one round trip: its own transaction, with the tenant's setting folded in
    front, `tenants.db.base`; pooled, a statement of the drain's transaction) after a success; a
    failure, or the first success after failures, also updates the endpoint's failure run (and
    may disable it) in the same transaction.
    """
    now = timezone.now()
    body = body_of(delivery.event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Kassa-Event": delivery.event.kind,
        "Kassa-Delivery": str(delivery.uid),
        "Kassa-Signature": signature(endpoint.secret, int(now.timestamp()), body),
    }
    answer = net.post(endpoint.url, body, headers)
    number = delivery.attempts + 1
    status, finished_at, next_attempt_at = Delivery.Status.PENDING, None, now + backoff(number)
    if answer.succeeded:
        status, finished_at, next_attempt_at = Delivery.Status.SUCCEEDED, now, delivery.next_attempt_at
    elif now - delivery.created_at >= GIVE_UP_AFTER:
        status, finished_at, next_attempt_at = Delivery.Status.FAILED, now, delivery.next_attempt_at
    tenant_id = require_tenant_id()
    values = [
        *(tenant_id, uuid7(), delivery.pk, endpoint.pk, number, answer.succeeded),
        *(answer.status_code, answer.error, answer.duration_ms, now),
        *(status, finished_at, next_attempt_at, tenant_id, delivery.pk),
        *(tenant_id, endpoint.pk),
    ]
    if answer.succeeded and endpoint.failing_since is None:
        row = _record(values)  # the common case: nothing else to write
    else:
        with transaction.atomic():
            row = _record(values)
            if answer.succeeded:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
                endpoint.failing_since = None
            elif _failure_note(endpoint, now):  # disabled: its pending deliveries, this one too, given up
                status = Delivery.Status.FAILED
    # After a failure the endpoint is read again either way (its failure run has changed).
    unchanged = answer.succeeded and row is not None and row[0] and row[1] == endpoint.updated_at
    return Attempted(answer.succeeded, status, next_attempt_at, bool(unchanged))


def _record(values: list) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(RECORD, values)
        return cursor.fetchone()


def _failure_note(endpoint: WebhookEndpoint, now: datetime) -> bool:
    """Start the endpoint's failure run, or disable it after 24 hours of it; True if disabled."""
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
    elif now - endpoint.failing_since >= GIVE_UP_AFTER:
        endpoint_disable(endpoint=endpoint, now=now, reason=DISABLED_AFTER_FAILURES)
        return True
    return False


def endpoint_disable(*, endpoint: WebhookEndpoint, now: datetime, reason: str) -> None:
    """Turn the endpoint off, give up what it still had to send, and tell the chain's owners."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        active=False, disabled_at=now, disabled_reason=reason
    )
    given_up = Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED, finished_at=now
    )
    logger.warning("webhook %s disabled: %s (%d deliveries given up)", endpoint.pk, reason, given_up)
    tenant = get_current_tenant()

    def notify():
        with tenant_context(tenant):
            owners_notify(endpoint=endpoint, reason=reason)

    transaction.on_commit(notify)


def owners_notify(*, endpoint: WebhookEndpoint, reason: str) -> int:
    """E-mail each active owner of the chain (in their language) that a webhook was disabled."""
    from accounts.models import User

    owners = (
        User.objects.filter(is_active=True, assignments__role__builtin="owner")
        .exclude(email="")
        .distinct()
        .order_by("username")
    )
    sent = 0
    for owner in owners:
        with translation.override(owner.language or "en"):
            subject = _("Kassa: a webhook was turned off")
            text = _(
                "Kassa stopped sending webhooks to %(url)s: %(reason)s. Deliveries that were waiting "
                "were given up. Once the receiver works again, turn the webhook on with "
                'PATCH /api/v1/webhooks/%(id)s/ {"active": true}.'
            ) % {"url": endpoint.url, "reason": _(reason), "id": endpoint.pk}
        sent += send_mail(subject, text, None, [owner.email], fail_silently=True)
    return sent


def endpoints_due() -> list[UUID]:
    """The active endpoints of the current tenant with a delivery due now."""
    return list(
        Delivery.objects.filter(
            status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now(), endpoint__active=True
        )
        .values_list("endpoint_id", flat=True)
        .distinct()
    )


def events_expire(*, keep: timedelta) -> int:
    """Delete finished deliveries, their attempts and events older than `keep`; the number of events."""
    cutoff = timezone.now() - keep
    DeliveryAttempt.objects.filter(created_at__lt=cutoff).delete()
    old = Event.objects.filter(created_at__lt=cutoff)
    finished = old.exclude(pk__in=Delivery.objects.filter(status=Delivery.Status.PENDING).values("event_id"))
    Delivery.objects.filter(event__in=finished).delete()
    return finished.delete()[1].get("integrations.Event", 0)
