"""The OpenAPI schema, as a client generator needs it.

drf-spectacular describes each operation; this schema class adds what every Kassa answer has
and what the views do beside their serializers:

- every documented error status with the one error shape (`Error`), chosen by what the
  operation takes: a body (400, 413), an id in the path (404), an `Idempotency-Key` (409, 422),
  `If-Match` (412); 401, 403 and 429 everywhere;
- `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` on every answer, `Retry-After` on a
  429, `ETag` on object reads (and 304 for `If-None-Match`), `If-Match` on their PATCH;
- the pagination parameters of lists answered through `core.api.paginate` (`page`, `page_size`
  or `cursor`), and of delta lists (`updated_since`, `cursor`).

Summaries and descriptions come from kassa.openapi (the catalogue of operations).
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

ERROR_CODES = {
    "400": ("The request is not valid; `fields` says where.", ["invalid"]),
    "401": (
        "No valid credentials.",
        ["not_authenticated", "token_expired", "invalid_credentials", "otp_required", "invalid_otp"],
    ),
    "403": ("Authenticated, but not allowed.", ["permission_denied", "password_expired", "tenant_suspended"]),
    "404": ("No such object (also: another chain's object).", ["not_found"]),
    "409": (
        "The state of things does not allow it now.",
        ["conflict", "insufficient_stock", "idempotency_key_in_flight"],
    ),
    "412": ("`If-Match` names a version that is no longer current: read it again.", ["precondition_failed"]),
    "413": ("The body is over the limit.", ["too_large"]),
    "422": ("This `Idempotency-Key` was used with another request.", ["idempotency_key_reused"]),
    "429": (
        "Too many requests or attempts; `Retry-After` says when to try again.",
        ["throttled", "locked_out"],
    ),
}


class Error(serializers.Serializer):
    """Every error answer: `{"code", "detail", "fields"?}`."""

    code = serializers.CharField(help_text="what went wrong, snake_case (see the status's description)")
    detail = serializers.CharField(help_text="for people: what went wrong and what to do")
    fields = serializers.DictField(
        required=False,
        child=serializers.JSONField(),
        help_text="validation errors only: the messages by field name (nested for nested fields)",
    )


def _header(description: str) -> dict:
    return {"schema": {"type": "integer"}, "description": description}


RATE_HEADERS = {
    "RateLimit-Limit": _header("requests allowed in the window (per token, or per client address)"),
    "RateLimit-Remaining": _header("requests left in the window"),
    "RateLimit-Reset": _header("seconds until the window ends"),
}
ETAG = {"schema": {"type": "string"}, "description": "the version of the object; send it back in If-Match"}


class KassaAutoSchema(AutoSchema):
    def _path_has_parameters(self) -> bool:
        return "{" in self.path

    def _takes_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH")

    def _idempotent(self) -> bool:
        handler = getattr(self.view, self.method.lower(), None)
        action = getattr(self.view, "action", None)
        if action and hasattr(self.view, action):
            handler = getattr(self.view, action)
        return bool(getattr(handler, "idempotent", False))

    def _object_etag(self) -> bool:
        return bool(getattr(self.view, "etag", False)) and self._path_has_parameters()

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._object_etag() and self.method == "PATCH":
            parameters.append(
                OpenApiParameter(
                    "If-Match",
                    str,
                    OpenApiParameter.HEADER,
                    description="Write only if the object is still this version (its ETag); else 412.",
                )
            )
        if self._object_etag() and self.method == "GET":
            parameters.append(
                OpenApiParameter(
                    "If-None-Match",
                    str,
                    OpenApiParameter.HEADER,
                    description="An ETag you hold: 304 with no body when it is still current.",
                )
            )
        if self.method == "GET" and not self._path_has_parameters():
            parameters += list(getattr(self.view, "list_schema_parameters", ()))  # e.g. a delta list's
        return parameters

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        self._pagination_parameters(operation)
        responses = operation["responses"]
        for code, response in responses.items():
            headers = response.setdefault("headers", {})
            headers.update(RATE_HEADERS)
            if code == "200" and self.method == "GET" and self._object_etag():
                headers["ETag"] = ETAG
            if code == "200" and self.method == "PATCH" and self._object_etag():
                headers["ETag"] = ETAG
        if self.method == "GET" and self._object_etag():
            responses["304"] = {
                "description": "Not modified: your If-None-Match is current.",
                "headers": RATE_HEADERS,
            }
        error = self.resolve_serializer(Error, "response").ref
        for code in self._error_statuses(operation):
            description, codes = ERROR_CODES[code]
            headers = dict(RATE_HEADERS)
            if code == "429":
                headers["Retry-After"] = _header("seconds to wait")
            responses.setdefault(
                code,
                {
                    "description": f"{description} Codes: {', '.join(f'`{c}`' for c in codes)}.",
                    "content": {"application/json": {"schema": error}},
                    "headers": headers,
                },
            )
        return operation

    def _error_statuses(self, operation) -> list[str]:
        statuses = ["401", "403", "429"]
        if self._takes_body() or any(p.get("in") == "query" for p in operation.get("parameters", [])):
            statuses.append("400")
        if self._path_has_parameters():
            statuses.append("404")
        if self._takes_body():
            statuses.append("413")
        if self.method == "POST":
            statuses.append("409")
        if self._idempotent():
            statuses.append("422")
        if self.method == "PATCH" and self._object_etag():
            statuses.append("412")
        return sorted(statuses)

    def _pagination_parameters(self, operation) -> None:
        """Lists answered by `core.api.paginate` name their pagination parameters here."""
        if self.method != "GET":
            return
        serializer = self.get_response_serializers()
        if isinstance(serializer, dict):
            serializer = serializer.get(200) or serializer.get("200")
        kind = getattr(serializer, "kassa_pagination", None)
        if kind is None:
            return
        wanted = {
            "page": [("page", "integer", "The page: 1 unless told.")],
            "cursor": [("cursor", "string", "The position from a `next` or `previous` link.")],
        }[kind] + [("page_size", "integer", "Rows a page: 50 unless told, at most 500.")]
        present = {p.get("name") for p in operation.get("parameters", [])}
        for name, kind_of, description in wanted:
            if name not in present:
                operation.setdefault("parameters", []).append(
                    {"in": "query", "name": name, "schema": {"type": kind_of}, "description": description}
                )
