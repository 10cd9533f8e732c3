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
permissions have run by then, so the tenant and the user are known. Views that must do
something before their transaction (check a manager's approval, accounts.approvals) and the
register's JSON views use `Idempotency` directly: `stored()` first, then `run(work, answer=...)`.
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
    return fingerprint_of(
        user=getattr(request.user, "pk", None), method=request.method, path=request.path, body=request.data
    )


def fingerprint_of(*, user, method: str, path: str, body) -> str:
    """What makes two requests "the same": the user, the method, the path and the body."""
    text = "\n".join(
        [str(user), method, path, json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _lock(tenant_id, key: str) -> bool:
    """Take the key's lock for the rest of the transaction; False if a running request has it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, f"{tenant_id}:{key}"]
        )
        return cursor.fetchone()[0]


class Idempotency:
    """One request's Idempotency-Key: its stored answer, or running its work once."""

    def __init__(self, *, key: str | None, fingerprint: str):
        self.tenant_id = current_tenant_id()
        self.active = key is not None and self.tenant_id is not None
        self.key = (key or "").strip()
        self.fingerprint = fingerprint
        if self.active and (not self.key or len(self.key) > MAX_KEY_LENGTH):
            raise DomainError(
                gettext("%(header)s must be 1 to %(n)d characters.") % {"header": HEADER, "n": MAX_KEY_LENGTH}
            )

    def _replayable(self, record) -> tuple[int, object]:
        if record.fingerprint != self.fingerprint:
            raise Unprocessable(
                gettext("This Idempotency-Key was used with another request."), code="idempotency_key_reused"
            )
        body = record_body(record)
        if body == NOT_STORED:
            raise Conflict(
                gettext("This request was already processed; its answer held a secret and is not kept.")
            )
        return record.response_status, body

    def stored(self) -> tuple[int, object] | None:
        """The first answer (status, body) when this key was used before, else None."""
        if not self.active:
            return None
        record = record_find(key=self.key)
        return self._replayable(record) if record is not None else None

    def run(self, work, *, answer, store_response: bool = True, savepoint: bool = True):
        """Run `work()` once for this key; `answer(result)` gives its (status, body) to store.

        Returns `work()`'s result, or the stored (status, body) as `("replay", status, body)`.
        The work, the lock and the record share one transaction: the lock ends with it however
        it ends, and the record exists exactly when the work was committed.
        """
        if not self.active:
            return work()
        # Lock, then look (one look): the read after the lock is a statement of its own, so it
        # sees a record the lock's previous holder committed. `savepoint=False` inside a request's
        # own transaction (ATOMIC_REQUESTS: an error ends it anyway, and the lock lasts as long):
        # two statements fewer. Views that are not atomic get a transaction of their own here.
        with transaction.atomic(savepoint=savepoint):
            if not _lock(self.tenant_id, self.key):
                raise Conflict(
                    gettext("A request with this Idempotency-Key is still running."),
                    code="idempotency_key_in_flight",
                )
            found = self.stored()
            if found is not None:
                return ("replay", *found)
            result = work()
            status, body = answer(result)
            if 200 <= status < 300:
                record_store(
                    key=self.key,
                    fingerprint=self.fingerprint,
                    response_status=status,
                    response_body=body if store_response else NOT_STORED,
                )
        return result


def replayed(status: int, body) -> Response:
    response = Response(body, status=status)
    response["Idempotent-Replayed"] = "true"
    return response


def response_answer(response: Response) -> tuple[int, object]:
    body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
    return response.status_code, body


def idempotent(method=None, *, store_response: bool = True):
    """Decorate a view's `post(self, request, ...)` to honour the Idempotency-Key header."""

    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(self, request, *args, **kwargs):
            key = request.headers.get(HEADER)
            if key is None or current_tenant_id() is None:  # the body is not read for nothing
                return handler(self, request, *args, **kwargs)
            guard = Idempotency(key=key, fingerprint=_fingerprint(request))
            result = guard.run(
                lambda: handler(self, request, *args, **kwargs),
                answer=response_answer,
                store_response=store_response,
                savepoint=False,
            )
            if isinstance(result, tuple):
                return replayed(result[1], result[2])
            return result

        wrapper.idempotent = True
        return extend_schema(parameters=[PARAMETER])(wrapper)

    return decorate(method) if method is not None else decorate


def idempotent_by_hand(handler):
    """Mark a view method that runs `Idempotency` itself: documented like `@idempotent` (the
    header, 409 in flight, 422 reused)."""
    handler.idempotent = True
    return extend_schema(parameters=[PARAMETER])(handler)
