"""Database settings that follow the primary, and the replica router's decisions.

The router is tested with a `replica` alias on the test database (the same server: it is not
in recovery, so its lag is 0); make ha-drill runs it against a real streaming replica.
"""

import copy
import json
import os
import subprocess
import sys
from urllib.parse import quote

import psycopg
import pytest
from django.db import DatabaseError, connections, router
from django.test.utils import CaptureQueriesContext

from core import replica
from inventory.models import Product
from tests.conftest import ROOT, transactional
from tests.deploy.test_two_nodes import free_port
from tests.factories import ProductFactory


def settings_of(env: dict, expression: str):
    """Evaluate `expression` in a fresh process whose settings read `env`."""
    code = f"import json, django; django.setup(); from django.conf import settings; print(json.dumps({expression}))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "kassa.settings", "KASSA_PROCESS": "web", **env},
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_multi_host_url_keeps_every_host_and_the_read_write_target():
    config = settings_of(
        {"DATABASE_URL": "postgres://kassa_app:pw@pg1:5432,pg2:5433/kassa?target_session_attrs=read-write"},
        "settings.DATABASES['default']",
    )
    assert (config["HOST"], config["PORT"]) == ("pg1,pg2", "5432,5433")
    assert config["OPTIONS"] == {"target_session_attrs": "read-write"}
    assert "DISABLE_SERVER_SIDE_CURSORS" not in config


def test_transaction_pooling_turns_off_server_side_prepares_and_cursors_for_the_app_role_only():
    pooled = {
        "DATABASE_URL": "postgres://kassa_app:pw@127.0.0.1:6432/kassa",
        "KASSA_DB_TRANSACTION_POOLING": "true",
    }
    databases = settings_of(pooled, "settings.DATABASES")  # a web process: the application role
    for alias in ("default", "audit"):
        assert databases[alias]["OPTIONS"]["prepare_threshold"] is None
        assert databases[alias]["DISABLE_SERVER_SIDE_CURSORS"] is True
    direct = settings_of(  # manage.py: the maintenance role and the owner go direct
        {
            **pooled,
            "KASSA_PROCESS": "manage",
            "KASSA_DB_ACT_AS_APP": "",
            "DATABASE_MAINTENANCE_URL": "postgres://kassa_maintenance:pw@pg1:5432,pg2:5432/kassa?target_session_attrs=read-write",
            "DATABASE_OWNER_URL": "postgres://kassa_owner:pw@pg1:5432,pg2:5432/kassa?target_session_attrs=read-write",
        },
        "settings.DATABASES",
    )
    for alias in ("owner", "default", "maintenance"):
        assert "prepare_threshold" not in direct[alias].get("OPTIONS", {}), alias


def test_a_replica_url_adds_a_read_only_alias_that_is_never_migrated():
    config = settings_of(
        {
            "DATABASE_REPLICA_URL": "postgres://kassa_app:pw@pg1:5432,pg2:5432/kassa?target_session_attrs=prefer-standby"
        },
        "settings.DATABASES['replica']",
    )
    assert config["OPTIONS"]["target_session_attrs"] == "prefer-standby"
    assert "default_transaction_read_only=on" in config["OPTIONS"]["options"]
    assert router.allow_migrate("replica", "inventory") is False


