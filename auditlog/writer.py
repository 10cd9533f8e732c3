"""The access log's write path: prepared INSERTs on a connection of its own, in autocommit.

A request's transaction may roll back; this connection is separate, so its entry stays. The
tenant is set inside each statement (a CTE), so row-level security checks the row with no ORM.
An API request writes two entries in one statement (one round trip, one commit): the access row
in a data-modifying CTE, the API-call row after it; if that fails, the access row is committed on
its own and the API-call row tried after it: an API-call row that cannot be written never takes
the access row with it. One plain statement, not psycopg's pipeline mode: a pipeline sends a Sync
per step and one more at its end, and PgBouncer before 1.21 in transaction mode hands the server
back at the first idle ReadyForQuery, so the trailing one strands a server on this connection and
a small pool deadlocks (tests/deploy/test_pgbouncer.py, about one run in ten under load).
"""

import contextlib
import threading

import psycopg
from django.conf import settings
from django.db import connections

_local = threading.local()
_opened: set = set()  # every thread's connection, so close_all can end them (test teardown)
_lock = threading.Lock()

ACCESS_SQL = """
WITH t AS MATERIALIZED (SELECT set_config('kassa.tenant_id', %s, true))
INSERT INTO auditlog_access (created_at, tenant_id, request_id, user_id, token_id, support_grant_id,
  store_id, ip, host, method, path, query, status, duration_ms, user_agent)
SELECT %s::timestamptz, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::inet, %s::text,
  %s::text, %s::text, %s::text, %s::smallint, %s::float8, %s::text FROM t
"""

API_CALL_SQL = """
WITH t AS MATERIALIZED (SELECT set_config('kassa.tenant_id', %s, true))
INSERT INTO auditlog_apicall (created_at, tenant_id, request_id, user_id, token_id, store_id, method,
  path, query, request_headers, request_body, request_truncated, status, response_body,
  response_truncated)
SELECT %s::timestamptz, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::text, %s::text,
  %s::text, %s::jsonb, %s::text, %s::boolean, %s::smallint, %s::text, %s::boolean FROM t
"""

# Both rows in one statement: the API-call row is written only with its access row.
ACCESS_AND_API_CALL_SQL = """
WITH t AS MATERIALIZED (SELECT set_config('kassa.tenant_id', %s, true)),
access AS (
  INSERT INTO auditlog_access (created_at, tenant_id, request_id, user_id, token_id, support_grant_id,
    store_id, ip, host, method, path, query, status, duration_ms, user_agent)
  SELECT %s::timestamptz, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::inet, %s::text,
    %s::text, %s::text, %s::text, %s::smallint, %s::float8, %s::text FROM t
  RETURNING 1
)
INSERT INTO auditlog_apicall (created_at, tenant_id, request_id, user_id, token_id, store_id, method,
  path, query, request_headers, request_body, request_truncated, status, response_body,
  response_truncated)
SELECT %s::timestamptz, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::uuid, %s::text, %s::text,
  %s::text, %s::jsonb, %s::text, %s::boolean, %s::smallint, %s::text, %s::boolean FROM t, access
"""

# Platform events go in through functions only (migration 0013): no role may INSERT them.
PLATFORM_SQL = """
SELECT kassa_platform_event(%s::timestamptz, %s::text, %s::uuid, %s::text, %s::text, %s::uuid, %s::jsonb)
"""
# The exemptions verify_audit trusts: the maintenance role's alone (auditlog.services.exemption_record).
EXEMPTION_SQL = """
SELECT kassa_platform_exemption(%s::timestamptz, %s::text, %s::uuid, %s::text, %s::text, %s::uuid, %s::jsonb)
"""


def _connect() -> psycopg.Connection:
    params = connections["audit"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["autocommit"] = True
    # Every statement prepared (parsed and planned once), except through a transaction-mode
    # PgBouncer, where the next statement may reach a server that never saw the PREPARE.
    params["prepare_threshold"] = None if settings.KASSA_DB_TRANSACTION_POOLING else 0
    return psycopg.connect(**params)


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = _connect()
        with _lock:
            _opened.add(conn)
    return conn


def execute(sql: str, params: tuple) -> None:
    """Run one statement; on a broken connection reconnect once and try again."""
    try:
        _connection().execute(sql, params)
    except psycopg.OperationalError:
        close()
        _connection().execute(sql, params)


class ApiCallNotWritten(Exception):
    """The access row was written; the API-call row of the same request was not."""


def execute_access_and_api_call(access: tuple, api_call: tuple) -> None:
    """The access row, then the API-call row: in one statement (one round trip, one commit) when
    both can be written; otherwise the access row committed on its own, then the API-call row.

    Raises the access row's error when that failed (nothing was written), else
    ApiCallNotWritten when only the API-call row failed.
    """
    try:
        # The API-call row's own tenant parameter is the CTE's, already given with the access row.
        execute(ACCESS_AND_API_CALL_SQL, access + api_call[1:])
        return
    except psycopg.OperationalError:
        close()  # a broken connection: the statements below reconnect
    except psycopg.Error:
        pass  # one of the rows was refused: each on its own, the access row first
    execute(ACCESS_SQL, access)
    try:
        execute(API_CALL_SQL, api_call)
    except psycopg.Error as error:
        raise ApiCallNotWritten(str(error)) from error


def close() -> None:
    """Close this thread's connection."""
    conn = getattr(_local, "conn", None)
    _local.conn = None
    if conn is not None:
        with _lock:
            _opened.discard(conn)
        with contextlib.suppress(psycopg.Error):
            conn.close()


def close_all() -> None:
    """Close every thread's connection (before the test database is dropped)."""
    with _lock:
        opened = list(_opened)
        _opened.clear()
    for conn in opened:
        with contextlib.suppress(psycopg.Error):
            conn.close()
