"""PostgreSQL backend that carries the current tenant into every transaction.

Row-level security policies compare `tenant_id` with the setting `kassa.tenant_id`. Before a
statement runs, this backend makes sure the setting in the current transaction equals the
tenant of the current context, with `set_config(..., true)` so it ends with the transaction
and can never leak to the next request on a reused connection. Outside a transaction, a
statement under a tenant is wrapped in a short one of its own, except a SELECT with parameters
(or a prepared write where no other wrapper prepends to statements, `_foldable`): it is
sent with its set_config as one query string, which PostgreSQL runs as one implicit transaction
(one round trip instead of BEGIN, set_config, the statement and COMMIT).

A hot statement written once (`prepared`) is prepared once per connection with SQL's PREPARE and
sent as EXECUTE: PostgreSQL then neither parses nor plans it again (planning under row-level
security was ~2.7 ms of the database's CPU a sale; bench/RESULTS.md, sixth pass).
"""

import functools
import hashlib
import re
import select

from django.conf import settings
from django.db import transaction
from django.db.backends.postgresql import base as postgresql
from psycopg import pq

from core import embedded
from tenants.context import current_tenant_id
from tenants.db.creation import DatabaseCreation

SET_TENANT_SQL = "SELECT set_config('kassa.tenant_id', %s, true)"
# The same, sent in one round trip with the statement it comes before (see `_fold_tenant`).
FOLDED_TENANT_SQL = "SELECT set_config('kassa.tenant_id', %s, true); "
# At most this many statements prepared on one connection; any other is sent whole.
PREPARED_MAX = 200


class Prepared(str):
    """A statement to send as EXECUTE of a copy prepared on its connection (`prepared`)."""

    name: str
    definition: str  # PREPARE <name> AS <the statement, placeholders numbered>
    execute: str  # EXECUTE <name>(<the placeholders, in their numbers' order>)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


@functools.lru_cache(maxsize=512)  # the same text, the same statement (rows_insert builds its text per call)
def prepared(sql: str) -> Prepared:
    """Mark `sql` (`%s` or `%(name)s` placeholders, not both) to be prepared once per connection.

    PREPARE is sent before the first EXECUTE on a connection and kept by the server for the
    connection's life (a rollback does not undo it); the EXECUTE goes like the statement would,
    its values bound by the client as before, so the tenant's set_config is folded in front of a
    prepared SELECT as in front of a SELECT, and row-level security applies when it runs. Not
    through a transaction-mode PgBouncer (the next transaction may reach a server that never saw
    the PREPARE): there the statement is sent whole. Spell the columns out (no `SELECT *`): a
    prepared statement's result may not change shape after a migration.
    """
    statement = Prepared(sql)
    kind = "read" if sql.lstrip()[:6].upper() == "SELECT" else "write"
    statement.name = f"kassa_{kind}_{hashlib.sha256(sql.encode()).hexdigest()[:24]}"
    given: list[str] = []  # the EXECUTE's placeholders, the n-th for $n

    def number(match) -> str:
        if match.group() == "%%":
            return "%"
        if match.group(1) is None:
            given.append("%s")
            return f"${len(given)}"
        named = f"%({match.group(1)})s"  # the same name is the same parameter
        if named not in given:
            given.append(named)
        return f"${given.index(named) + 1}"

    statement.definition = f"PREPARE {statement.name} AS " + _PLACEHOLDER.sub(number, sql)
    statement.execute = f"EXECUTE {statement.name}" + (f"({', '.join(given)})" if given else "")
    return statement


def _read_prepared(sql) -> bool:
    return isinstance(sql, Prepared) and sql.name.startswith("kassa_read_")


def _prepare(connection, statement: Prepared) -> None:
    # On the raw connection, so it neither re-enters this wrapper nor takes pghistory's context.
    with connection.wrap_database_errors:
        connection.connection.execute(statement.definition)


