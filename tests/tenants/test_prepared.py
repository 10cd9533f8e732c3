"""`tenants.db.base.prepared`: a hot statement prepared once per connection and sent as EXECUTE,
under row-level security like any statement, kept across rollbacks, and never in the way of a
failed transaction's own error."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from inventory.models import Product
from tenants.db import base
from tenants.db.base import prepared
from tenants.rows import _statement, rows_get
from tests.inventory.conftest import product_make


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


@pytest.fixture
def prepares(monkeypatch):
    """The statements this test prepares, in order."""
    sent = []
    real = base._prepare

    def counted(connection, statement):
        sent.append(statement.name)
        return real(connection, statement)

    monkeypatch.setattr(base, "_prepare", counted)
    return sent


def test_placeholders_are_numbered_and_a_name_stands_for_one_parameter():
    read = prepared("SELECT a FROM t WHERE x = %s AND y LIKE 'z%%' AND w = %s")
    assert (
        read.definition == f"PREPARE {read.name} AS SELECT a FROM t WHERE x = $1 AND y LIKE 'z%' AND w = $2"
    )
    assert read.execute == f"EXECUTE {read.name}(%s, %s)" and read.name.startswith("kassa_read_")
    write = prepared("INSERT INTO t SELECT %(a)s, %(b)s WHERE %(a)s IS NOT NULL")
    assert write.definition.endswith("AS INSERT INTO t SELECT $1, $2 WHERE $1 IS NOT NULL")
    assert write.execute == f"EXECUTE {write.name}(%(a)s, %(b)s)" and write.name.startswith("kassa_write_")
    one = prepared("SELECT 1")
    assert one is prepared("SELECT 1") and one.execute == f"EXECUTE {one.name}"  # no parameters
    assert one.name != prepared("SELECT 2").name


def test_a_prepared_read_is_the_tenants_own_whoever_prepared_it(tenant_a, tenant_b, as_tenant, prepares):
    """One generic plan serves every tenant: the policy's tenant is read when it runs."""
    mine, bobs = product_make(tenant_a, "PREP-A"), product_make(tenant_b, "PREP-B")
    with as_tenant(tenant_a):
        assert [p.pk for p in rows_get(Product, [mine.pk, bobs.pk])] == [mine.pk]
    with as_tenant(tenant_b):
        for _ in range(6):  # past the point where PostgreSQL would choose its plan
            assert [p.pk for p in rows_get(Product, [mine.pk, bobs.pk])] == [bobs.pk]
    with as_tenant(tenant_a):
        assert [p.pk for p in rows_get(Product, [mine.pk, bobs.pk])] == [mine.pk]
    name = _statement(Product, "default")[0].name
    assert name in _prepared_names()
    with connection.cursor() as cursor:  # with no tenant set, the policy lets nothing through
        cursor.execute(f"EXECUTE {name}(%s, %s)", [tenant_a.pk, [mine.pk]])
        assert cursor.fetchall() == []


def test_a_statement_is_prepared_once_and_a_rollback_does_not_undo_it(tenant_a, as_tenant, prepares):
    product = product_make(tenant_a, "PREP-R")
    statement = prepared(
        'SELECT "sku" FROM "inventory_product" WHERE "tenant_id" = %s AND "id" = %s AND 1 = 1'
    )

    def sku():
        with connection.cursor() as cursor:
            cursor.execute(statement, [tenant_a.pk, product.pk])
            return cursor.fetchone()

    with as_tenant(tenant_a):
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            assert sku() == ("PREP-R",)
            raise ZeroDivisionError
        assert prepares == [statement.name]
        with CaptureQueriesContext(connection) as sent:
            assert sku() == ("PREP-R",) and sku() == ("PREP-R",)
    assert prepares == [statement.name]  # not again
    assert all(statement.execute.split("(")[0] in query["sql"] for query in sent.captured_queries)
    # The set_config in front: pghistory's context is not put on a read.
    assert all(
        query["sql"].startswith("SELECT set_config('kassa.tenant_id'") for query in sent.captured_queries
    )
    assert statement.name in _prepared_names()


def test_in_a_failed_transaction_the_statement_fails_as_it_would_have(tenant_a, as_tenant, prepares):
    product = product_make(tenant_a, "PREP-F")
    statement = prepared(
        'SELECT "sku" FROM "inventory_product" WHERE "tenant_id" = %s AND "id" = %s AND 2 = 2'
    )
    with as_tenant(tenant_a), transaction.atomic():
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        # The savepoint is rolled back: this one runs, and is prepared now.
        with connection.cursor() as cursor:
            cursor.execute(statement, [tenant_a.pk, product.pk])
            assert cursor.fetchone() == ("PREP-F",)
    assert prepares == [statement.name]
    with as_tenant(tenant_a), transaction.atomic():
        broken = prepared('SELECT "sku" FROM "inventory_product" WHERE "tenant_id" = %s AND 3 = 3')
        with pytest.raises(DatabaseError, match="division by zero"), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        with (
            pytest.raises(DatabaseError, match="current transaction is aborted"),
            connection.cursor() as cursor,
        ):
            cursor.execute(broken, [tenant_a.pk])  # sent whole, refused as any statement is
        transaction.set_rollback(True)
    assert prepares == [statement.name]  # the failed transaction prepared nothing


def test_past_the_limit_a_statement_is_sent_whole(tenant_a, as_tenant, prepares, monkeypatch):
    product = product_make(tenant_a, "PREP-M")
    statement = prepared(
        'SELECT "sku" FROM "inventory_product" WHERE "tenant_id" = %s AND "id" = %s AND 4 = 4'
    )
    connection.ensure_connection()
    monkeypatch.setattr(base, "PREPARED_MAX", len(getattr(connection.connection, "kassa_prepared", ())))
    with as_tenant(tenant_a), CaptureQueriesContext(connection) as sent, connection.cursor() as cursor:
        cursor.execute(statement, [tenant_a.pk, product.pk])
        assert cursor.fetchone() == ("PREP-M",)
    assert prepares == [] and "EXECUTE" not in sent.captured_queries[0]["sql"]
    assert '"inventory_product"' in sent.captured_queries[0]["sql"]


def test_through_a_transaction_pooler_nothing_is_prepared(tenant_a, as_tenant, prepares, settings):
    settings.KASSA_DB_TRANSACTION_POOLING = True
    product = product_make(tenant_a, "PREP-P")
    statement = prepared(
        'SELECT "sku" FROM "inventory_product" WHERE "tenant_id" = %s AND "id" = %s AND 5 = 5'
    )
    with as_tenant(tenant_a), connection.cursor() as cursor:
        cursor.execute(statement, [tenant_a.pk, product.pk])
        assert cursor.fetchone() == ("PREP-P",)
    assert prepares == [] and statement.name not in _prepared_names()
