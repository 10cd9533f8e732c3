"""Each database role, logged in with its own credentials, tries what it must not do.

Below the ORM and the tenant guard: plain psycopg connections as the application role (what a
web process holds), the maintenance role (the privileged worker) and the owner. Every statement
runs in a transaction of its own that is rolled back; a refusal is PostgreSQL's own
(SQLSTATE 42501: no privilege, a row-level security policy, "must be owner", the append-only
trigger, the escape hatch refusing), so a statement that ran at all fails the test by name.
"""

from decimal import Decimal

import psycopg
import pytest
from django.conf import settings

from accounts.models import User
from inventory.services.catalogue import product_create
from lifecycle.models import Backup
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tests.conftest import make_tenant, role_connection, transactional

REFUSED = "42501"  # insufficient_privilege
AUDIT_TABLES = (
    "auditlog_access",
    "auditlog_apicall",
    "auditlog_signinevent",
    "auditlog_change",
    "auditlog_seal",
    "auditlog_sealedentry",
    "auditlog_platformevent",
)
NEW_TENANT = (
    "INSERT INTO tenants_tenant (id, slug, name, region, status, locale, created_at) "
    "VALUES (gen_random_uuid(), 'mallory', 'Mallory', 'local', 'active', 'fi', now())"
)
# Another platform staff member: a copy of sally's row (every column filled), with no tenant.
STAFF_USER = (
    "INSERT INTO accounts_user SELECT (jsonb_populate_record(NULL::accounts_user, to_jsonb(u) || "
    "jsonb_build_object('id', gen_random_uuid(), 'username', 'mallory', 'tenant_id', {tenant}))).* "
    "FROM accounts_user u WHERE u.username = 'sally'"
)


@pytest.fixture
def world():
    """Two chains with a product each, audit entries, a backup record and platform staff: committed."""
    a, b = make_tenant("alice-chain", owner="alice"), make_tenant("bob-chain", owner="bob")
    products = {}
    for tenant in (a, b):
        with tenant_context(tenant):
            products[tenant.slug] = product_create(
                actor=None, sku="P-1", name="Tea", price=Decimal("2.00")
            ).pk
    with as_maintenance():
        staff = User.objects.create_superuser("sally", "correct-horse-battery-7")
        backup = Backup.objects.create(tenant=a, region="local")
    return {"a": a, "b": b, "products": products, "staff": staff, "backup": backup}


def attempt(conn: psycopg.Connection, *statements, tenant=None):
    """Run the statements in one transaction, rolled back: the last one's row count, or the SQLSTATE."""
    try:
        with conn.transaction(force_rollback=True):
            if tenant is not None:
                conn.execute("SELECT set_config('kassa.tenant_id', %s, true)", [str(tenant.pk)])
            for statement in statements:
                sql, params = statement if isinstance(statement, tuple) else (statement, None)
                cursor = conn.execute(sql, params)
            return cursor.rowcount
    except psycopg.Error as error:
        return error.sqlstate


def refused(conn, cases) -> list[str]:
    """The names of the cases PostgreSQL did not refuse (with what they did instead)."""
    ran = []
    for name, statements, tenant in cases:
        outcome = attempt(conn, *statements, tenant=tenant)
        if outcome != REFUSED:
            ran.append(f"{name}: {outcome}")
    return ran


def change_ids(conn, tenant) -> list[int]:
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT set_config('kassa.tenant_id', %s, true)", [str(tenant.pk)])
        return [row[0] for row in conn.execute("SELECT id FROM auditlog_change ORDER BY id").fetchall()]


