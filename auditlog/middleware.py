import json
import logging
import time
import uuid

import pghistory
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.db import connection
from django.http import HttpResponse, RawPostDataException
from django.http.request import split_domain_port
from django.utils import timezone
from uuid6 import uuid7
from whitenoise.middleware import WhiteNoiseFileResponse

from auditlog import redact, writer
from auditlog.context import RequestActor, actor_of
from auditlog.models import PlatformEvent
from core.net import client_ip
from core.observability import request_id_var

logger = logging.getLogger("auditlog")


def _store_id(request) -> str | None:
    """The store a request names: a `store_id` in the URL, or `?store=`/`?store_id=`."""
    match = getattr(request, "resolver_match", None)
    candidate = match.kwargs.get("store_id") if match is not None else None
    if candidate is None:
        candidate = request.GET.get("store") or request.GET.get("store_id")
    if candidate is None:
        return None
    try:
        return str(uuid.UUID(str(candidate)))
    except ValueError:
        return None


def _text(value) -> str | None:
    return str(value) if value is not None else None


class AuditMiddleware:
    """Log every request after its response is built; API calls in full.

    The first middleware, so every answer below it is logged: the HTTP -> HTTPS redirect, a
    refused host, errors. Only a static file that WhiteNoise served is not (it carries no data
    of anyone; a static *path* that is not a file goes on to the app and is logged).

    The tenant is read from the request afterwards (the host's, the API token's, or the one a
    sign-in on the platform host named: `request.audit_tenant`); a request that never reached
    TenantMiddleware (a redirect) is filed under its host's tenant. Inside, pghistory's context
    carries the request id and the actor to the change-log triggers. The access row is written
    first and on its own: if it cannot be written, the error is logged and the client gets 503
    instead of the answer (an answered request is a logged request); if only the API-call row
    cannot be, the answer stands and the error is logged. A request the web server's timeout
    kills is logged by `request_in_flight_abort` (deploy/gunicorn.conf.py, `worker_abort`).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        # Time-ordered (UUIDv7): each log table's request-id index takes new entries at one edge,
        # not on a random page of the whole index (bench/RESULTS.md, tenth pass).
        request_id = uuid7()
        request.audit_request_id = request_id
        # Every log line of this request names it, also Django's own "Not Found: ..." lines written
        # after the middleware returns; the next request sets its own.
        request_id_var.set(str(request_id))
        _in_flight.update(request=request, started=started)
        is_api = request.path_info.startswith("/api/")
        request.audit_body = _body_for_log(request) if is_api else b""
        status = 500
        response = None
        try:
            with pghistory.context(request_id=str(request_id), actor=RequestActor(request)):
                response = self.get_response(request)
            status = response.status_code
            if connection.in_atomic_block and not connection.needs_rollback:
                # An enclosing transaction outlives the request (tests, a caller's atomic block):
                # the context must not stick to what that transaction writes next.
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('pghistory.context_metadata', '', true)")
        finally:
            _in_flight.clear()
            duration_ms = (time.perf_counter() - started) * 1000
            # Not when the timeout hook logged it already (the worker is exiting through here).
            if not isinstance(response, WhiteNoiseFileResponse) and not getattr(
                request, "audit_aborted", False
            ):
                try:
                    self._write(request, response, status, duration_ms, is_api)
                except writer.ApiCallNotWritten:
                    logger.exception("API-call entry not written for request %s", request_id)
                except Exception:
                    logger.exception(
                        "audit entry not written for request %s %s", request_id, request.path_info
                    )
                    if response is not None:
                        response = HttpResponse(
                            "Audit log unavailable.", status=503, content_type="text/plain"
                        )
        if not isinstance(response, WhiteNoiseFileResponse):
            response["X-Request-ID"] = str(request_id)
        return response

    def _write(self, request, response, status, duration_ms, is_api) -> None:
        tenant = _tenant_of(request)
        tenant_id = _text(tenant.pk) if tenant is not None else None
        user_id, token_id, grant_id = actor_of(request)
        store_id = _store_id(request)
        now = timezone.now()
        meta = request.META
        query = redact.redact_query(
            meta.get("QUERY_STRING", ""), redact.personal_names_for(request.path_info)
        )
        access = _access_row(
            request, now, tenant_id, user_id, token_id, grant_id, store_id, query, status, duration_ms
        )
        if not is_api:
            writer.execute(writer.ACCESS_SQL, access)
        else:
            writer.execute_access_and_api_call(
                access, self._api_call(request, response, status, now, tenant_id, query)
            )
        if grant_id is not None:
            from auditlog.services import platform_event_record

            platform_event_record(
                kind=PlatformEvent.Kind.SUPPORT_ACCESS,
                tenant=tenant,
                actor=str(user_id),
                request_id=request.audit_request_id,
                detail={"support_grant": str(grant_id), "method": request.method, "status": status},
            )

    def _api_call(self, request, response, status, now, tenant_id, query) -> tuple:
        meta = request.META
        user_id, token_id, _ = actor_of(request)
        store_id = _store_id(request)
        personal = redact.personal_names_for(request.path_info)
        request_text, request_cut = redact.redact_body(
            request.audit_body, meta.get("CONTENT_TYPE", ""), personal
        )
        if response is None:
            response_text, response_cut = "", False
        elif response.streaming:
            response_text, response_cut = "[streamed]", False
        else:
            response_text, response_cut = redact.redact_body(
                response.content, response.get("Content-Type", ""), personal
            )
        return (
            tenant_id or "",
            now,
            tenant_id,
            str(request.audit_request_id),
            _text(user_id),
            _text(token_id),
            store_id,
            redact.clean(request.method or "", 10),
            redact.clean(request.path_info, 2000),
            redact.clean(query, 2000),
            json.dumps(redact.allowed_headers(meta)),
            request_text,
            request_cut,
            status,
            response_text,
            response_cut,
        )


def _body_for_log(request) -> bytes:
    """The body, read once here (views read it again from the cache), never past the limit."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b""
    if length > limit:
        return b""  # answered 413 below
    try:
        if length == 0 and request.META.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            body = request.read(limit + 1)  # no length to check up front
            request._body = body
            request.META["CONTENT_LENGTH"] = str(len(body))
            return body if len(body) <= limit else b""
        return request.body
    except (RawPostDataException, RequestDataTooBig, OSError):  # the view answers it
        return b""


