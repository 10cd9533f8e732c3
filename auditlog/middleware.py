import json
import logging
import time
import uuid

import pghistory
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.db import connection
from django.http import HttpResponse, RawPostDataException
from django.utils import timezone

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
    """Log every request (static files excluded) after its response is built; API calls in full.

    Runs outside TenantMiddleware: the tenant is read from the request afterwards (the host's,
    or the API token's). Inside, pghistory's context carries the request id and the actor to
    the change-log triggers. If the entry cannot be written, the error is logged and the client
    gets 503 instead of the answer: an answered request is a logged request.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/")

    def __call__(self, request):
        if request.path.startswith(self.static_prefix):
            return self.get_response(request)
        started = time.perf_counter()
        request_id = uuid.uuid4()
        request.audit_request_id = request_id
        # Every log line of this request names it, also Django's own "Not Found: ..." lines written
        # after the middleware returns; the next request sets its own.
        request_id_var.set(str(request_id))
        is_api = request.path.startswith("/api/")
        request_body = b""
        if is_api:
            try:
                request_body = request.body
            except (RawPostDataException, RequestDataTooBig, OSError):  # the view answers it
                request_body = b""
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
            duration_ms = (time.perf_counter() - started) * 1000
            try:
                self._write(request, response, status, duration_ms, is_api, request_body)
            except Exception:
                logger.exception("audit entry not written for request %s %s", request_id, request.path)
                if response is not None:
                    response = HttpResponse("Audit log unavailable.", status=503, content_type="text/plain")
        response["X-Request-ID"] = str(request_id)
        return response

    def _write(self, request, response, status, duration_ms, is_api, request_body) -> None:
        tenant = getattr(request, "tenant", None)
        tenant_id = _text(tenant.pk) if tenant is not None else None
        user_id, token_id, grant_id = actor_of(request)
        store_id = _store_id(request)
        now = timezone.now()
        meta = request.META
        host = _host(request)
        query = redact.redact_query(meta.get("QUERY_STRING", ""))
        access = (
            tenant_id or "",
            now,
            tenant_id,
            str(request.audit_request_id),
            _text(user_id),
            _text(token_id),
            _text(grant_id),
            store_id,
            client_ip(request) or None,
            redact.clean(host, 253),
            redact.clean(request.method or "", 10),
            redact.clean(request.path, 2000),
            redact.clean(query, 2000),
            status,
            duration_ms,
            redact.clean(meta.get("HTTP_USER_AGENT", ""), 300),
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
        if not is_api:
            writer.execute(writer.ACCESS_SQL, access)
            return
        request_text, request_cut = redact.redact_body(request_body, meta.get("CONTENT_TYPE", ""))
        if response is None:
            response_text, response_cut = "", False
        elif response.streaming:
            response_text, response_cut = "[streamed]", False
        else:
            response_text, response_cut = redact.redact_body(
                response.content, response.get("Content-Type", "")
            )
        api_call = (
            now,
            tenant_id,
            str(request.audit_request_id),
            _text(user_id),
            _text(token_id),
            store_id,
            redact.clean(request.method or "", 10),
            redact.clean(request.path, 2000),
            redact.clean(query, 2000),
            json.dumps(redact.allowed_headers(meta)),
            request_text,
            request_cut,
            status,
            response_text,
            response_cut,
        )
        writer.execute(writer.ACCESS_AND_API_CALL_SQL, access + api_call)


def _host(request) -> str:
    try:
        return request.get_host()
    except DisallowedHost:
        return request.META.get("HTTP_HOST", "")