def _executable(sql, params, many, context):
    """What to send for `sql`: the EXECUTE of a prepared statement (preparing it first on this
    connection), or `sql` itself (also in a failed transaction, which refuses the PREPARE: the
    statement then fails as it would have)."""
    if not isinstance(sql, Prepared) or many or settings.KASSA_DB_TRANSACTION_POOLING:
        return sql
    connection = context["connection"]
    raw = connection.connection
    done = getattr(raw, "kassa_prepared", None)
    if done is None:
        done = raw.kassa_prepared = set()  # a new (reconnected) connection has none
    if sql.name not in done:
        if len(done) >= PREPARED_MAX or raw.info.transaction_status == pq.TransactionStatus.INERROR:
            return str(sql)
        _prepare(connection, sql)
        done.add(sql.name)
    return sql.execute


def _apply_tenant(connection, wanted: str) -> None:
    # On the raw connection, so it neither re-enters this wrapper nor uses a named cursor.
    connection.connection.execute(SET_TENANT_SQL, (wanted,))
    connection.kassa_tenant_in_transaction = wanted


def _foldable(sql, params, many, context, *, writes: bool = False) -> bool:
    """A SELECT with positional parameters on an unnamed cursor: the tenant's set_config can
    go in front of it in the same query string (one round trip, run in order by the server).
    Not a write: pghistory puts its context in front of writes only (it skips statements that
    start with SELECT), so a write keeps its own set_config; not a named cursor (DECLARE …
    FOR takes one statement); not without parameters (a bare `%` would then be read as one).
    A `prepared` SELECT is folded likewise, in front of its EXECUTE. With `writes` (autocommit:
    the webhook worker's record of an attempt), a prepared write too, when no other wrapper is on
    the connection: pghistory's is there only while a request's `pghistory.context` is open."""
    if many or not isinstance(params, list | tuple) or not params:
        return False
    if writes and isinstance(sql, Prepared) and sql.name.startswith("kassa_write_"):
        return len(context["connection"].execute_wrappers) == 1
    return (
        isinstance(sql, str)
        and sql.lstrip()[:6].upper() == "SELECT"
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
    result = execute(
        FOLDED_TENANT_SQL + _executable(sql, params, many, context), (wanted, *params), many, context
    )
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
            return execute(_executable(sql, params, many, context), params, many, context)
        if _foldable(sql, params, many, context, writes=True):
            return _fold_tenant(execute, sql, params, many, context, wanted, False)  # not in a transaction
        with transaction.atomic(using=connection.alias):
            _apply_tenant(connection, wanted)
            return execute(_executable(sql, params, many, context), params, many, context)
    status = connection.connection.info.transaction_status
    if status == pq.TransactionStatus.IDLE:
        # The statement will open a new transaction: any earlier local setting is gone.
        connection.kassa_tenant_in_transaction = ""
    # (None means unknown, after a rollback: always set it again.)
    stale = connection.kassa_tenant_in_transaction != wanted
    if status != pq.TransactionStatus.INERROR and not _is_savepoint(sql) and (stale or _read_prepared(sql)):
        if wanted and _foldable(sql, params, many, context):
            # A prepared SELECT gets the set_config in front even when it is set: its EXECUTE
            # does not start with SELECT, so pghistory would put its context there instead.
            return _fold_tenant(execute, sql, params, many, context, wanted)
        if stale:
            _apply_tenant(connection, wanted)
    return execute(_executable(sql, params, many, context), params, many, context)


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

    def init_connection_state(self):
        super().init_connection_state()
        if self.connection is not None and not settings.KASSA_DB_TRANSACTION_POOLING:
            # The `prepared` statements' plan made once, not for each EXECUTE: left to choose,
            # PostgreSQL kept planning those with an array parameter anew (its generic estimate of
            # `= ANY($1)` looks worse), and their generic plans are the same index scans. Only named
            # prepared statements follow this; Django's other statements are planned as before.
            # A SET of the session, in autocommit (a SET inside a transaction would go with its
            # rollback); not a startup option, which PgBouncer refuses.
            self.connection.execute("SET plan_cache_mode = force_generic_plan")
            if not self.get_autocommit():
                self.connection.commit()
