"""Entity CSVs streamed straight from the database, in keyset pages: constant memory, no long transaction."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connections

from exports import rows
from exports.catalogue import KIND_TABLES, Entity, entities
from tenants.context import tenant_context
from tenants.maintenance import quote

PAGE_ROWS = 1000


def entity_for_kind(kind: str) -> Entity:
    name = KIND_TABLES[kind][0]
    return next(e for e in entities(kind, using="default") if e.name == name)


def entity_count(*, tenant, entity: Entity) -> int:
    with tenant_context(tenant), connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {quote(entity.name)} WHERE tenant_id = %s", [tenant.pk])  # noqa: S608
        return cursor.fetchone()[0]


def entity_csv(*, tenant, entity: Entity) -> Iterator[bytes]:
    """The entity as CSV bytes, one page of rows at a time; each page in its own short query."""
    key = entity.table.single_key
    columns = entity.columns if key in entity.columns else [*entity.columns, key]
    key_index = columns.index(key)
    positions = [(i, entity.table.encrypted[c]) for i, c in enumerate(columns) if c in entity.encrypted]
    json_columns = rows.json_positions(columns, entity.table.types)
    select = ", ".join(quote(c) for c in columns)
    csv_lines = rows.CsvLines()
    yield csv_lines.line(entity.columns)
    last = None
    while True:
        sql = f"SELECT {select} FROM {quote(entity.name)} WHERE tenant_id = %s"  # noqa: S608
        params: list = [tenant.pk]
        if last is not None:
            sql += f" AND {quote(key)} > %s"
            params.append(last)
        sql += f" ORDER BY {quote(key)} LIMIT {PAGE_ROWS}"
        with tenant_context(tenant), connections["default"].cursor() as cursor:
            cursor.execute(sql, params)
            page = [list(row) for row in cursor.fetchall()]
            for values in page:
                rows.decrypted(values, positions)
                rows.parsed(values, json_columns)
        if not page:
            return
        last = page[-1][key_index]
        yield b"".join(csv_lines.line(values[: len(entity.columns)]) for values in page)
        if len(page) < PAGE_ROWS:
            return
