"""Reads of the audit log, within a `LogScope` the caller derives from the reader's rights.

The scope comes from `accounts.selectors.log_scope(reader=...)`: `view_chain_logs` reads every
entry of the chain; `view_store_logs` the entries recorded with one of the reader's stores
(`store_id` — the store a request named, or the store column of a changed row) and the
sign-ins of users assigned to one of those stores. Row-level security keeps every other
tenant's rows (and the platform's) out in any case.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.db.models import QuerySet

from auditlog.models import AccessEvent, ApiCall, ChangeEvent, SignInEvent


@dataclass(frozen=True)
class LogScope:
    """The whole chain (`stores` None), or the entries of some stores and their users' sign-ins."""

    stores: frozenset[UUID] | None = None
    store_users: QuerySet | None = None  # ids of the users assigned to one of `stores`


CHAIN = LogScope()


def _common(queryset: QuerySet, filters: dict, user_field: str = "user_id") -> QuerySet:
    if filters.get("since"):
        queryset = queryset.filter(created_at__gte=filters["since"])
    if filters.get("until"):
        queryset = queryset.filter(created_at__lt=filters["until"])
    if filters.get("user"):
        queryset = queryset.filter(**{user_field: filters["user"]})
    return queryset


def access_list(*, scope: LogScope, filters: dict) -> QuerySet:
    stores = scope.stores
    queryset = _common(AccessEvent.objects.all(), filters)
    if stores is not None:
        queryset = queryset.filter(store_id__in=stores)
    for name in ("ip", "host", "status"):
        if filters.get(name) not in (None, ""):
            queryset = queryset.filter(**{name: filters[name]})
    if filters.get("method"):
        queryset = queryset.filter(method=filters["method"].upper())
    return queryset


def api_call_list(*, scope: LogScope, filters: dict) -> QuerySet:
    stores = scope.stores
    queryset = _common(ApiCall.objects.all(), filters)
    if stores is not None:
        queryset = queryset.filter(store_id__in=stores)
    if filters.get("status") not in (None, ""):
        queryset = queryset.filter(status=filters["status"])
    if filters.get("method"):
        queryset = queryset.filter(method=filters["method"].upper())
    return queryset


def change_list(*, scope: LogScope, filters: dict) -> QuerySet:
    stores = scope.stores
    queryset = _common(ChangeEvent.objects.all(), filters)
    if stores is not None:
        queryset = queryset.filter(store_id__in=stores)
    if filters.get("model"):
        queryset = queryset.filter(model=filters["model"].lower())
    if filters.get("object_id"):
        queryset = queryset.filter(object_id=filters["object_id"])
    return queryset


def signin_list(*, scope: LogScope, filters: dict) -> QuerySet:
    stores = scope.stores
    queryset = _common(SignInEvent.objects.all(), filters)
    if stores is not None:
        queryset = queryset.filter(user_id__in=scope.store_users)
    if filters.get("username"):
        queryset = queryset.filter(username__iexact=filters["username"])
    for name in ("outcome", "ip"):
        if filters.get(name):
            queryset = queryset.filter(**{name: filters[name]})
    return queryset
