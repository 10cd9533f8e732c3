"""Isolation enforced by PostgreSQL itself, as the application role, below the ORM."""

import psycopg
import pytest
from django.db import connection, connections, transaction

from tenants.crypto import data_key_create
from tenants.models import TenantKey
from tenants.rls import tables_without_rls
from tests.conftest import role_connection, transactional

SET = "SELECT set_config('kassa.tenant_id', %s, true)"


def raw_app_connection() -> psycopg.Connection:
    """A plain psycopg connection as the application role: no ORM, no tenant guard."""
    return role_connection("app")


def test_app_role_cannot_bypass_row_level_security(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        )
        assert cursor.fetchone() == (0,)


@transactional
def test_raw_sql_sees_only_the_selected_tenants_rows(tenant_a, tenant_b):
    with raw_app_connection() as conn:
        with conn.transaction():
            assert conn.execute("SELECT count(*) FROM tenants_tenantkey").fetchone() == (0,)
        with conn.transaction():
            conn.execute(SET, (str(tenant_a.pk),))
            rows = conn.execute("SELECT DISTINCT tenant_id FROM tenants_tenantkey").fetchall()
            assert rows == [(tenant_a.pk,)]
        with conn.transaction():
            conn.execute(SET, (str(tenant_b.pk),))
            assert conn.execute("SELECT count(*) FROM tenants_tenantkey").fetchone() == (1,)


@transactional
def test_raw_sql_cannot_write_without_a_tenant_or_for_another_tenant(tenant_a, tenant_b):
    insert = (
        "INSERT INTO tenants_tenantkey (tenant_id, version, kek_id, wrapped_key, created_at) "
        "VALUES (%s, 9, 'x', '\\x00', now())"
    )
    with raw_app_connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(insert, (tenant_a.pk,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(SET, (str(tenant_a.pk),))
            conn.execute(insert, (tenant_b.pk,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(SET, (str(tenant_a.pk),))
            conn.execute("UPDATE tenants_tenantkey SET tenant_id = %s", (tenant_b.pk,))
        with conn.transaction():
            conn.execute(SET, (str(tenant_a.pk),))
            updated = conn.execute(
                "UPDATE tenants_tenantkey SET kek_id = 'y' WHERE tenant_id = %s", (tenant_b.pk,)
            )
            assert updated.rowcount == 0
            deleted = conn.execute("DELETE FROM tenants_tenantkey WHERE tenant_id = %s", (tenant_b.pk,))
            assert deleted.rowcount == 0
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute(SET, [str(tenant_b.pk)])
        cursor.execute("SELECT kek_id != 'y' FROM tenants_tenantkey")
        assert cursor.fetchall() == [(True,)]


@transactional
def test_the_setting_ends_with_the_transaction(tenant_a):
    with raw_app_connection() as conn:
        with conn.transaction():
            conn.execute(SET, (str(tenant_a.pk),))
            assert conn.execute("SELECT count(*) FROM tenants_tenantkey").fetchone() == (1,)
        # Same session, next transaction: the local setting is gone and reads as '' (not NULL).
        assert conn.execute("SELECT current_setting('kassa.tenant_id', true)").fetchone() == ("",)
        assert conn.execute("SELECT count(*) FROM tenants_tenantkey").fetchone() == (0,)


def test_orm_rows_follow_the_tenant_context(tenant_a, tenant_b, as_tenant):
    with as_tenant(tenant_a):
        data_key_create()
        assert TenantKey.objects.count() == 2
        assert set(TenantKey.unscoped.values_list("tenant_id", flat=True)) == {tenant_a.pk}
    with as_tenant(tenant_b):
        assert TenantKey.objects.count() == 1


@pytest.mark.django_db(databases=["default", "owner"])
def test_every_tenant_table_has_forced_row_level_security():
    assert tables_without_rls("default") == []


@pytest.mark.django_db(databases=["default", "owner"])
def test_a_tenant_table_without_its_policy_fails_the_check():
    from tenants.checks import tenant_tables_have_row_level_security

    owner = connections["owner"]
    with transaction.atomic(using="owner"):
        with owner.cursor() as cursor:
            cursor.execute("ALTER TABLE tenants_tenantkey NO FORCE ROW LEVEL SECURITY")
            cursor.execute("CREATE TABLE rls_probe (id int, tenant_id uuid)")
        assert tables_without_rls("owner") == ["rls_probe", "tenants_tenantkey"]
        transaction.set_rollback(True, using="owner")
    assert tables_without_rls("owner") == []
    assert tenant_tables_have_row_level_security(None, databases=["default"]) == []