@transactional
def test_the_application_role_may_not_write_platform_tables_touch_audit_entries_or_leave_its_tenant(world):
    a, b = world["a"], world["b"]
    product_a = world["products"]["alice-chain"]
    with role_connection("owner") as owner:
        changes = change_ids(owner, a)
    assert changes, "tenant creation wrote change-log entries"
    escape = f"SELECT kassa_audit_delete('auditlog_change', ARRAY[{changes[0]}]::bigint[])"
    cases = [
        # Platform tables: read only, or not at all.
        ("insert a tenant", [NEW_TENANT], None),
        ("reactivate a tenant", [("UPDATE tenants_tenant SET status = 'active' WHERE id = %s", [a.pk])], None),
        ("delete a tenant", [("DELETE FROM tenants_tenant WHERE id = %s", [a.pk])], None),
        ("insert a domain", [("INSERT INTO tenants_domain (host, is_primary, tenant_id) VALUES ('x.localhost', true, %s)", [a.pk])], a),
        ("move a domain", ["UPDATE tenants_domain SET host = 'evil.localhost'"], None),
        ("delete a domain", ["DELETE FROM tenants_domain"], None),
        ("insert a backup record", ["INSERT INTO lifecycle_backup SELECT * FROM lifecycle_backup"], None),
        ("mark a backup done", ["UPDATE lifecycle_backup SET status = 'done'"], None),
        ("delete a backup record", ["DELETE FROM lifecycle_backup"], None),
        ("delete a drill record", ["DELETE FROM lifecycle_restoredrill"], None),
        ("read purge certificates", ["SELECT * FROM lifecycle_purgecertificate"], None),
        ("forge a purge certificate", ["DELETE FROM lifecycle_purgecertificate"], None),
        ("fake a migration", ["INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', now())"], None),
        ("add a content type", ["INSERT INTO django_content_type (app_label, model) VALUES ('x', 'y')"], None),
        ("read Django's permissions", ["SELECT * FROM auth_permission"], None),
        ("read Django's sessions", ["SELECT * FROM django_session"], None),
        ("read the axes access log", ["SELECT * FROM axes_accesslog"], None),
        ("rewrite the admin's history", ["UPDATE django_admin_log SET object_repr = 'x'"], None),
        # Platform staff are the maintenance role's to make.
        ("insert platform staff", [STAFF_USER.format(tenant="NULL")], None),
        ("insert platform staff under a tenant", [STAFF_USER.format(tenant="NULL")], a),
        # Audit entries: append-only, the escape hatch closed to it, the old one gone.
        *(
            (f"update {table}", [f"UPDATE {table} SET id = id"], a)
            for table in AUDIT_TABLES
        ),
        *((f"delete {table}", [f"DELETE FROM {table}"], a) for table in AUDIT_TABLES),
        ("the old escape hatch", ["SELECT set_config('kassa.audit_purge', 'on', true)", "DELETE FROM auditlog_change"], a),
        ("the function's mark", ["SELECT set_config('kassa.audit_delete', 'on', true)", "DELETE FROM auditlog_change"], a),
        ("the escape-hatch function", [escape], a),
        ("truncate the change log", ["TRUNCATE auditlog_change"], a),
        ("truncate a tenant table", ["TRUNCATE inventory_product"], a),
        # Row-level security: no way around it.
        ("insert into another tenant", [("INSERT INTO tenants_store (id, tenant_id, name, code, address, allow_negative_stock, active, created_at) VALUES (gen_random_uuid(), %s, 'x', 'x', '', false, true, now())", [a.pk])], b),
        ("insert with no tenant", [("INSERT INTO tenants_store (id, tenant_id, name, code, address, allow_negative_stock, active, created_at) VALUES (gen_random_uuid(), %s, 'x', 'x', '', false, true, now())", [a.pk])], None),
        ("move a row to another tenant", [("UPDATE inventory_product SET tenant_id = %s", [b.pk])], a),
        ("row security off", ["SET LOCAL row_security = off", "SELECT * FROM inventory_product"], None),
        ("switch row-level security off", ["ALTER TABLE inventory_product DISABLE ROW LEVEL SECURITY"], a),
        ("become the maintenance role", [f"SET ROLE {settings.KASSA_DB_ROLES['maintenance']}"], None),
        ("become the owner", [f"SET ROLE {settings.KASSA_DB_ROLES['owner']}"], None),
        ("create a table", ["CREATE TABLE public.mallory (x int)"], None),
    ]  # fmt: skip
    with role_connection("app") as app:
        # The control: a statement it may run is reported, so an empty list means refusals.
        assert refused(app, [("read the tenants", ["SELECT * FROM tenants_tenant"], None)]) == [
            "read the tenants: 2"
        ]
        assert refused(app, cases) == []
        # What row-level security hides, a statement cannot reach: nothing changes, nothing is seen.
        assert attempt(app, "SELECT * FROM inventory_product") == 0
        assert attempt(app, "SELECT * FROM inventory_product", tenant=b) == 1
        assert (
            attempt(app, ("UPDATE inventory_product SET name = 'x' WHERE id = %s", [product_a]), tenant=b)
            == 0
        )
        assert attempt(app, ("DELETE FROM inventory_product WHERE id = %s", [product_a]), tenant=b) == 0
        assert attempt(app, ("DELETE FROM accounts_user WHERE id = %s", [world["staff"].pk])) == 0
        assert attempt(app, "SELECT * FROM auditlog_change") == 0
        assert attempt(app, "UPDATE accounts_user SET tenant_id = NULL", tenant=a) == REFUSED


