"""`Idempotency-Key` for POSTs of the API: the same key and body within 24 hours replays the
first answer and does nothing again.

- The first successful (2xx) answer is stored per tenant and key in `IdempotencyRecord`, in
  the request's own transaction: it exists exactly when the work it describes was committed.
  Errors are not stored, so a failed request may be retried with the same key.
- The same key with another body (or from another user, or on another path): 422
  `idempotency_key_reused`.
- A key whose first request is still running: 409 `idempotency_key_in_flight`. The running
  request holds a transaction-level advisory lock on (tenant, key): it ends with the request's
  transaction however that ends — commit, rollback, or a web node or database connection that
  died — so a register retrying after a failure never waits on a dead request. (It was a lock
  in Redis released after commit; `make ha-drill` found registers refused for five minutes
  after a commit that failed in a failover or a node killed mid-request.) Transaction-level,
  so it holds behind PgBouncer in transaction mode too.
- Answers that carry a secret (a new token or key) are never stored: a repeat answers 409
  `conflict` instead of showing the secret again.

Use `@idempotent` on a view's `post` method (APIView or ViewSet action); authentication and
permissions have run by then, so the tenant and the user are known.
"""

from __future__ import annotations

import functools
import hashlib
import json

from django.db import connection, transaction
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.errors import Conflict, DomainError, Unprocessable
from idempotency.services import record_body, record_find, record_store
from tenants.context import current_tenant_id

HEADER = "Idempotency-Key"
LOCK_NAMESPACE = 62  # pg_advisory_xact_lock(namespace, hashtext('<tenant>:<key>'))
MAX_KEY_LENGTH = 255
NOT_STORED = "not_stored"
PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="Repeat a POST safely: the same key and body within 24 hours replays the first answer.",
)


def _fingerprint(request) -> str:
    user = getattr(request.user, "pk", None)
    body = json.dumps(request.data, sort_keys=True, default=str, separators=(",", ":"))
    text = "\n".join([str(user), request.method, request.path, body])
    return hashlib.sha256(text.encode()).hexdigest()


def _lock(tenant_id, key: str) -> bool:
    """Take the key's lock for the rest of the transaction; False if a running request has it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, f"{tenant_id}:{key}"]
        )
        return cursor.fetchone()[0]


def _replay(record, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise Unprocessable(
            gettext("This Idempotency-Key was used with another request."), code="idempotency_key_reused"
        )
    body = record_body(record)
    if body == NOT_STORED:
        raise Conflict(
            gettext("This request was already processed; its answer held a secret and is not kept.")
        )
    response = Response(body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(method=None, *, store_response: bool = True):
    """Decorate a view's `post(self, request, ...)` to honour the Idempotency-Key header."""

    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(self, request, *args, **kwargs):
            key = request.headers.get(HEADER)
            tenant_id = current_tenant_id()
            if key is None or tenant_id is None:
                return handler(self, request, *args, **kwargs)
            key = key.strip()
            if not key or len(key) > MAX_KEY_LENGTH:
                raise DomainError(
                    gettext("%(header)s must be 1 to %(n)d characters.")
                    % {"header": HEADER, "n": MAX_KEY_LENGTH}
                )
            fingerprint = _fingerprint(request)
            # No savepoint: an error here ends the request's transaction anyway (the API's
            # handler rolls it back), and the lock lasts as long as that transaction.
            with transaction.atomic(savepoint=False):
                if not _lock(tenant_id, key):
                    raise Conflict(
                        gettext("A request with this Idempotency-Key is still running."),
                        code="idempotency_key_in_flight",
                    )
                # Read after the lock, in a statement of its own (a newer snapshot): the request
                # that held the lock may have committed its record meanwhile.
                record = record_find(key=key)
                if record is not None:
                    return _replay(record, fingerprint)
                response = handler(self, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    _store(key, fingerprint, response, store_response)
            return response

        wrapper.idempotent = True
        return extend_schema(parameters=[PARAMETER])(wrapper)

    return decorate(method) if method is not None else decorate


def _store(key: str, fingerprint: str, response: Response, store_response: bool) -> None:
    body = NOT_STORED
    if store_response:
        body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
    record_store(key=key, fingerprint=fingerprint, response_status=response.status_code, response_body=body)
