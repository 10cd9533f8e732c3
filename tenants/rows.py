"""The current tenant's row of a model by its primary key, in one statement built once per model.

For the hot reads (a product's detail): the ORM compiles `filter(pk=...).first()` on every call,
~0.5 ms of a 1.7 ms request in process (bench/RESULTS.md, "Issue 17, fourth pass"); this sends
`SELECT <every column> FROM <table> WHERE tenant_id = %s AND <pk> = %s`, written once from the
model's columns, through Django's cursor (so the tenant's `set_config` is folded into it and
row-level security applies as for any query) and builds the instance as the ORM does
(`Model.from_db`). Only for models whose columns need no conversion from the database (no
`from_db_value`, no backend converter): `row_get` refuses any other, so a model that gains an
encrypted column cannot be read here without its converter.
"""

from __future__ import annotations

from functools import cache

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, models, router

from tenants.context import require_tenant_id


@cache
def _statement(model: type[models.Model], alias: str) -> tuple[str, tuple[str, ...]]:
    connection = connections[alias]
    fields = model._meta.concrete_fields
    for field in fields:
        if field.get_col(model._meta.db_table).get_db_converters(connection):
            raise ImproperlyConfigured(f"{model.__name__}.{field.name} needs a converter: use the ORM")
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(f"{table}.{quote(field.column)}" for field in fields)
    key = f"{table}.{quote(model._meta.pk.column)}"
    # Table and column names from the model, quoted; the values go as parameters.
    sql = f"SELECT {columns} FROM {table} WHERE {table}.{quote('tenant_id')} = %s AND {key} = %s"  # noqa: S608
    return sql, tuple(field.attname for field in fields)


def row_get(model: type[models.Model], pk) -> models.Model | None:
    """The current tenant's `model` row with primary key `pk`, or None (also for a malformed pk)."""
    try:
        pk = model._meta.pk.to_python(pk)
    except ValidationError:
        return None
    alias = router.db_for_read(model) or DEFAULT_DB_ALIAS
    sql, names = _statement(model, alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [require_tenant_id(), pk])
        row = cursor.fetchone()
    return None if row is None else model.from_db(alias, names, row)