@transactional
def test_the_application_role_reads_what_a_request_needs_and_writes_its_own_tenant(world):
    a = world["a"]
    with role_connection("app") as app:
        assert attempt(app, "SELECT * FROM tenants_tenant") == 2
        assert attempt(app, "SELECT * FROM tenants_domain") == 2
        assert attempt(app, "SELECT * FROM lifecycle_backup") == 1
        assert attempt(app, ("INSERT INTO tenants_store (id, tenant_id, name, code, address, allow_negative_stock, active, created_at) VALUES (gen_random_uuid(), %s, 'x', 'x', '', false, true, now())", [a.pk]), tenant=a) == 1  # fmt: skip
        access = (
            "INSERT INTO auditlog_access (created_at, tenant_id, request_id, ip, host, method, path, query, "
            "status, duration_ms, user_agent) VALUES (now(), %s, gen_random_uuid(), '10.0.0.1', 'h', 'GET', "
            "'/', '', 200, 1, '')"
        )
        assert attempt(app, (access, [a.pk]), tenant=a) == 1
        # django-axes's rows get the tenant signing in, and only it sees them.
        attempt_row = (
            "INSERT INTO axes_accessattempt (username, ip_address, user_agent, get_data, post_data, http_accept, "
            "path_info, attempt_time, failures_since_start) VALUES ('k', '10.0.0.1', 'ua', '', '', '', '/', now(), 1)"
        )
        assert attempt(app, attempt_row, "SELECT * FROM axes_accessattempt", tenant=a) == 1
        assert (
            attempt(app, attempt_row, "SELECT * FROM axes_accessattempt WHERE tenant_id IS NULL", tenant=a)
            == 0
        )
        with app.transaction():
            app.execute("SELECT set_config('kassa.tenant_id', %s, true)", [str(a.pk)])
            app.execute(attempt_row)
        assert attempt(app, "SELECT * FROM axes_accessattempt", tenant=world["b"]) == 0
        assert attempt(app, "DELETE FROM axes_accessattempt", tenant=world["b"]) == 0
        assert attempt(app, "DELETE FROM axes_accessattempt", tenant=a) == 1


