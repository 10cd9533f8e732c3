"""PostgreSQL backend that carries the current tenant into every transaction.

Row-level security policies compare `tenant_id` with the setting `kassa.tenant_id`. Before a
statement runs, this backend makes sure the setting in the current transaction equals the
tenant of the current context, with `set_config(..., true)` so it ends with the transaction
and can never leak to the next request on a reused connection. Outside a transaction, a
statement under a tenant is wrapped in a short one of its own.
"""

from django.db import transaction
from django.db.backends.postgresql import base as postgresql
from psycopg import pq

from core import embedded
from tenants.context import current_tenant_id
from tenants.db.creation import DatabaseCreation

SET_TENANT_SQL = "SELECT set_config('kassa.tenant_id', %s, true)"


def _apply_tenant(connection, wanted: str) -> None:
    # On the raw connection, so it neither re-enters this wrapper nor uses a named cursor.
    connection.connection.execute(SET_TENANT_SQL, (wanted,))
    connection.kassa_tenant_in_transaction = wanted


def tenant_guard(execute, sql, params, many, context):
    connection = context["connection"]
    tenant_id = current_tenant_id()
    wanted = str(tenant_id) if tenant_id is not None else ""
    if connection.get_autocommit():
        if not wanted:
            return execute(sql, params, many, context)
        with transaction.atomic(using=connection.alias):
            _apply_tenant(connection, wanted)
            return execute(sql, params, many, context)
    status = connection.connection.info.transaction_status
    if status == pq.TransactionStatus.IDLE:
        # The statement will open a new transaction: any earlier local setting is gone.
        connection.kassa_tenant_in_transaction = ""
    # (None means unknown, after a rollback: always set it again.)
    if connection.kassa_tenant_in_transaction != wanted and status != pq.TransactionStatus.INERROR:
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

    def get_connection_params(self):
        if self.settings_dict.get("EMBEDDED"):
            self.settings_dict["HOST"] = embedded.ensure_postgres()
        return super().get_connection_params()
