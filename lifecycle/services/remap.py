"""Rows into another tenant: new primary keys through map tables, references that follow them.

A restore into a new tenant (lifecycle.services.restore) and the import of an export
(lifecycle.importing) both stage the rows in temporary tables, give every single-column uuid
or serial primary key a new value through a map table (old, new), insert with every foreign
key to a remapped table following its map and every reference to the tenant pointing at the
new one, and before commit read the rows back as the source had them. The SQL names only
tables and columns read from the catalogue (quoted); ids are UUID literals (tenants.maintenance).
"""

from __future__ import annotations

from collections.abc import Mapping

from lifecycle.errors import LifecycleError
from tenants import crypto
from tenants.catalogue import Table
from tenants.context import tenant_context
from tenants.maintenance import quote, uuid_literal
from tenants.models import Tenant


def new_key_sql(table: Table) -> str | None:
    """The SQL giving a row a new primary key, or None if it keeps its own (a natural key)."""
    if table.single_key is None:
        return None
    if table.types[table.single_key] == "uuid":
        return "gen_random_uuid()"
    if table.sequence:
        return f"nextval('{table.sequence}')"
    return None


def key_map_create(cursor, table: Table, *, stage: str, name: str) -> bool:
    """Map every staged row's key to a new one in temporary table `name`; False if it keeps its keys."""
    key = table.single_key
    new = new_key_sql(table)
    if not key or key == "tenant_id" or not new:
        return False
    cursor.execute(
        f"CREATE TEMP TABLE {name} (old {table.types[key]} PRIMARY KEY, new {table.types[key]} NOT NULL) ON COMMIT DROP"
    )
    cursor.execute(f"INSERT INTO {name} SELECT {quote(key)}, {new} FROM {stage}")  # noqa: S608
    return True


def _foreign_key(table: Table, column: str):
    return next((f for f in table.foreign_keys if f.column == column), None)


def insert_select(
    table: Table,
    columns: list[str],
    maps: Mapping[str, str],
    *,
    source_id,
    target_id,
    replace: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """The select list and joins that turn staged rows (alias `s`) into the target's rows.

    `maps` names the map table of each remapped table; `replace` gives a column a fixed SQL
    expression instead of its value.
    """
    expressions, joins = [], []
    for column in columns:
        fk = _foreign_key(table, column)
        if replace and column in replace:
            expressions.append(replace[column])
        elif column == "tenant_id":
            expressions.append(uuid_literal(target_id))
        elif fk and fk.table == "tenants_tenant":
            expressions.append(
                f"CASE WHEN s.{quote(column)} = {uuid_literal(source_id)} THEN {uuid_literal(target_id)} ELSE s.{quote(column)} END"
            )
        elif column == table.single_key and table.name in maps:
            joins.append(f"JOIN {maps[table.name]} k ON k.old = s.{quote(column)}")
            expressions.append("k.new")
        elif fk and fk.table in maps:
            alias = f"f{len(joins)}"
            joins.append(f"LEFT JOIN {maps[fk.table]} {alias} ON {alias}.old = s.{quote(column)}")
            expressions.append(f"COALESCE({alias}.new, s.{quote(column)})")
        else:
            expressions.append(f"s.{quote(column)}")
    return ", ".join(expressions), " ".join(joins)


def mapped_back_query(
    table: Table, columns: list[str], maps: Mapping[str, str], *, source_id, target_id
) -> str:
    """The target's rows with the source's ids again, in primary-key order (to compare with the source)."""
    expressions, joins = {}, []
    for column in columns:
        fk = _foreign_key(table, column)
        if column == "tenant_id":
            expressions[column] = uuid_literal(source_id)
        elif fk and fk.table == "tenants_tenant":
            expressions[column] = (
                f"CASE WHEN t.{quote(column)} = {uuid_literal(target_id)} THEN {uuid_literal(source_id)} ELSE t.{quote(column)} END"
            )
        elif column == table.single_key and table.name in maps:
            joins.append(f"JOIN {maps[table.name]} k ON k.new = t.{quote(column)}")
            expressions[column] = "k.old"
        elif fk and fk.table in maps:
            alias = f"f{len(joins)}"
            joins.append(f"LEFT JOIN {maps[fk.table]} {alias} ON {alias}.new = t.{quote(column)}")
            expressions[column] = f"COALESCE({alias}.old, t.{quote(column)})"
        else:
            expressions[column] = f"t.{quote(column)}"
    order = ", ".join(expressions.get(c, f"t.{quote(c)}") for c in (table.primary_key or columns))
    select = ", ".join(expressions[c] for c in columns)
    return (
        f"SELECT {select} FROM {quote(table.name)} t {' '.join(joins)} "  # noqa: S608
        f"WHERE t.tenant_id = {uuid_literal(target_id)} ORDER BY {order}"
    )


def stage_reencrypt(
    cursor, *, stage: str, table: Table, columns: list[str], source: Tenant, target: Tenant
) -> None:
    """Decrypt the staged encrypted values with the source's key and encrypt them with the target's."""
    key = table.single_key
    encrypted = [c for c in columns if c in table.encrypted]
    if not key or not encrypted:
        raise LifecycleError(
            f"table {table.name} has encrypted values but no single key", code="restore_unsupported"
        )
    cursor.execute(f"CREATE INDEX ON {stage} ({quote(key)})")
    cursor.execute(
        f"DECLARE kassa_reencrypt NO SCROLL CURSOR FOR SELECT {quote(key)}, {', '.join(quote(c) for c in encrypted)} FROM {stage}"  # noqa: S608
    )
    assignments = ", ".join(f"{quote(c)} = %s" for c in encrypted)
    while True:
        cursor.execute("FETCH 500 FROM kassa_reencrypt")
        rows = cursor.fetchall()
        if not rows:
            break
        updates = []
        for pk, *values in rows:
            new_values: list[bytes | None] = []
            for column, value in zip(encrypted, values, strict=True):
                if value is None:
                    new_values.append(None)
                    continue
                with tenant_context(source):
                    plaintext = crypto.decrypt(bytes(value), purpose=table.encrypted[column])
                with tenant_context(target):
                    new_values.append(crypto.encrypt(plaintext, purpose=table.encrypted[column]))
            updates.append([*new_values, pk])
        cursor.executemany(f"UPDATE {stage} SET {assignments} WHERE {quote(key)} = %s", updates)  # noqa: S608
    cursor.execute("CLOSE kassa_reencrypt")
