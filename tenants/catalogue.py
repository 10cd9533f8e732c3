"""The tenant-owned tables, their keys and foreign keys, read from the PostgreSQL catalogue.

Backups, restores and purges work on whatever tables exist: every table of schema public with
a `tenant_id` column is tenant-owned (the rule row-level security follows too), so a table
another app adds later is covered with no change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.db import connections

from tenants.fields import EncryptedTextField
from tenants.rls import PLATFORM_TABLES

# Left out of backups: data keys (a backup is encrypted with them, and a restore keeps the
# target's keys or makes new ones) and django-axes's lockout counters (minutes-long state, keyed
# by tenant id). A purge deletes them all the same.
NOT_BACKED_UP = frozenset({"tenants_tenantkey", "axes_accessattempt", "axes_accessattemptexpiration"})
# Written by triggers of other tables (auditlog's change capture): a restore loads them last,
# after removing the rows its own inserts and deletes made them write.
TRIGGER_FED_TABLES = ("auditlog_change",)

TABLES_SQL = """
SELECT c.oid, c.relname
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""
COLUMNS_SQL = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attrelid, a.attnum
"""
CONSTRAINTS_SQL = """
SELECT k.conrelid, k.contype, k.confrelid::regclass::text,
       ARRAY(SELECT attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
             JOIN pg_attribute ON attrelid = k.conrelid AND attnum = u.n ORDER BY u.i),
       ARRAY(SELECT attname FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
             JOIN pg_attribute ON attrelid = k.confrelid AND attnum = u.n ORDER BY u.i)
FROM pg_constraint k
WHERE k.conrelid = ANY(%s) AND k.contype IN ('p', 'f')
"""


@dataclass(frozen=True)
class ForeignKey:
    column: str
    table: str
    target_column: str


@dataclass
class Table:
    name: str
    columns: list[str]
    types: dict[str, str]
    primary_key: list[str]
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    sequence: str | None = None  # of a single-column serial or identity primary key
    encrypted: dict[str, str] = field(default_factory=dict)  # column -> purpose

    @property
    def single_key(self) -> str | None:
        return self.primary_key[0] if len(self.primary_key) == 1 else None

    def quoted(self, column: str) -> str:
        return '"' + column.replace('"', '""') + '"'

    @property
    def order_by(self) -> str:
        return ", ".join(self.quoted(c) for c in (self.primary_key or self.columns))


def encrypted_columns() -> dict[tuple[str, str], str]:
    """(table, column) -> purpose of every EncryptedTextField of the installed models."""
    found = {}
    for model in apps.get_models():
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedTextField):
                found[(model._meta.db_table, model_field.column)] = model_field.purpose
    return found


def tenant_tables(*, using: str = "default", backed_up_only: bool = False) -> list[Table]:
    """Every tenant-owned table, parents before the tables that refer to them."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(TABLES_SQL)
        rows = [(oid, name) for oid, name in cursor.fetchall() if name not in PLATFORM_TABLES]
        if backed_up_only:
            rows = [(oid, name) for oid, name in rows if name not in NOT_BACKED_UP]
        oids = [oid for oid, _ in rows]
        tables = {oid: Table(name=name, columns=[], types={}, primary_key=[]) for oid, name in rows}
        cursor.execute(COLUMNS_SQL, [oids])
        for oid, column, column_type in cursor.fetchall():
            tables[oid].columns.append(column)
            tables[oid].types[column] = column_type
        cursor.execute(CONSTRAINTS_SQL, [oids])
        for oid, kind, target, columns, target_columns in cursor.fetchall():
            if kind == "p":
                tables[oid].primary_key = list(columns)
            elif len(columns) == 1:
                tables[oid].foreign_keys.append(ForeignKey(columns[0], target.strip('"'), target_columns[0]))
        for table in tables.values():
            if table.single_key:
                cursor.execute(
                    "SELECT pg_get_serial_sequence(%s, %s)", [table.quoted(table.name), table.single_key]
                )
                table.sequence = cursor.fetchone()[0]
    encrypted = encrypted_columns()
    for table in tables.values():
        table.encrypted = {
            c: encrypted[(table.name, c)] for c in table.columns if (table.name, c) in encrypted
        }
    return _parents_first(list(tables.values()))


def _parents_first(tables: list[Table]) -> list[Table]:
    by_name = {t.name: t for t in tables}
    ordered: list[Table] = []
    placed: set[str] = set()
    remaining = sorted(by_name)
    while remaining:
        ready = [
            name
            for name in remaining
            if all(
                fk.table in placed or fk.table == name or fk.table not in by_name
                for fk in by_name[name].foreign_keys
            )
        ]
        # A cycle (Django's constraints are deferred, so any order works inside one transaction).
        ready = ready or remaining[:1]
        for name in ready:
            ordered.append(by_name[name])
            placed.add(name)
        remaining = [name for name in remaining if name not in placed]
    # Change-log tables last: their rows are written by the others' triggers.
    return [t for t in ordered if t.name not in TRIGGER_FED_TABLES] + [
        t for t in ordered if t.name in TRIGGER_FED_TABLES
    ]


