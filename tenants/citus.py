"""What blocks distributing Kassa's tables by `tenant_id` (Citus), read from the catalogue.

Citus co-locates the rows of one tenant when every tenant table is distributed by
`tenant_id`; then it requires every unique constraint and unique index of a distributed table
to include `tenant_id`, every foreign key between distributed tables to include it on both
sides, and every table without `tenant_id` that a tenant table refers to to become a
reference table (copied to every node). `distribution_blockers()` lists the first two kinds
(the schema changes left) and the third (the reference tables to declare), and tenant
tables whose `tenant_id` may be NULL (a distribution column needs a value). deploy/scaling.md
carries the list and a test keeps it equal to the catalogue.
"""

from __future__ import annotations

from django.db import connections

from tenants.rls import PLATFORM_TABLES

# Tenant tables: schema public, a tenant_id column (the rule row-level security follows), less
# the platform tables read before a tenant is known (they become reference tables).
TENANT_TABLES = """
SELECT c.oid FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND NOT c.relname = ANY(%(platform)s)
"""
NULLABLE_SQL = f"""
SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
WHERE c.oid IN ({TENANT_TABLES}) AND NOT a.attnotnull ORDER BY 1
"""  # noqa: S608 - built from constants only
UNIQUE_SQL = f"""
SELECT t.relname, i.relname,
       ARRAY(SELECT attname FROM unnest(x.indkey) WITH ORDINALITY u(n, o)
             JOIN pg_attribute ON attrelid = x.indrelid AND attnum = u.n ORDER BY u.o),
       x.indisprimary
FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indisunique AND x.indrelid IN ({TENANT_TABLES})
  AND NOT EXISTS (SELECT FROM unnest(x.indkey) k
                  JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k
                  WHERE a.attname = 'tenant_id')
ORDER BY 1, 2
"""  # noqa: S608 - built from constants only
FOREIGN_SQL = f"""
SELECT k.conrelid::regclass::text, k.conname, k.confrelid::regclass::text,
       ARRAY(SELECT attname FROM unnest(k.conkey) WITH ORDINALITY u(n, o)
             JOIN pg_attribute ON attrelid = k.conrelid AND attnum = u.n ORDER BY u.o),
       k.confrelid IN ({TENANT_TABLES})
FROM pg_constraint k
WHERE k.contype = 'f' AND k.conrelid IN ({TENANT_TABLES})
ORDER BY 1, 2
"""  # noqa: S608 - built from constants only


def distribution_blockers(*, using: str = "owner") -> list[str]:
    """One line per obstacle, sorted by table."""
    lines: set[str] = set()
    platform = {"platform": sorted(PLATFORM_TABLES)}
    with connections[using].cursor() as cursor:
        cursor.execute(NULLABLE_SQL, platform)
        for (table,) in cursor.fetchall():
            lines.add(f"{table}: tenant_id may be NULL (platform rows; Citus needs a distribution value)")
        cursor.execute(UNIQUE_SQL, platform)
        for table, index, columns, primary in cursor.fetchall():
            what = "primary key" if primary else f"unique {index}"
            lines.add(f"{table}: {what} ({', '.join(columns)}) lacks tenant_id")
        cursor.execute(FOREIGN_SQL, platform)
        references: dict[str, set[str]] = {}
        for table, _name, target, columns, to_tenant_table in cursor.fetchall():
            table, target = table.strip('"'), target.strip('"')
            if not to_tenant_table:
                references.setdefault(target, set()).add(table)
            elif "tenant_id" not in columns:
                lines.add(f"{table}: foreign key ({', '.join(columns)}) -> {target} lacks tenant_id")
        for target, tables in references.items():
            lines.add(f"{target}: reference table (no tenant_id), referred to by {', '.join(sorted(tables))}")
    return sorted(lines)
