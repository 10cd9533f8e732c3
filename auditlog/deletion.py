"""Deleting a tenant's rows where some tables are append-only audit tables.

The audit tables refuse UPDATE always and DELETE from anyone but their owner
(`auditlog_refuse_change`, migration 0012); so do closed shifts and Z reports (inventory 0006,
`kassa_kept_delete`). The one way in at run time is
`kassa_audit_delete(table, ids)`: SECURITY DEFINER, executable by the maintenance role only,
deleting the listed entries of the tenant selected. Retention, erasure, restore and purge delete
through `rows_delete`, which takes that way for audit tables and a plain DELETE for the others.
Call it on a cursor of `tenants.maintenance.maintenance_transaction`.
"""

from __future__ import annotations

from tenants.maintenance import quote

# Platform events naming a terminated or purged tenant: deleted by a purge only, through
# kassa_platform_events_delete() (migration 0012).
PLATFORM_EVENTS = "auditlog_platformevent"
# The tables kassa_audit_delete() accepts.
DELETABLE_TABLES = frozenset(
    {
        "auditlog_access",
        "auditlog_apicall",
        "auditlog_signinevent",
        "auditlog_change",
        "auditlog_seal",
        "auditlog_sealedentry",
    }
)
# Other append-only tables, deleted through kassa_kept_delete() (inventory 0006): closed shifts
# and Z reports. (Names only: auditlog knows no inventory model.)
KEPT_TABLES = frozenset({"inventory_shift", "inventory_shiftreport"})


def rows_delete(cursor, table: str, *, where: str, params: list, limit: int | None = None) -> int:
    """Delete the rows of `table` matching `where` (at most `limit`); return how many went.

    `table` is a name read from the catalogue; `where` is SQL of the caller's with %s parameters.
    """
    bound = f" LIMIT {int(limit)}" if limit is not None else ""
    if table == PLATFORM_EVENTS:
        cursor.execute(
            f"SELECT kassa_platform_events_delete(ARRAY(SELECT id FROM {quote(table)} WHERE {where}{bound}))",  # noqa: S608
            params,
        )
        return cursor.fetchone()[0]
    if table in DELETABLE_TABLES:
        cursor.execute(
            f"SELECT kassa_audit_delete(%s::regclass, ARRAY(SELECT id FROM {quote(table)} WHERE {where}{bound}))",  # noqa: S608
            [table, *params],
        )
        return cursor.fetchone()[0]
    if table in KEPT_TABLES:
        cursor.execute(
            f"SELECT kassa_kept_delete(%s::regclass, ARRAY(SELECT id FROM {quote(table)} WHERE {where}{bound}))",  # noqa: S608
            [table, *params],
        )
        return cursor.fetchone()[0]
    if limit is None:
        cursor.execute(f"DELETE FROM {quote(table)} WHERE {where}", params)  # noqa: S608
    else:
        cursor.execute(
            f"DELETE FROM {quote(table)} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {quote(table)} WHERE {where}{bound}))",  # noqa: S608
            params,
        )
    return cursor.rowcount