def tenant_table_names(*, using: str = "default") -> list[str]:
    """Every table of schema public with a tenant_id column, platform tables included."""
    with connections[using].cursor() as cursor:
        cursor.execute(TABLES_SQL)
        return [name for _, name in cursor.fetchall()]


# --- what a purge covers beyond the tenant-owned tables ----------------------------------
#
# A tenant's rows are found by `tenant_id`, or by reference: a table without `tenant_id` whose
# foreign key points at the tenant row, at a tenant-owned table (a tenant user, say) or at such
# a referring table is purged by that reference (Django's admin history names its user; a
# backup record its tenant). A few tables name the tenant in a column without a foreign key;
# the rest are declared to hold no tenant data, with the reason. Any other table fails
# kassa.E003, as a table with `tenant_id` and no row-level security fails kassa.E001.

PURGED_BY_COLUMN = {
    "auditlog_platformevent": "subject_tenant",  # platform events naming the tenant (no foreign key)
}
HOLDS_NO_TENANT_DATA = {
    "tenants_tenant": "the tenant row itself: kept by a purge, marked purged",
    "lifecycle_purgecertificate": "the purge certificate: ids, counts and times only; kept",
    "lifecycle_certificateclaim": "the certificate's claim: the tenant's id and a token's SHA-256; kept",
    "django_migrations": "the schema's history",
    "django_content_type": "the models' names",
    "auth_permission": "Django's permission names",
    "auth_group": "unused: Kassa's roles are tenant rows (accounts_role)",
    "auth_group_permissions": "unused, as auth_group",
    "kassa_scheduleclaim": "beat's schedule slots: task names and times",
    "django_session": "unused: sessions live in Redis (SESSION_ENGINE cache); a purge clears them there",
    "axes_accesslog": "unused: AXES_DISABLE_ACCESS_LOG",
    "axes_accessfailurelog": "unused: AXES_ENABLE_ACCESS_FAILURE_LOG is off",
    "pghistory_context": "unused: the change log reads its context from each statement's settings",
}

ALL_TABLES_SQL = """
SELECT c.relname,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
               AND NOT a.attisdropped),
       ARRAY(SELECT ARRAY[a.attname, k.confrelid::regclass::text, b.attname]
             FROM pg_constraint k
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
             JOIN pg_attribute b ON b.attrelid = k.confrelid AND b.attnum = k.confkey[1]
             WHERE k.conrelid = c.oid AND k.contype = 'f' AND cardinality(k.conkey) = 1
             ORDER BY a.attname)
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""


@dataclass
class ReferringTable:
    """A table without tenant_id whose rows of a tenant are those matching `where` (SQL)."""

    name: str
    where: str  # holds the tenant id as the one %s parameter, possibly several times
    uses: int  # how many times the parameter occurs


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def purge_coverage(*, using: str = "default") -> tuple[list[ReferringTable], list[str]]:
    """(tables purged by reference, children first; tables not covered at all)."""
    with connections[using].cursor() as cursor:
        cursor.execute(ALL_TABLES_SQL)
        rows = cursor.fetchall()
    owned = {name for name, has_tenant, _ in rows if has_tenant}
    foreign = {name: [tuple(fk) for fk in fks] for name, has_tenant, fks in rows if not has_tenant}
    found: dict[str, ReferringTable] = {}
    for table, column in PURGED_BY_COLUMN.items():
        if table in foreign:
            found[table] = ReferringTable(table, f"{_q(column)} = %s", 1)
    changed = True
    while changed:  # a table referring to a referring table is found on a later pass
        changed = False
        for name, fks in foreign.items():
            if name in found or name in HOLDS_NO_TENANT_DATA:
                continue
            parts, uses = [], 0
            for column, target, target_column in fks:
                target = target.strip('"')
                if target == "tenants_tenant":
                    parts.append(f"{_q(column)} = %s")
                    uses += 1
                elif target in owned:
                    parts.append(
                        f"{_q(column)} IN (SELECT {_q(target_column)} FROM {_q(target)} WHERE tenant_id = %s)"  # noqa: S608 - names from the catalogue, quoted
                    )
                    uses += 1
                elif target in found:
                    ref = found[target]
                    parts.append(
                        f"{_q(column)} IN (SELECT {_q(target_column)} FROM {_q(target)} WHERE {ref.where})"  # noqa: S608
                    )
                    uses += ref.uses
            if parts:
                found[name] = ReferringTable(name, " OR ".join(parts), uses)
                changed = True
    uncovered = sorted(name for name in foreign if name not in found and name not in HOLDS_NO_TENANT_DATA)
    return list(reversed(found.values())), uncovered
