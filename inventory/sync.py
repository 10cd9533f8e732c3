"""Delta sync: `updated_at` kept by the database, and the horizon that makes a keyset walk exact.

Every synced table has a BEFORE INSERT OR UPDATE trigger, `kassa_sync_stamp`, that sets
`updated_at` to `clock_timestamp()` whenever the row really changed (an UPDATE that changes
nothing keeps its stamp), so the ORM, `bulk_update`, raw SQL and the owner's scripts all move
it. A list walked in `(updated_at, id)` order would still skip a row in one case: a
transaction that stamped its rows early but committed late, after a reader had already paged
past those stamps. So a writing transaction also takes a *shared* advisory lock that names its
tenant and the second it started (`pg_advisory_xact_lock_shared(hashtext('kassa.sync:' ||
tenant), seconds since 2024)`): writers never wait for each other, and the lock is visible in
`pg_locks` until the transaction ends. A reader first takes the time, then looks for such
locks of its tenant: `kassa_sync_horizon(tenant)` is the earlier of that time and the oldest
locked second. Every row stamped before the horizon is committed and visible to the reader's
next statement; rows of transactions still running are stamped at or after it. A page
therefore ends at the horizon and never passes a row that may still appear.

The horizon lags a running write transaction of the same tenant by at most its duration plus
one second; nothing else waits. A restore or an import keeps the stamps it loads
(`KEEP_STAMPS_SQL`), so an integrator syncs again from the start after a restore.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db import connection
from django.db.migrations.operations.base import Operation

# Seconds are counted from here so that they fit the lock's 32-bit key until 2092.
EPOCH = 1704067200  # 2024-01-01T00:00:00Z, written out in the SQL below

FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION kassa_sync_lock_key(tenant uuid) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT hashtext('kassa.sync:' || tenant::text) $$;

CREATE OR REPLACE FUNCTION kassa_sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('kassa.sync_keep', true) = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RETURN NEW;  -- a restore or an import keeps the stamps it loads (the tables' owner only)
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := OLD.updated_at;
        IF NEW IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;  -- nothing changed: no new version
        END IF;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(
        kassa_sync_lock_key(NEW.tenant_id), floor(extract(epoch FROM now()) - 1704067200)::int
    );
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION kassa_sync_horizon(tenant uuid) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    started timestamptz := clock_timestamp();  -- before looking at the locks
    oldest bigint;
BEGIN
    SELECT min(l.objid::bigint) INTO oldest
      FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.pid <> pg_backend_pid()
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = (kassa_sync_lock_key(tenant)::bigint & 4294967295)::oid;
    IF oldest IS NULL THEN
        RETURN started;
    END IF;
    RETURN least(started, to_timestamp(1704067200 + oldest));
END $$;
"""

DROP_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS kassa_sync_horizon(uuid);
DROP FUNCTION IF EXISTS kassa_sync_stamp();
DROP FUNCTION IF EXISTS kassa_sync_lock_key(uuid);
"""

# Since inventory 0007: the maintenance role, which restores and imports (tenants.maintenance),
# keeps the stamps too. MAINTENANCE is its name as an SQL literal, filled in by the migration.
STAMP_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION kassa_sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('kassa.sync_keep', true) = 'on'
       AND (current_user = MAINTENANCE
            OR pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER')) THEN
        RETURN NEW;  -- a restore or an import keeps the stamps it loads (maintenance or owner only)
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := OLD.updated_at;
        IF NEW IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;  -- nothing changed: no new version
        END IF;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(
        kassa_sync_lock_key(NEW.tenant_id), floor(extract(epoch FROM now()) - 1704067200)::int
    );
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END $$;
"""

TRIGGER = "kassa_sync_stamp"
# A restore or an import (as the maintenance role or the tables' owner) loads rows with the stamps they had: so their
# checksums compare, and a restore is what the backup held. Any other role's setting is ignored.
KEEP_STAMPS_SQL = "SELECT set_config('kassa.sync_keep', 'on', true)"


class StampUpdatedAt(Operation):
    """Install the `kassa_sync_stamp` trigger on a model's table (its `updated_at` column)."""

    reversible = True

    def __init__(self, model_name: str):
        self.model_name = model_name

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        table = to_state.apps.get_model(app_label, self.model_name)._meta.db_table
        schema_editor.execute(f'DROP TRIGGER IF EXISTS {TRIGGER} ON "{table}"')
        schema_editor.execute(
            f'CREATE TRIGGER {TRIGGER} BEFORE INSERT OR UPDATE ON "{table}" '
            f"FOR EACH ROW EXECUTE FUNCTION kassa_sync_stamp()"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        table = from_state.apps.get_model(app_label, self.model_name)._meta.db_table
        schema_editor.execute(f'DROP TRIGGER IF EXISTS {TRIGGER} ON "{table}"')

    def describe(self):
        return f"Stamp updated_at of {self.model_name} in the database"

    def deconstruct(self):
        return self.__class__.__qualname__, [], {"model_name": self.model_name}


def sync_horizon(*, tenant_id: UUID) -> datetime:
    """The time before which every row of the tenant is committed (see the module's docstring).

    Its own statement: the page read after it takes a newer snapshot (READ COMMITTED).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT kassa_sync_horizon(%s)", [tenant_id])
        return cursor.fetchone()[0]


def synced_models() -> tuple:
    """The models whose lists take `updated_since` (each table has the trigger)."""
    from inventory.models import Category, Customer, Product, Refund, Sale, StockLevel, Supplier

    return (Category, Supplier, Product, Customer, StockLevel, Sale, Refund)


def tables_without_stamp() -> list[str]:
    """The synced models' tables that lack the trigger."""
    tables = [model._meta.db_table for model in synced_models()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = %s AND NOT t.tgisinternal",
            [TRIGGER],
        )
        stamped = {name for (name,) in cursor.fetchall()}
    return [table for table in tables if table not in stamped]