@transactional
def test_the_maintenance_role_works_under_row_level_security_and_holds_no_ddl(world):
    a, b = world["a"], world["b"]
    with role_connection("owner") as owner:
        changes = change_ids(owner, a)
    ids = f"ARRAY[{', '.join(map(str, changes))}]::bigint[]"
    cases = [
        ("create a table", ["CREATE TABLE public.mallory (x int)"], None),
        ("add a column", ["ALTER TABLE inventory_product ADD COLUMN mallory int"], a),
        ("switch row-level security off", ["ALTER TABLE inventory_product DISABLE ROW LEVEL SECURITY"], a),
        ("drop a policy", ["DROP POLICY tenant_isolation ON inventory_product"], a),
        ("switch the append-only trigger off", ["ALTER TABLE auditlog_change DISABLE TRIGGER auditlog_append_only"], a),
        ("drop a table", ["DROP TABLE inventory_product"], a),
        ("create a function", ["CREATE FUNCTION public.mallory() RETURNS int LANGUAGE sql AS 'SELECT 1'"], None),
        ("truncate a tenant table", ["TRUNCATE inventory_product"], a),
        ("truncate the change log", ["TRUNCATE auditlog_change"], a),
        ("fake a migration", ["INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', now())"], None),
        ("read Django's permissions", ["SELECT * FROM auth_permission"], None),
        ("become the owner", [f"SET ROLE {settings.KASSA_DB_ROLES['owner']}"], None),
        ("row security off", ["SET LOCAL row_security = off", "SELECT * FROM inventory_product"], None),
        ("insert into another tenant", [("INSERT INTO tenants_store (id, tenant_id, name, code, address, allow_negative_stock, active, created_at) VALUES (gen_random_uuid(), %s, 'x', 'x', '', false, true, now())", [a.pk])], b),
        *((f"update {table}", [f"UPDATE {table} SET id = id"], a) for table in AUDIT_TABLES),
        *((f"delete {table}", [f"DELETE FROM {table}"], a) for table in AUDIT_TABLES),
        ("the old escape hatch", ["SELECT set_config('kassa.audit_purge', 'on', true)", "DELETE FROM auditlog_change"], a),
        ("the function's mark", ["SELECT set_config('kassa.audit_delete', 'on', true)", "DELETE FROM auditlog_change"], a),
        ("the escape hatch with no tenant", [f"SELECT kassa_audit_delete('auditlog_change', {ids})"], None),
        ("the escape hatch on the tenants", [f"SELECT kassa_audit_delete('tenants_tenant', {ids})"], a),
        ("the escape hatch on platform events", [f"SELECT kassa_audit_delete('auditlog_platformevent', {ids})"], a),
    ]  # fmt: skip
    with role_connection("maintenance") as maintenance:
        roles = maintenance.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert roles == (False, False, False, False)
        assert refused(maintenance, [("read the tenants", ["SELECT * FROM tenants_tenant"], None)]) == [
            "read the tenants: 2"
        ]
        assert refused(maintenance, cases) == []
        assert attempt(maintenance, "SELECT * FROM inventory_product") == 0  # no tenant: no rows
        product_a = world["products"]["alice-chain"]
        assert attempt(maintenance, ("UPDATE inventory_product SET name = 'x' WHERE id = %s", [product_a]), tenant=b) == 0  # fmt: skip
        # Another tenant's entries are out of the escape hatch's reach too.
        assert attempt(maintenance, f"SELECT kassa_audit_delete('auditlog_change', {ids})", tenant=b) == 1
        with maintenance.transaction(force_rollback=True):
            maintenance.execute("SELECT set_config('kassa.tenant_id', %s, true)", [str(b.pk)])
            assert maintenance.execute(f"SELECT kassa_audit_delete('auditlog_change', {ids})").fetchone() == (
                0,
            )
    with role_connection("owner") as owner:
        assert change_ids(owner, a) == changes


