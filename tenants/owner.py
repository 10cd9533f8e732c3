"""Work on a tenant's rows as the owner role: backups, restores, exports, imports and purges.

The owner connection still has the tenant selected, so row-level security applies; the
append-only audit tables are changed only through their privileged path (`kassa.audit_purge`
set in the transaction, see auditlog). SQL built here names tables and columns read from the
catalogue (tenants.catalogue), quoted with `quote`; every value is a bound parameter or a
UUID literal made by `uuid_literal`.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

from django.db import connections, transaction

from tenants.context import tenant_context
from tenants.models import Tenant

PRIVILEGED_DELETE_SQL = "SELECT set_config('kassa.audit_purge', 'on', true)"


def quote(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def uuid_literal(value) -> str:
    """A UUID as an SQL literal (the value is parsed first, so nothing else gets through)."""
    return f"'{uuid.UUID(str(value))}'::uuid"


@contextmanager
def owner_transaction(tenant: Tenant, *, snapshot: bool = False, privileged: bool = False):
    """A transaction on the owner connection with `tenant` selected; yields a cursor."""
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        if snapshot:
            with tenant_context(None):  # must come before any query of the transaction
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with tenant_context(tenant):
            cursor.execute("SELECT set_config('kassa.tenant_id', %s, true)", [str(tenant.pk)])
            if privileged:
                cursor.execute(PRIVILEGED_DELETE_SQL)
            yield cursor


def migration_state(cursor=None) -> dict[str, list[str]]:
    """app -> the names of its applied migrations, as a backup or export manifest records them."""
    if cursor is None:
        with connections["owner"].cursor() as own:
            return migration_state(own)
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    state: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        state.setdefault(app, []).append(name)
    return state
