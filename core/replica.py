"""Reads that may come from a streaming replica: the audit review and reports.

A view opts in with `@reads_from_replica` (or a block with `with replica_reads():`). Inside,
the router sends reads to the `replica` alias (settings DATABASE_REPLICA_URL) while the replica
is at most KASSA_REPLICA_MAX_LAG_SECONDS behind, and to the primary otherwise or when the
replica does not answer. Writes never go there: `db_for_write` never names it, a locking read
(`select_for_update`) is routed as a write, and the replica's connections open every
transaction read only (`default_transaction_read_only`), so even raw SQL cannot write.
Row-level security holds on the replica as on the primary: its connections carry the tenant
the same way (tenants.db).
"""

import functools
import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, connections

ALIAS = "replica"
CHECK_SECONDS = 1.0  # how long one lag measurement is trusted in this process

_wanted: ContextVar[bool] = ContextVar("kassa_replica_reads", default=False)
_checked: dict[str, float] = {"at": float("-inf"), "lag": float("inf")}
log = logging.getLogger(__name__)

# On a replica: 0 while its WAL receiver runs and it has replayed everything received, else
# the age of the last replayed transaction. On a primary (a promoted replica): 0. (The app role
# sees only the receiver's pid, not its status: pg_stat_wal_receiver hides the rest without
# pg_read_all_stats. A receiver that lost its primary exits and retries every few seconds.)
LAG_SQL = """
SELECT CASE
  WHEN NOT pg_is_in_recovery() THEN 0
  WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
   AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE pid IS NOT NULL) THEN 0
  ELSE COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 'Infinity')
END::float8
"""


def configured() -> bool:
    return ALIAS in settings.DATABASES


def replica_lag() -> float:
    """Seconds the replica is behind (infinity when it does not answer); measured at most once a second."""
    now = time.monotonic()
    if now - _checked["at"] < CHECK_SECONDS:
        return _checked["lag"]
    connection = connections[ALIAS]
    try:
        connection.close_if_unusable_or_obsolete()
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL)
            lag = float(cursor.fetchone()[0])
    except DatabaseError as error:
        log.warning("replica unreachable, reading from the primary: %s", error.__class__.__name__)
        connection.close()
        lag = float("inf")
    _checked.update(at=now, lag=lag)
    return lag


def read_alias() -> str | None:
    """The replica when reads may go there and it is fresh enough; None: the primary (default)."""
    if not _wanted.get() or not configured():
        return None
    if replica_lag() > settings.KASSA_REPLICA_MAX_LAG_SECONDS:
        return None
    return ALIAS


@contextmanager
def replica_reads():
    """Within the block, reads may come from a fresh replica."""
    token = _wanted.set(True)
    try:
        yield
    finally:
        _wanted.reset(token)


def reads_from_replica(view):
    """A read-only view whose queries may come from a fresh replica."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        with replica_reads():
            return view(*args, **kwargs)

    return wrapped


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        return read_alias()

    def db_for_write(self, model, **hints):
        return None  # the primary, always

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == ALIAS else None
