"""Issue 15, item 2: an erased customer stays erased when a backup taken before is restored."""

import pytest
from django.db import connections

from exports.customers import customer_erase
from exports.models import ErasureLedgerEntry
from inventory.models import Customer
from lifecycle.services.backups import backup_create, backup_run
from lifecycle.services.restore import backup_restore
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tests.conftest import DATABASES, role_connection
from tests.exports.conftest import CUSTOMER

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)


def erase(tenant, owner, customer_id):
    with tenant_context(tenant), as_maintenance():
        customer_erase(
            customer=Customer.objects.get(pk=customer_id), actor=owner, reason="data-subject request"
        )


def customer_in(tenant, **lookup):
    with tenant_context(tenant):
        return Customer.objects.get(**lookup)


def test_a_backup_from_before_an_erasure_restores_the_customer_anonymised(
    shop_a,
    cast_a,
    tenant_a,
    file_storage,
):
    customer_id = shop_a["customer"]["id"]
    backup = backup_create(tenant=tenant_a, enqueue=False)
    backup = backup_run(tenant=tenant_a, backup_id=backup.pk)
    erase(tenant_a, cast_a["owner"], customer_id)
    with as_maintenance():
        entry = ErasureLedgerEntry.objects.get(tenant=tenant_a)
    assert str(entry.customer_id) == customer_id and entry.erased_by == cast_a["owner"].pk
    erased_at = customer_in(tenant_a, pk=customer_id).erased_at
    assert entry.erased_at == erased_at
    # The ledger holds ids and a time, nothing of the customer.
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT row_to_json(e)::text FROM exports_erasureledgerentry e")
        text = cursor.fetchone()[0].lower()
    for value in CUSTOMER.values():
        assert value.lower() not in text

    # Into the same tenant: the restored row (the backup holds Zelda) is erased again before commit.
    with as_maintenance():
        backup_restore(backup=backup)
    restored = customer_in(tenant_a, pk=customer_id)
    assert restored.erased_at == erased_at
    assert restored.name is None and restored.email is None and restored.phone is None
    # Into a new tenant: erased there too, and that tenant's ledger knows it under its own id.
    with as_maintenance():
        copy = backup_restore(backup=backup, new_slug="alice-copy").tenant
    with tenant_context(copy):
        customers = list(Customer.objects.all())
    assert customers and all(c.name != CUSTOMER["name"] for c in customers)
    with as_maintenance():
        copied = ErasureLedgerEntry.objects.get(tenant=copy)
    copied_customer = customer_in(copy, pk=copied.customer_id)
    assert copied_customer.erased_at == erased_at and copied_customer.email is None
    assert str(copied.customer_id) != customer_id


def test_the_web_role_cannot_read_or_write_the_ledger(shop_a, cast_a, tenant_a):
    erase(tenant_a, cast_a["owner"], shop_a["customer"]["id"])
    with role_connection("app") as connection:
        for statement in (
            "SELECT count(*) FROM exports_erasureledgerentry",
            "DELETE FROM exports_erasureledgerentry",
        ):
            with pytest.raises(Exception, match="permission denied"):
                connection.execute(statement)
            connection.rollback()
    with as_maintenance():
        assert ErasureLedgerEntry.objects.filter(tenant=tenant_a).count() == 1


def test_an_export_from_before_an_erasure_imports_the_customer_anonymised(shop_a, cast_a, tenant_a, tmp_path):
    """The attacker's side: the file still holds the customer; the imported tenant must not."""
    import io

    from django.core.management import call_command

    from inventory.selectors import customer_find
    from tenants.catalogue import tenant_table_names
    from tenants.models import Tenant
    from tests.exports.conftest import export_bytes, run_export, unzip

    customer_id = shop_a["customer"]["id"]
    path = tmp_path / "before-erasure.zip"
    path.write_bytes(export_bytes(tenant_a, run_export(tenant_a, cast_a["owner"])))
    assert CUSTOMER["email"].encode() in unzip(path.read_bytes())["inventory_customer.jsonl"]
    erase(tenant_a, cast_a["owner"], customer_id)

    call_command(
        "import_tenant", str(path), "--as", "alice-again", stdout=io.StringIO(), stderr=io.StringIO()
    )

    copy = Tenant.objects.get(slug="alice-again")
    with tenant_context(copy):
        [customer] = Customer.objects.all()
        assert customer.erased_at is not None
        assert (customer.name, customer.email, customer.phone) == (None, None, None)
        assert list(customer_find(queryset=Customer.objects.all(), email=CUSTOMER["email"])) == []
    # Every row of the imported tenant, in every table (customers, sales, the audit trail), as text.
    found = []
    with tenant_context(copy), connections["owner"].cursor() as cursor:
        for table in tenant_table_names():
            cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t WHERE tenant_id = %s', [copy.pk])
            for (text,) in cursor.fetchall():
                found += [(table, v) for v in CUSTOMER.values() if v.lower() in text.lower()]
    assert found == []
    with tenant_context(copy), connections["owner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auditlog_change WHERE tenant_id = %s", [copy.pk])
        assert cursor.fetchone()[0] > 0  # the imported audit trail is there, redacted
    # The new tenant's ledger knows the erasure under the new customer id; the source is untouched.
    with as_maintenance():
        entry = ErasureLedgerEntry.objects.get(tenant=copy)
    assert entry.customer_id == customer.pk and str(entry.customer_id) != customer_id
    assert customer_in(tenant_a, pk=customer_id).erased_at == customer.erased_at
