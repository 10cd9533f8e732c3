"""PostgreSQL backend that carries the current tenant into every transaction.

Row-level security policies compare `tenant_id` with the setting `kassa.tenant_id`. Before a
statement runs, this backend makes sure the setting in the current transaction equals the
tenant of the current context, with `set_config(..., true)` so it ends with the transaction
and can never leak to the next request on a reused connection. Outside a transaction, a
statement under a tenant is wrapped in a short one of its own, except a SELECT with parameters:
it is sent with its set_config as one query string, which PostgreSQL runs as one implicit
transaction (one round trip instead of BEGIN, set_config, the statement and COMMIT).
"""

import select

from django.db import transaction
from django.db.backends.postgresql import base as postgresql
from psycopg import pq

from core import embedded
from tenants.context import current_tenant_id
from tenants.db.creation import DatabaseCreation

SET_TENANT_SQL = "SELECT set_config('kassa.tenant_id', %s, true)"
# The same, sent in one round trip with the statement it comes before (see `_fold_tenant`).
FOLDED_TENANT_SQL = "SELECT set_config('kassa.tenant_id', %s, true); "
READ_PREPARED = "EXECUTE kassa_read_"


def _apply_tenant(connection, wanted: str) -> None:
    # On the raw connection, so it neither re-enters this wrapper nor uses a named cursor.
    connection.connection.execute(SET_TENANT_SQL, (wanted,))
    connection.kassa_tenant_in_transaction = wanted


def _foldable(sql, params, many, context) -> bool:
    """A SELECT with positional parameters on an unnamed cursor: the tenant's set_config can
    go in front of it in the same query string (one round trip, run in order by the server).
    Not a write: pghistory puts its context in front of writes only (it skips statements that
    start with SELECT), so a write keeps its own set_config; not a named cursor (DECLARE …
    FOR takes one statement); not without parameters (a bare `%` would then be read as one).
    The EXECUTE of a prepared SELECT named `kassa_read_…` (accounts.tokens) is folded likewise."""
    return (
        not many
        and isinstance(params, list | tuple)
        and len(params) > 0
        and isinstance(sql, str)
        and (sql.lstrip()[:6].upper() == "SELECT" or sql.startswith(READ_PREPARED))
        and not getattr(context["cursor"].cursor, "name", None)
    )


def _is_savepoint(sql) -> bool:
    """SAVEPOINT and RELEASE touch no row: the setting can wait for the next statement (a
    rollback to a savepoint marks it unknown, `_savepoint_rollback`)."""
    return isinstance(sql, str) and sql[:10] in ("SAVEPOINT ", "RELEASE SA")


def _fold_tenant(execute, sql, params, many, context, wanted: str, in_transaction: bool = True):
    """`set_config` and the statement as one query string; the cursor is left on the statement's
    result. The two run in order in one implicit step of the transaction. Outside a transaction
    (autocommit), the server runs a query string of several statements as one implicit
    transaction: the setting is local to it and gone when it ends, as with BEGIN … COMMIT."""
    result = execute(FOLDED_TENANT_SQL + sql, (wanted, *params), many, context)
    if in_transaction:
        context["connection"].kassa_tenant_in_transaction = wanted
    while result is not None and result.nextset():
        pass
    return result


def tenant_guard(execute, sql, params, many, context):
    connection = context["connection"]
    tenant_id = current_tenant_id()
    wanted = str(tenant_id) if tenant_id is not None else ""
    if connection.get_autocommit():
        if not wanted:
            return execute(sql, params, many, context)
        if _foldable(sql, params, many, context):
            return _fold_tenant(execute, sql, params, many, context, wanted, False)  # not in a transaction
        with transaction.atomic(using=connection.alias):
            _apply_tenant(connection, wanted)
            return execute(sql, params, many, context)
    status = connection.connection.info.transaction_status
    if status == pq.TransactionStatus.IDLE:
        # The statement will open a new transaction: any earlier local setting is gone.
        connection.kassa_tenant_in_transaction = ""
    # (None means unknown, after a rollback: always set it again.)
    if (
        connection.kassa_tenant_in_transaction != wanted
        and status != pq.TransactionStatus.INERROR
        and not _is_savepoint(sql)
    ):
        if wanted and _foldable(sql, params, many, context):
            return _fold_tenant(execute, sql, params, many, context, wanted)
        _apply_tenant(connection, wanted)
    return execute(sql, params, many, context)


class DatabaseWrapper(postgresql.DatabaseWrapper):
    creation_class = DatabaseCreation

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kassa_tenant_in_transaction = ""
        self.execute_wrappers.append(tenant_guard)

    def _savepoint_rollback(self, sid):
        # A setting made inside the savepoint is undone with it: make the next statement set it again.
        super()._savepoint_rollback(sid)
        self.kassa_tenant_in_transaction = None

    def _rollback(self):
        super()._rollback()
        self.kassa_tenant_in_transaction = None

    def is_usable(self):
        """Django's health check (CONN_HEALTH_CHECKS), without its round trip when nothing arrived.

        A server that ended an idle connection (a failover, a restart, pg_terminate_backend) has
        left its FATAL message or the end of the stream on the socket; a live idle connection has
        nothing there. Only then, or inside a transaction, is Django's `SELECT 1` sent: one round
        trip fewer a request. A server gone without a word is found by the next statement either
        way (the `SELECT 1` would have waited for it as well).
        """
        raw = self.connection
        if raw is None or raw.closed:
            return False
        if raw.info.transaction_status == pq.TransactionStatus.IDLE:
            waiting = select.poll()  # not select(): it refuses descriptors above 1023
            waiting.register(raw.fileno(), select.POLLIN)
            if not waiting.poll(0):
                return True
        return super().is_usable()

    def get_connection_params(self):
        if self.settings_dict.get("EMBEDDED"):
            self.settings_dict["HOST"] = embedded.ensure_postgres()
        return super().get_connection_params()
