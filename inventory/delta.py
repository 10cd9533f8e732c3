"""Delta lists: `?updated_since=` and a keyset cursor on `(updated_at, id)` (inventory.sync).

A list in delta mode (either parameter given) answers `{"next", "previous": null, "results"}`
in `(updated_at, id)` order, at most `page_size` rows (50, at most 500), each page ending at the
sync horizon. `next` is null once the walk has caught up; to continue later, ask again with
`updated_since=` the last `updated_at` received (exclusive): nothing committed meanwhile is
skipped (the horizon's promise) and nothing already received comes again unless it changed.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from inventory.sync import sync_horizon
from tenants.context import require_tenant_id

CURSOR_PREFIX = "d1."
PAGE_SIZE, MAX_PAGE_SIZE = 50, 500

PARAMETERS = [
    OpenApiParameter(
        "updated_since",
        datetime,
        description=(
            "Delta sync: only objects changed after this time (ISO 8601, exclusive), oldest change "
            "first, in `(updated_at, id)` order. Pass the last `updated_at` you received to continue."
        ),
    ),
    OpenApiParameter(
        "cursor",
        str,
        description="Delta sync: the position from a `next` link; stable under concurrent writes.",
    ),
]


def requested(request) -> bool:
    params = request.query_params
    return "updated_since" in params or params.get("cursor", "").startswith(CURSOR_PREFIX)


def _encode(updated_at: datetime, pk) -> str:
    raw = f"{updated_at.astimezone(UTC).isoformat()}|{pk}".encode()
    return CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        text = cursor.removeprefix(CURSOR_PREFIX)
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        stamp, pk = raw.split("|")
        when = datetime.fromisoformat(stamp)
        when = (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).astimezone(UTC)
        return when, str(uuid.UUID(pk))
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": [gettext("Not a cursor of this list.")]}) from None


def _since(value: str) -> datetime:
    refusal = ValidationError(
        {"updated_since": [gettext("An ISO 8601 date and time, e.g. 2025-01-31T12:00:00Z.")]}
    )
    try:
        when = parse_datetime(value.strip()) if len(value) <= 64 else None
        if when is None:
            raise refusal
        # In UTC: PostgreSQL takes no offset beyond 15:59, which ISO 8601 would allow.
        return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise refusal from None


def _page_size(request) -> int:
    value = request.query_params.get("page_size")
    if value is None:
        return PAGE_SIZE
    try:
        size = int(value)
    except ValueError:
        raise ValidationError({"page_size": [gettext("A whole number from 1 to 500.")]}) from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationError({"page_size": [gettext("A whole number from 1 to 500.")]})
    return size


def page(request, queryset) -> tuple[list, str | None]:
    """One page of `queryset` in delta order, and the `next` URL (None once caught up)."""
    params = request.query_params
    cursor = params.get("cursor", "")
    size = _page_size(request)
    horizon = sync_horizon(tenant_id=require_tenant_id())
    rows = queryset.filter(updated_at__lt=horizon)
    if cursor.startswith(CURSOR_PREFIX):
        when, pk = _decode(cursor)
        rows = rows.filter(updated_at__gte=when).exclude(updated_at=when, id__lte=pk)
    elif "updated_since" in params:
        rows = rows.filter(updated_at__gt=_since(params["updated_since"]))
    found = list(rows.order_by("updated_at", "id")[: size + 1])
    if len(found) <= size:
        return found, None
    found = found[:size]
    url = remove_query_param(request.build_absolute_uri(), "updated_since")
    return found, replace_query_param(url, "cursor", _encode(found[-1].updated_at, found[-1].pk))


def paginate(request, queryset, serializer_class, context: dict | None = None) -> Response:
    rows, next_url = page(request, queryset)
    data = serializer_class(rows, many=True, context=context or {"request": request}).data
    return Response({"next": next_url, "previous": None, "results": data})