def _access_row(request, now, tenant_id, user_id, token_id, grant_id, store_id, query, status, duration_ms):
    meta = request.META
    return (
        tenant_id or "",
        now,
        tenant_id,
        str(request.audit_request_id),
        _text(user_id),
        _text(token_id),
        _text(grant_id),
        store_id,
        client_ip(request) or None,
        redact.clean(_host(request), 253),
        redact.clean(request.method or "", 10),
        redact.clean(request.path_info, 2000),
        redact.clean(query, 2000),
        status,
        duration_ms,
        redact.clean(meta.get("HTTP_USER_AGENT", ""), 300),
    )


_MISSING = object()


def _tenant_of(request):
    """The tenant the request is filed under (None: the platform)."""
    named = getattr(request, "audit_tenant", None)  # a sign-in on the platform host names one
    if named is not None:
        return named
    tenant = getattr(request, "tenant", _MISSING)
    if tenant is not _MISSING:
        return tenant
    # Answered before TenantMiddleware (the HTTPS redirect, a refused host): the host's tenant.
    from tenants.selectors import tenant_get_by_host

    host, _ = split_domain_port(_host(request))
    return tenant_get_by_host(host) if host else None


# The request this (sync, single-threaded) worker is handling, for the timeout hook.
_in_flight: dict = {}


def request_in_flight_abort() -> None:
    """Log the request the web server's timeout is killing (status 504), from gunicorn's
    `worker_abort` hook: the worker exits right after, so nothing else would log it."""
    request, started = _in_flight.get("request"), _in_flight.get("started")
    if request is None:
        return
    _in_flight.clear()
    request.audit_aborted = True
    try:
        tenant = _tenant_of(request)
        tenant_id = _text(tenant.pk) if tenant is not None else None
        user_id, token_id, grant_id = actor_of(request)
        query = redact.redact_query(
            request.META.get("QUERY_STRING", ""), redact.personal_names_for(request.path_info)
        )
        duration_ms = (time.perf_counter() - started) * 1000
        row = _access_row(
            request,
            timezone.now(),
            tenant_id,
            user_id,
            token_id,
            grant_id,
            _store_id(request),
            query,
            504,
            duration_ms,
        )
        writer.close()  # the request may have been cut off mid-use of this thread's connection
        writer.execute(writer.ACCESS_SQL, row)
    except Exception:
        logger.exception("audit entry of a timed-out request not written")


def _host(request) -> str:
    try:
        return request.get_host()
    except DisallowedHost:
        return request.META.get("HTTP_HOST", "")
