import pytest
from django.db import connection, connections, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from tenants.context import NoTenantSelected, current_tenant_id
from tenants.maintenance import as_maintenance
from tenants.middleware import TenantMiddleware
from tenants.models import Tenant, TenantKey
from tests.conftest import transactional


def test_default_manager_raises_with_no_tenant_selected(db):
    with pytest.raises(NoTenantSelected):
        TenantKey.objects.count()


def test_saving_needs_a_tenant(db):
    with pytest.raises(NoTenantSelected):
        TenantKey(version=1, kek_id="x", wrapped_key=b"x").save()


def test_cannot_save_another_tenants_row(tenant_a, tenant_b, as_tenant):
    with as_tenant(tenant_a):
        key = TenantKey.objects.get()
    with as_tenant(tenant_b), pytest.raises(NoTenantSelected):
        key.save()


def test_unscoped_manager_still_sees_only_the_current_tenant_in_postgres(tenant_a, tenant_b, as_tenant):
    with as_tenant(tenant_a):
        assert {k.tenant_id for k in TenantKey.unscoped.all()} == {tenant_a.pk}
    assert TenantKey.unscoped.count() == 0


def _setting_view(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('kassa.tenant_id', true), pg_backend_pid()")
        setting, pid = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM tenants_tenantkey")
        (rows,) = cursor.fetchone()
    return HttpResponse(f"{setting}|{pid}|{rows}")


def _request(host: str) -> str:
    """One request as the web serves it: the tenant middleware around an atomic view."""
    middleware = TenantMiddleware(lambda request: transaction.atomic(_setting_view)(request))
    return middleware(RequestFactory().get("/", HTTP_HOST=host)).content.decode()


@transactional
def test_tenant_setting_does_not_leak_to_the_next_request_on_the_same_connection(tenant_a):
    first_setting, first_pid, first_rows = _request("alice-chain.localhost").split("|")
    second_setting, second_pid, second_rows = _request("127.0.0.1").split("|")
    assert (first_setting, first_rows) == (str(tenant_a.pk), "1")
    assert first_pid == second_pid
    assert second_setting == ""
    assert second_rows == "0"
    assert current_tenant_id() is None


@transactional
def test_queries_outside_a_transaction_still_carry_the_tenant(tenant_a, as_tenant):
    assert connection.get_autocommit()
    with as_tenant(tenant_a):
        assert TenantKey.objects.count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('kassa.tenant_id', true)")
        assert cursor.fetchone()[0] in ("", None)


def test_unknown_host_answers_404(client, tenant_a):
    assert client.get("/login/", HTTP_HOST="nobody.localhost", secure=True).status_code == 404
    response = client.get("/api/v1/anything/", HTTP_HOST="nobody.localhost", secure=True)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_tenant_host_shows_sign_in(client, tenant_a):
    response = client.get("/login/", HTTP_HOST="alice-chain.localhost", secure=True)
    assert response.status_code == 200
    assert b"Alice-Chain" in response.content


def test_suspended_tenant_answers_403(client, tenant_a):
    with as_maintenance():  # the operator suspends it
        Tenant.objects.filter(pk=tenant_a.pk).update(status=Tenant.Status.SUSPENDED)
    response = client.get("/api/v1/me/", HTTP_HOST="alice-chain.localhost", secure=True)
    assert response.status_code == 403
    assert response.json() == {"code": "tenant_suspended", "detail": "This tenant is suspended."}
    assert client.get("/login/", HTTP_HOST="alice-chain.localhost", secure=True).status_code == 403


def test_purged_tenant_is_not_found(client, tenant_a):
    with as_maintenance():
        Tenant.objects.filter(pk=tenant_a.pk).update(status=Tenant.Status.PURGED)
    assert client.get("/login/", HTTP_HOST="alice-chain.localhost", secure=True).status_code == 404


def test_a_setting_undone_by_a_savepoint_rollback_is_made_again(tenant_a, as_tenant):
    from tenants.context import tenant_activate

    # As in an API request: the savepoint starts with no tenant, the token selects one, the
    # error rolls the savepoint back while the tenant is still selected.
    with transaction.atomic(), as_tenant(None):
        assert TenantKey.unscoped.count() == 0
        try:
            with transaction.atomic():
                tenant_activate(tenant_a)
                assert TenantKey.objects.count() == 1
                raise RuntimeError
        except RuntimeError:
            pass
        assert TenantKey.objects.count() == 1


@transactional
def test_the_first_select_of_a_transaction_carries_the_tenant_in_its_own_round_trip(
    tenant_a, tenant_b, as_tenant, monkeypatch
):
    from tenants.db import base

    separate = []
    apply_tenant = base._apply_tenant
    monkeypatch.setattr(base, "_apply_tenant", lambda c, w: (separate.append(w), apply_tenant(c, w)))
    with as_tenant(tenant_a), transaction.atomic():
        # A literal % beside parameters, as the ORM escapes it.
        rows = list(TenantKey.objects.extra(where=["'100%%' = %s"], params=["100%"]).values_list("tenant_id"))
        assert rows == [(tenant_a.pk,)]
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('kassa.tenant_id')")
            assert cursor.fetchone() == (str(tenant_a.pk),)
    assert separate == []  # folded into the first SELECT
    with as_tenant(tenant_b), transaction.atomic():
        assert list(TenantKey.objects.values_list("tenant_id", flat=True)) == [tenant_b.pk]
    assert separate == []


@transactional
def test_a_write_or_a_select_without_parameters_still_sets_the_tenant_first(tenant_a, as_tenant, monkeypatch):
    from tenants.db import base

    separate = []
    apply_tenant = base._apply_tenant
    monkeypatch.setattr(base, "_apply_tenant", lambda c, w: (separate.append(w), apply_tenant(c, w)))
    with as_tenant(tenant_a), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tenants_tenantkey WHERE '1%' = '1%'")
        assert cursor.fetchone() == (1,)
    with as_tenant(tenant_a), transaction.atomic():
        assert TenantKey.objects.filter(version=999_999).update(version=999_998) == 0
    assert separate == [str(tenant_a.pk), str(tenant_a.pk)]


@transactional
def test_a_select_outside_a_transaction_sends_the_tenant_with_it_in_one_round_trip(
    tenant_a, tenant_b, as_tenant, monkeypatch
):
    """Autocommit: `set_config` and the SELECT in one query string, which the server runs as one
    implicit transaction (no BEGIN, COMMIT or separate set_config); the setting ends with it."""
    from django.test.utils import CaptureQueriesContext

    from tenants.db import base

    separate = []
    apply_tenant = base._apply_tenant
    monkeypatch.setattr(base, "_apply_tenant", lambda c, w: (separate.append(w), apply_tenant(c, w)))
    assert connection.get_autocommit()
    with as_tenant(tenant_a), CaptureQueriesContext(connection) as captured:
        assert list(TenantKey.objects.values_list("tenant_id", flat=True)) == [tenant_a.pk]
    assert separate == [] and len(captured.captured_queries) == 1, captured.captured_queries
    assert not connection.in_atomic_block
    with as_tenant(tenant_b):
        assert list(TenantKey.objects.values_list("tenant_id", flat=True)) == [tenant_b.pk]
    with as_tenant(None), connection.cursor() as cursor:
        # Nothing is left behind on the connection for a statement without a tenant.
        cursor.execute("SELECT current_setting('kassa.tenant_id', true), count(*) FROM tenants_tenantkey")
        assert cursor.fetchone() in (("", 0), (None, 0))
    with as_tenant(tenant_a):
        # A write outside a transaction still gets a short transaction of its own.
        assert TenantKey.objects.filter(version=999_999).update(version=999_998) == 0
    assert separate == [str(tenant_a.pk)]


@transactional
def test_a_prepared_write_outside_a_transaction_goes_with_the_tenant_in_one_round_trip_unless_pghistory_is_on(
    tenant_a, tenant_b, as_tenant, monkeypatch
):
    """The webhook worker's record of an attempt: `set_config` and the EXECUTE as one query string,
    one implicit transaction, under row-level security like any statement. With a pghistory
    context open (a request) the write keeps its own short transaction, so pghistory's context
    still goes in front of it."""
    import pghistory

    from tenants.db import base

    separate, folded = [], []
    apply_tenant, fold_tenant = base._apply_tenant, base._fold_tenant
    monkeypatch.setattr(base, "_apply_tenant", lambda c, w: (separate.append(w), apply_tenant(c, w)))
    monkeypatch.setattr(base, "_fold_tenant", lambda *a, **k: (folded.append(a[1]), fold_tenant(*a, **k))[1])
    rename = base.prepared(
        "UPDATE tenants_tenantkey SET version = version WHERE tenant_id = %s RETURNING tenant_id"
    )

    def renamed(tenant) -> list:
        with connection.cursor() as cursor:
            cursor.execute(rename, [tenant.pk])
            return cursor.fetchall()

    assert connection.get_autocommit()
    with as_tenant(tenant_a):
        assert renamed(tenant_a) == [(tenant_a.pk,)]
        assert renamed(tenant_b) == []  # another tenant's row: the policy lets nothing through
    assert separate == [] and folded == [rename, rename] and not connection.in_atomic_block
    with as_tenant(tenant_a), pghistory.context(test="prepared write"):
        assert renamed(tenant_a) == [(tenant_a.pk,)]
    assert separate == [str(tenant_a.pk)] and len(folded) == 2
    with as_tenant(None), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('kassa.tenant_id', true)")
        assert cursor.fetchone() in (("",), (None,))  # the setting ended with its statement


@transactional
def test_the_health_check_sends_nothing_on_a_live_connection_and_finds_one_the_server_ended(monkeypatch):
    """CONN_HEALTH_CHECKS without Django's `SELECT 1` per request: the socket says whether the server
    ended the connection; a terminated one is replaced before the request's first statement."""
    import select
    import time

    connection.ensure_connection()
    raw = connection.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    def no_statement(*args, **kwargs):
        raise AssertionError("the health check sent a statement to a live idle connection")

    with monkeypatch.context() as patched:
        patched.setattr(raw, "cursor", no_statement)
        assert connection.is_usable()

    with connections["owner"].cursor() as other:  # the owner role may signal the app's backends
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert other.fetchone()[0]
    deadline = time.monotonic() + 10
    while not select.select([raw.fileno()], [], [], 0.1)[0]:
        assert time.monotonic() < deadline, "the server's end never reached the socket"
    assert not connection.is_usable()
    connection.health_check_done = False
    connection.close_if_health_check_failed()  # what Django does before a request's first statement
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
