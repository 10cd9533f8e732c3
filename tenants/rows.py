"""The current tenant's rows by hand-built statements, written once per model: rows by their primary
keys (`row_get`, `rows_get`) and new rows in one INSERT (`rows_insert`); and the instance built from
a row that another module's own statement read (`row_built`).

For the hot reads (a product's detail): the ORM compiles `filter(pk=...).first()` on every call,
~0.5 ms of a 1.7 ms request in process (bench/RESULTS.md, "Issue 17, fourth pass"); this sends
`SELECT <every column> FROM <table> WHERE tenant_id = %s AND <pk> = %s`, written once from the
model's columns, through Django's cursor (so the tenant's `set_config` is folded into it and
row-level security applies as for any query) and builds the instance as the ORM does
(`Model.from_db`). Only for models whose columns need no conversion from the database (no
`from_db_value`, no backend converter): `row_get` refuses any other, so a model that gains an
encrypted column cannot be read here without its converter.

For the hot writes (a sale's rows): `create` and `bulk_create` prepare every value through its
field; `rows_insert` sends them as they are, for the plain column types only (`PLAIN`).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, models, router
from django.db.models.expressions import DatabaseDefault
from django.utils import timezone

from tenants.context import NoTenantSelected, require_tenant_id
from tenants.db.base import prepared


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
    # Table and column names from the model, quoted; the values go as parameters. `= ANY(%s)`
    # takes one key as a one-element list as well.
    sql = f"SELECT {columns} FROM {table} WHERE {table}.{quote('tenant_id')} = %s AND {key} = ANY(%s)"  # noqa: S608
    return prepared(sql), tuple(field.attname for field in fields)


def row_get(model: type[models.Model], pk) -> models.Model | None:
    """The current tenant's `model` row with primary key `pk`, or None (also for a malformed pk)."""
    found = rows_get(model, [pk])
    return found[0] if found else None


def rows_get(model: type[models.Model], pks) -> list:
    """The current tenant's `model` rows with these primary keys, in no order, in one statement;
    malformed keys are left out (none found for them)."""
    wanted = []
    for pk in pks:
        try:
            wanted.append(model._meta.pk.to_python(pk))
        except ValidationError:
            continue
    if not wanted:
        return []
    alias = router.db_for_read(model) or DEFAULT_DB_ALIAS
    sql, names = _statement(model, alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [require_tenant_id(), wanted])
        return [model.from_db(alias, names, row) for row in cursor.fetchall()]


def row_built(model: type[models.Model], values: dict, alias: str = DEFAULT_DB_ALIAS) -> models.Model:
    """An instance as the ORM builds it from a row that a hand-built statement read: `values` by
    column attname, each converted by its field (`from_db_value`: an encrypted column decrypted, a
    JSON text parsed), put in the model's order of fields as `Model.from_db` takes them; the
    fields not given are left deferred. (PostgreSQL's backend adds no converter for the other
    types: psycopg returns UUIDs, decimals and aware datetimes as the ORM would.)"""
    connection = connections[alias]
    names, row = [], []
    for field in model._meta.concrete_fields:
        if field.attname in values:
            value = values[field.attname]
            if hasattr(field, "from_db_value"):
                value = field.from_db_value(value, None, connection)
            names.append(field.attname)
            row.append(value)
    return model.from_db(alias, names, row)


# The columns whose Python values psycopg sends as the ORM would, with no preparation (exact types:
# a subclass, such as an encrypted field, prepares its values itself and is refused).
PLAIN = (
    models.UUIDField,
    models.CharField,
    models.TextField,
    models.DecimalField,
    models.IntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveBigIntegerField,
    models.SmallIntegerField,
    models.BigIntegerField,
    models.BooleanField,
    models.DateTimeField,
    models.ForeignKey,
)


PREPARED_ROWS = 20


@cache
def _insert(model: type[models.Model], alias: str) -> tuple[str, tuple[models.Field, ...], str, tuple]:
    """The INSERT's head, the fields given, and RETURNING with the fields it reads back: a serial
    primary key and the fields with a database default (as the ORM reads them back)."""
    quote = connections[alias].ops.quote_name
    pk = model._meta.pk
    serial = isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField)
    fields = tuple(field for field in model._meta.concrete_fields if not (serial and field is pk))
    for field in fields:
        if type(field) not in PLAIN:
            raise ImproperlyConfigured(f"{model.__name__}.{field.name} is prepared by its field: use the ORM")
    back = ((pk,) if serial else ()) + tuple(field for field in fields if field.has_db_default())
    columns = ", ".join(quote(field.column) for field in fields)
    head = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "  # noqa: S608 - names from the model
    returning = " RETURNING " + ", ".join(quote(field.column) for field in back) if back else ""
    return head, fields, returning, back


def rows_insert(model: type[models.Model], instances: list) -> list:
    """Insert new `instances` of the current tenant in one statement, as `bulk_create` would.

    Each field's `pre_save` runs (auto_now and auto_now_add), a missing tenant is the current
    one and another tenant's row is refused; values go as parameters, with no per-value
    preparation (hence the plain fields only). A field left to its database default is sent as
    DEFAULT; a serial primary key and the fields with a database default are read back (RETURNING)
    onto the instances, as the ORM reads them. Any other primary key must be set (UUID defaults).
    """
    if not instances:
        return instances
    alias = router.db_for_write(model) or DEFAULT_DB_ALIAS
    head, fields, returning, back = _insert(model, alias)
    tenant_id = require_tenant_id()
    params: list = []
    rows = []
    for instance in instances:
        if instance.tenant_id is None:
            instance.tenant_id = tenant_id
        elif str(instance.tenant_id) != str(tenant_id):
            raise NoTenantSelected(f"cannot save another tenant's {model.__name__}")
        marks = []
        for field in fields:
            value = field.pre_save(instance, add=True)
            if isinstance(value, DatabaseDefault):
                marks.append("DEFAULT")
                continue
            if isinstance(value, models.Expression) or (
                isinstance(value, datetime) and timezone.is_naive(value)
            ):
                raise ValueError(f"{model.__name__}.{field.name}: {value!r} needs the ORM")
            marks.append("%s")
            params.append(value)
        rows.append("(" + ", ".join(marks) + ")")
    sql = head + ", ".join(rows) + returning
    with connections[alias].cursor() as cursor:
        # A sale's few rows prepared (one statement per row count); a bulk batch sent whole.
        cursor.execute(prepared(sql) if len(instances) <= PREPARED_ROWS else sql, params)
        # PostgreSQL returns the rows of INSERT ... VALUES in their order (bulk_create relies on it).
        read = cursor.fetchall() if returning else ()
    for instance, values in zip(instances, read, strict=False):
        for field, value in zip(back, values, strict=True):
            setattr(instance, field.attname, value)
    for instance in instances:
        instance._state.adding = False
        instance._state.db = alias
    return instances