@transactional
def test_the_maintenance_role_does_what_the_privileged_jobs_need(world):
    a = world["a"]
    with role_connection("owner") as owner:
        changes = change_ids(owner, a)
    with role_connection("maintenance") as maintenance:
        assert attempt(maintenance, NEW_TENANT) == 1
        assert attempt(maintenance, STAFF_USER.format(tenant="NULL")) == 1  # platform staff
        assert (
            attempt(maintenance, ("UPDATE tenants_tenant SET status = 'suspended' WHERE id = %s", [a.pk]))
            == 1
        )
        assert attempt(maintenance, ("DELETE FROM tenants_domain WHERE tenant_id = %s", [a.pk])) == 1
        assert attempt(maintenance, "UPDATE lifecycle_backup SET status = 'failed'") == 1
        assert attempt(maintenance, "SELECT * FROM lifecycle_purgecertificate") == 0
        assert attempt(maintenance, "DELETE FROM inventory_product", tenant=a) == 1
        assert attempt(maintenance, "CREATE TEMP TABLE stage (x int) ON COMMIT DROP") in (-1, 0)
        assert (
            attempt(
                maintenance, "INSERT INTO auditlog_change SELECT * FROM auditlog_change LIMIT 0", tenant=a
            )
            == 0
        )
        # The one way to delete audit entries: the function, for the tenant selected.
        with maintenance.transaction(force_rollback=True):
            maintenance.execute("SELECT set_config('kassa.tenant_id', %s, true)", [str(a.pk)])
            deleted = maintenance.execute(
                "SELECT kassa_audit_delete('auditlog_change', %s::bigint[])", [changes[:2]]
            ).fetchone()
            assert deleted == (2,)
            left = maintenance.execute("SELECT count(*) FROM auditlog_change").fetchone()[0]
            assert left == len(changes) - 2  # and the delete logs nothing: audit tables are untracked


@transactional
def test_the_owner_too_changes_audit_entries_only_through_the_function(world):
    a = world["a"]
    with role_connection("owner") as owner:
        assert attempt(owner, "UPDATE auditlog_change SET model = 'x'", tenant=a) == REFUSED
        assert attempt(owner, "DELETE FROM auditlog_change", tenant=a) == REFUSED
        assert attempt(owner, "SELECT set_config('kassa.audit_purge', 'on', true)", "DELETE FROM auditlog_change", tenant=a) == REFUSED  # fmt: skip


@transactional
def test_no_role_is_a_superuser_or_bypasses_row_level_security_or_may_become_another(world):
    roles = settings.KASSA_DB_ROLES
    with role_connection("owner") as owner:
        rows = owner.execute(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname",
            [list(roles.values())],
        ).fetchall()
        assert [row[1:] for row in rows] == [(False, False)] * 3
        member = "SELECT pg_has_role(%s, %s, 'MEMBER')"
        assert owner.execute(member, [roles["app"], roles["maintenance"]]).fetchone() == (False,)
        assert owner.execute(member, [roles["app"], roles["owner"]]).fetchone() == (False,)
        assert owner.execute(member, [roles["maintenance"], roles["owner"]]).fetchone() == (False,)
        owned = "SELECT count(*) FROM pg_class WHERE relowner = %s::regrole AND relnamespace = 'public'::regnamespace"
        assert owner.execute(owned, [roles["app"]]).fetchone() == (0,)
        assert owner.execute(owned, [roles["maintenance"]]).fetchone() == (0,)


@pytest.mark.django_db(transaction=False, databases=["default", "owner"])
def test_kassa_e002_finds_an_application_role_grant_beyond_what_requests_need():
    from django.db import connections, transaction

    from kassa.checks import app_role_is_least_privileged, app_role_problems

    app = settings.KASSA_DB_ROLES["app"]
    assert app_role_is_least_privileged(None, databases=["default"]) == []
    with transaction.atomic(using="owner"):
        with connections["owner"].cursor() as cursor:
            cursor.execute(f"GRANT UPDATE ON tenants_domain TO {app}")
            cursor.execute(f"GRANT SELECT ON lifecycle_purgecertificate TO {app}")
            cursor.execute(f"GRANT TRUNCATE ON inventory_product TO {app}")
            cursor.execute(
                "CREATE TABLE platform_probe (id int)"
            )  # a new platform table: all four by default
        assert app_role_problems("owner") == [
            "the application role may TRUNCATE inventory_product",
            "the application role may read platform table lifecycle_purgecertificate",
            "the application role may write platform table platform_probe",
            "the application role may write platform table tenants_domain",
        ]
        transaction.set_rollback(True, using="owner")
    assert app_role_problems("owner") == []
