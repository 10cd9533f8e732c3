"""Privileged work: what only the maintenance role may do, and only where its credentials are.

The maintenance role (docs/architecture.md "Three database roles") runs erasure, restore, purge,
retention, backups, drills, onboarding and termination. Its credentials exist only in the
privileged worker (`KASSA_PROCESS=privileged-worker`, consuming the privileged Celery queue,
settings.KASSA_PRIVILEGED_TASKS) and in manage.py; a web process or a plain worker has no
`maintenance` database alias at all, so everything here raises `MaintenanceUnavailable` there.

- `as_maintenance()` (a context manager, or a decorator as `@as_maintenance()`): the ORM's default
  connection acts as the maintenance role inside it. In the privileged worker and manage.py it
  already is, so this only checks; the test suite's connections act as the application role and
  switch here, inside the test's transaction. Privileged services wear it, so no caller can
  forget it, and a web process calling one fails before it touches the database.
- `maintenance_transaction(tenant)`: a transaction on the maintenance role's second connection
  with the tenant selected (row-level security still applies), yielding a cursor: for raw SQL
  over a tenant's tables (backups, restores, imports, purges, erasure, retention), and, with
  `snapshot=True`, one consistent read-only snapshot while progress goes on the default one.
- `tenant_transaction(tenant, using=...)`: the same on any alias (exports read a snapshot as the
  application role: they need no privilege).

SQL built by callers names tables and columns read from the catalogue (tenants.catalogue),
quoted with `quote`; every value is a bound parameter or a UUID literal made by `uuid_literal`.
The append-only audit tables are changed only through `kassa_audit_delete()` (auditlog.purging).
"""

from __future__ import annotations

import contextvars
import uuid
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from psycopg import pq

from tenants.context import tenant_context
from tenants.models import Tenant

MAINTENANCE = "maintenance"  # the maintenance role's second connection (settings.DATABASES)

_active: contextvars.ContextVar[bool] = contextvars.ContextVar("kassa_as_maintenance", default=False)


class MaintenanceUnavailable(ImproperlyConfigured):
    """This process holds no maintenance credentials (a web process or a plain worker)."""

    def __init__(self):
        super().__init__(
            f"privileged work needs the maintenance role, which a {settings.KASSA_PROCESS} process does not "
            "hold: it runs in the privileged worker (privileged queue) or manage.py"
        )


def maintenance_available() -> bool:
    return MAINTENANCE in settings.DATABASES


def quote(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def uuid_literal(value) -> str:
    """A UUID as an SQL literal (the value is parsed first, so nothing else gets through)."""
    return f"'{uuid.UUID(str(value))}'::uuid"


@contextmanager
def as_maintenance():
    """`with as_maintenance():` or `@as_maintenance()`: the default connection is the maintenance role.

    In the privileged worker and manage.py the default connection logs in as the maintenance role,
    so nothing is done. The test suite's connections log in as it but act as the application role
    (`-c role=...`): they step up here with SET ROLE and back on the way out, inside the caller's
    transaction. Outside a privileged process it raises before touching the database.
    """
    if not maintenance_available():
        raise MaintenanceUnavailable()
    if _active.get():
        yield
        return
    connection = connections["default"]
    wanted = settings.KASSA_DB_ROLES["maintenance"]
    switch = "role=" in connection.settings_dict.get("OPTIONS", {}).get("options", "")
    previous = None
    if switch:
        connection.ensure_connection()
        raw = connection.connection
        previous = raw.execute("SELECT current_user").fetchone()[0]
        if previous != wanted:
            raw.execute(f"SET ROLE {quote(wanted)}")
        else:
            previous = None
    token = _active.set(True)
    try:
        yield
    finally:
        _active.reset(token)
        raw = connection.connection
        # Inside a transaction that failed, its rollback undoes the SET ROLE.
        if (
            previous is not None
            and raw is not None
            and not raw.closed
            and raw.info.transaction_status != pq.TransactionStatus.INERROR
        ):
            raw.execute(f"SET ROLE {quote(previous)}")


@contextmanager
def tenant_transaction(tenant: Tenant, *, using: str, snapshot: bool = False):
    """A transaction on the `using` connection with `tenant` selected; yields a cursor."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if snapshot:
            with tenant_context(None):  # must come before any query of the transaction
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with tenant_context(tenant):
            cursor.execute("SELECT set_config('kassa.tenant_id', %s, true)", [str(tenant.pk)])
            yield cursor


@contextmanager
def maintenance_transaction(tenant: Tenant, *, snapshot: bool = False):
    """A transaction as the maintenance role with `tenant` selected; yields a cursor.

    On the maintenance role's own connection (alias `maintenance`), beside the default one: a
    job's progress written through the ORM is visible while this transaction runs. Row-level
    security applies; audit entries are deleted only through `kassa_audit_delete()`.
    """
    if not maintenance_available():
        raise MaintenanceUnavailable()
    with tenant_transaction(tenant, using=MAINTENANCE, snapshot=snapshot) as cursor:
        yield cursor


def migration_state(cursor=None) -> dict[str, list[str]]:
    """app -> the names of its applied migrations, as a backup or export manifest records them."""
    if cursor is None:
        with connections["default"].cursor() as own:
            return migration_state(own)
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    state: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        state.setdefault(app, []).append(name)
    return state
