"""Reads of the audit log, scoped by the reader's permissions.

`view_chain_logs`: every entry of the chain. `view_store_logs`: entries recorded with one of
the reader's stores (`store_id` — the store a request named, or the store column of a changed
row); sign-ins of users assigned to one of those stores. Neither: PermissionDenied.
Row-level security keeps every other tenant's rows (and the platform's) out in any case.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from accounts import authz
from accounts.models import RoleAssignment
from accounts.permissions import VIEW_CHAIN_LOGS, VIEW_STORE_LOGS
from auditlog.models import AccessEvent, ApiCall, ChangeEvent, SignInEvent


def _stores(user) -> set | None:
    """None: the whole chain; else the store ids the user may read the logs of."""
    if authz.can(user, VIEW_CHAIN_LOGS):
        return None
    stores = authz.store_ids(user, VIEW_STORE_LOGS)
    if stores is None:
        return None
    if not stores:
        raise PermissionDenied("You may not read the audit log.")
    return stores


def _common(queryset: QuerySet, filters: dict, user_field: str = "user_id") -> QuerySet:
    if filters.get("since"):
        queryset = queryset.filter(created_at__gte=filters["since"])
    if filters.get("until"):
        queryset = queryset.filter(created_at__lt=filters["until"])
    if filters.get("user"):
        queryset = queryset.filter(**{user_field: filters["user"]})
    return queryset


def access_list(*, reader, filters: dict) -> QuerySet:
    stores = _stores(reader)
    queryset = _common(AccessEvent.objects.all(), filters)
    if stores is not None:
        queryset = queryset.filter(store_id__in=stores)
    for name in ("ip", "host", "status"):
        if filters.get(name) not in (None, ""):
            queryset = queryset.filter(**{name: filters[name]})
    if filters.get("method"):
        queryset = queryset.filter(method=filters["method"].upper())
    return queryset


def api_call_list(*, reader, filters: dict) -> QuerySet:
    stores = _stores(reader)
    queryset = _common(ApiCall.objects.all(), filters)
    if stores is not None:
        queryset = queryset.filter(store_id__in=stores)
    if filters.get("status") not in (None, ""):
        queryset = queryset.filter(status=filters["status"])
    if filters.get("method"):
        queryset = queryset.filter(method=filters["method"].upper())
    return queryset


def change_list(*, reader, filters: dict) -> QuerySet:
    stores = _stores(reader)
    queryset = _common(ChangeEvent.objects.all(), filters)
    if stores is not None:
        queryset = queryset.filter(store_id__in=stores)
    if filters.get("model"):
        queryset = queryset.filter(model=filters["model"].lower())
    if filters.get("object_id"):
        queryset = queryset.filter(object_id=filters["object_id"])
    return queryset


def signin_list(*, reader, filters: dict) -> QuerySet:
    stores = _stores(reader)
    queryset = _common(SignInEvent.objects.all(), filters)
    if stores is not None:
        users = RoleAssignment.objects.filter(store_id__in=stores).values("user_id")
        queryset = queryset.filter(user_id__in=users)
    if filters.get("username"):
        queryset = queryset.filter(username__iexact=filters["username"])
    for name in ("outcome", "ip"):
        if filters.get(name):
            queryset = queryset.filter(**{name: filters[name]})
    return queryset