@transactional
def test_the_first_host_down_a_multi_host_url_reaches_the_primary(django_db_setup):
    params = connections["owner"].get_connection_params()
    server = params.get("host") or "127.0.0.1"
    dead = free_port()
    url = (
        f"postgres://kassa_app@127.0.0.1:{dead},{quote(server, safe='')}:{params.get('port') or 5432}"
        f"/{params['dbname']}?target_session_attrs=read-write&connect_timeout=2"
    )
    code = (
        "import django; django.setup(); from django.db import connection; c = connection.cursor(); "
        "c.execute('SELECT current_database(), pg_is_in_recovery()'); print(c.fetchone())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "kassa.settings", "KASSA_PROCESS": "web", "DATABASE_URL": url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-1500:]
    assert result.stdout.strip().splitlines()[-1] == f"('{params['dbname']}', False)"


with_replica = pytest.mark.django_db(transaction=True, databases=["default", "owner", "replica"])


@pytest.fixture(scope="module")
def replica_alias(django_db_setup):
    """A `replica` alias on the test database, configured as the settings configure one.

    Module-scoped, so it exists before the test's database access is set up.
    """
    from django.conf import settings

    config = copy.deepcopy(connections["default"].settings_dict)
    config["ATOMIC_REQUESTS"] = False
    config["OPTIONS"] = {**config.get("OPTIONS", {}), "options": "-c default_transaction_read_only=on"}
    databases = settings.DATABASES
    settings.DATABASES = {**databases, "replica": config}
    connections.settings["replica"] = config
    yield config
    connections["replica"].close()
    del connections["replica"]
    del connections.settings["replica"]
    settings.DATABASES = databases


@pytest.fixture(autouse=True)
def _fresh_lag():
    replica._checked.update(at=float("-inf"))
    yield
    replica._checked.update(at=float("-inf"))


@with_replica
def test_inside_replica_reads_reads_go_to_a_fresh_replica_and_writes_never(
    replica_alias, tenant_a, as_tenant
):
    with as_tenant(tenant_a):
        ProductFactory(tenant=tenant_a, sku="ON-PRIMARY")
        assert Product.objects.all().db == "default"  # outside the block: the primary
        with replica.replica_reads():
            assert replica.replica_lag() == 0.0
            assert Product.objects.all().db == "replica"
            assert Product.objects.select_for_update().db == "default"  # a locking read is a write
            assert router.db_for_write(Product) == "default"
            with CaptureQueriesContext(connections["replica"]) as on_replica:
                skus = list(Product.objects.values_list("sku", flat=True))  # RLS holds there too
            created = ProductFactory(tenant=tenant_a, sku="WRITTEN-INSIDE")
        assert skus == ["ON-PRIMARY"] and len(on_replica) >= 1
        assert Product.objects.filter(pk=created.pk).exists()
        assert not any("INSERT" in q["sql"] for q in on_replica.captured_queries)
    # Raw SQL cannot write through the replica's connections either.
    with (
        pytest.raises(DatabaseError, match="read-only transaction"),
        connections["replica"].cursor() as cursor,
    ):
        cursor.execute("CREATE TEMP TABLE written_on_replica (id int)")


@with_replica
def test_a_stale_or_unreachable_replica_sends_reads_to_the_primary(
    replica_alias, settings, tenant_a, as_tenant
):
    with as_tenant(tenant_a), replica.replica_reads():
        settings.KASSA_REPLICA_MAX_LAG_SECONDS = -1  # any lag is too much
        assert Product.objects.all().db == "default"
        settings.KASSA_REPLICA_MAX_LAG_SECONDS = 5
        connections["replica"].close()
        saved = dict(replica_alias)
        replica_alias.pop("EMBEDDED", None)
        replica_alias.update(HOST="127.0.0.1", PORT=str(free_port()))  # nothing listens there
        replica._checked.update(at=float("-inf"))  # measure again now
        try:
            assert replica.replica_lag() == float("inf")
            assert Product.objects.all().db == "default"
            assert list(Product.objects.all()) == []  # and the read answers from the primary
        finally:
            connections["replica"].close()
            replica_alias.clear()
            replica_alias.update(saved)


@with_replica
def test_the_audit_api_reads_from_the_replica(replica_alias, cast_a, api):
    client = api(cast_a["owner"])
    assert client.get("/api/v1/me/").status_code == 200  # an access row to read
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        response = client.get("/api/v1/audit/access/")
    assert response.status_code == 200
    assert response.json()["results"]
    assert any("auditlog_access" in q["sql"] for q in on_replica.captured_queries)


def test_the_lag_query_answers_zero_on_a_primary(django_db_setup):
    params = connections["owner"].get_connection_params()
    with psycopg.connect(
        host=params.get("host"), port=params.get("port"), user="kassa_app", dbname=params["dbname"]
    ) as conn:
        assert conn.execute(replica.LAG_SQL).fetchone()[0] == 0.0
