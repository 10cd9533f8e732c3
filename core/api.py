"""The one error shape of the HTTP API: {"code": "snake_case", "detail": "text", "fields": {...}}."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core import errors

# The status of each domain error class (core.errors); the first match wins.
_DOMAIN_STATUS = (
    (errors.NotFound, status.HTTP_404_NOT_FOUND),
    (errors.Forbidden, status.HTTP_403_FORBIDDEN),
    (errors.Conflict, status.HTTP_409_CONFLICT),
    (errors.Gone, status.HTTP_410_GONE),
    (errors.Unprocessable, status.HTTP_422_UNPROCESSABLE_ENTITY),
    (errors.PreconditionFailed, status.HTTP_412_PRECONDITION_FAILED),
    (errors.DomainError, status.HTTP_400_BAD_REQUEST),
)


_DEFAULT_CODES = {
    exceptions.ParseError: "invalid",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


# DRF's own codes, replaced by ours above; any other code given to an exception is kept.
_DRF_DEFAULT_CODES = {
    "parse_error",
    "authentication_failed",
    "not_authenticated",
    "permission_denied",
    "not_found",
    "method_not_allowed",
    "not_acceptable",
    "unsupported_media_type",
    "throttled",
    "error",
    "invalid",
}


def _flatten(detail) -> dict | list | str:
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def flatten(detail) -> dict:
    """DRF's error detail as the `fields` of the error shape (strings, lists and objects)."""
    fields = _flatten(detail)
    return fields if isinstance(fields, dict) else {"non_field_errors": fields}


def _django_fields(error: DjangoValidationError) -> dict:
    problems = getattr(error, "problems", None)  # accounts.services.PolicyViolation: rule -> message
    if problems is not None:
        field = "current_password" if "current_password" in problems else "password"
        return {field: problems}
    if hasattr(error, "error_dict"):
        return {
            field: [str(m) for e in errors for m in e.messages] for field, errors in error.error_dict.items()
        }
    return {"non_field_errors": error.messages}


def error_body(code: str, detail: str, fields: dict | None = None) -> dict:
    body = {"code": code, "detail": detail}
    if fields is not None:
        body["fields"] = fields
    return body


def _rollback(context) -> None:
    """Mark the request's transaction for rollback; a view that is not atomic (it opens its own
    transactions, as the sign-in and sale views do) has none, whatever surrounds it."""
    view = context.get("view")
    if view is not None and getattr(type(view).dispatch, "_non_atomic_requests", None):
        return
    set_rollback()


def exception_handler(exc, context):
    if isinstance(exc, errors.DomainError):
        _rollback(context)
        status_code = next(code for klass, code in _DOMAIN_STATUS if isinstance(exc, klass))
        return Response(error_body(exc.code, exc.detail), status=status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_fields(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if not isinstance(exc, exceptions.APIException):
        return None
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        body = error_body("invalid", "Validation failed.", fields)
    else:
        code = getattr(exc, "code", None)
        given = exc.get_codes() if isinstance(exc.get_codes(), str) else None
        if code is None and given not in _DRF_DEFAULT_CODES:
            code = given
        if code is None:
            code = next((c for klass, c in _DEFAULT_CODES.items() if isinstance(exc, klass)), "error")
        body = error_body(code, str(exc.detail))
    _rollback(context)
    return Response(body, status=exc.status_code, headers=headers)


def json_error(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(error_body(code, detail), status=status_code)


def paginate(request, view, queryset, serializer_class, pagination_class=None):
    """One page of `queryset` in the documented list shape."""
    from core.pagination import PagePagination

    paginator = (pagination_class or PagePagination)()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


_PAGES: dict = {}


def page_of(serializer_class, *, cursor: bool = False):
    """The OpenAPI shape of a list answered through `paginate`: {"count"?, "next", "previous", "results"}."""
    from rest_framework import serializers

    key = (serializer_class, cursor)
    if key not in _PAGES:
        fields = {
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        }
        if not cursor:
            fields["count"] = serializers.IntegerField()
        name = serializer_class.__name__.removesuffix("Serializer").removesuffix("Out")
        page = type(f"{name}Page", (serializers.Serializer,), fields)
        page.kassa_pagination = "cursor" if cursor else "page"  # core.schema documents its parameters
        _PAGES[key] = page
    return _PAGES[key]
