"""What blocks distributing by tenant_id (Citus): the catalogue's list is the one deploy/scaling.md shows."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections

from tenants.citus import distribution_blockers

SCALING = Path(__file__).resolve().parents[2] / "deploy" / "scaling.md"
BEGIN, END = "<!-- citus-blockers:begin (manage.py citus_blockers) -->", "<!-- citus-blockers:end -->"


@pytest.mark.django_db(databases=["default", "owner"])
def test_deploy_scaling_lists_exactly_what_the_catalogue_finds(capsys):
    text = SCALING.read_text()
    documented = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip().splitlines()
    call_command("citus_blockers")
    found = capsys.readouterr().out.strip().splitlines()
    assert found == documented, "run `manage.py citus_blockers` and paste its list into deploy/scaling.md"
    assert any("inventory_sale: primary key (id) lacks tenant_id" in line for line in found)


@pytest.mark.django_db(databases=["default", "owner"])
def test_the_scan_finds_each_kind_of_blocker_in_a_new_table():
    with connections["owner"].cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute(
            "CREATE TABLE citus_probe (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants_tenant,"
            " code text UNIQUE, store_id uuid REFERENCES tenants_store, UNIQUE (tenant_id, id))"
        )
        cursor.execute(
            "CREATE TABLE citus_fine (tenant_id uuid NOT NULL, id bigint, PRIMARY KEY (tenant_id, id))"
        )
    found = [line for line in distribution_blockers() if line.startswith("citus_")]
    assert found == [
        "citus_probe: foreign key (store_id) -> tenants_store lacks tenant_id",
        "citus_probe: primary key (id) lacks tenant_id",
        "citus_probe: unique citus_probe_code_key (code) lacks tenant_id",
    ]
    assert "citus_probe" in next(
        line for line in distribution_blockers() if line.startswith("tenants_tenant:")
    )
