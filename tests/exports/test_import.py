"""Export, then import into a new tenant: the same data (counts and checksums per entity)."""

import json
import zipfile

import pytest
from django.core.management import call_command

from accounts.models import User
from exports.errors import ExportError
from inventory.models import Customer, Product, Sale
from lifecycle.importing import tenant_import
from tenants.context import tenant_context
from tenants.models import Tenant
from tests.conftest import transactional
from tests.exports.conftest import CUSTOMER, export_bytes, run_export, unzip

pytestmark = transactional


def test_export_then_import_gives_equal_data(shop_a, cast_a, tenant_a, tmp_path):
    """The import itself reads every entity back with the source's ids and compares the row count
    and the JSON Lines' SHA-256 with the manifest (the next test shows it refuses a difference)."""
    export = run_export(tenant_a, cast_a["owner"])
    path = tmp_path / "export.zip"
    path.write_bytes(export_bytes(tenant_a, export))
    call_command("import_tenant", str(path), "--as", "alice-again")
    copy = Tenant.objects.get(slug="alice-again")
    assert copy.status == "active" and copy.pk != tenant_a.pk

    again = run_export(copy, _owner(copy))
    first, second = unzip(path.read_bytes()), unzip(export_bytes(copy, again))
    entities = json.loads(first["manifest.json"])["entities"]
    copied = json.loads(second["manifest.json"])["entities"]
    for name, entry in entities.items():
        # The copy's change log also holds its own export job's insert and claim.
        extra = 2 if name == "auditlog_change" else 0
        assert copied[name]["rows"] == entry["rows"] + extra, name
    with tenant_context(tenant_a):
        products = sorted(Product.objects.values_list("sku", "name", "price"))
        totals = sorted(Sale.objects.values_list("total", flat=True))
    with tenant_context(copy):
        assert sorted(Product.objects.values_list("sku", "name", "price")) == products
        assert sorted(Sale.objects.values_list("total", flat=True)) == totals
        customer = Customer.objects.get()
        assert (customer.name, customer.email, customer.phone) == (
            CUSTOMER["name"],
            CUSTOMER["email"],
            CUSTOMER["phone"],
        )
        assert Sale.objects.filter(customer=customer).count() == 2
        from inventory.selectors import customer_find

        assert [c.pk for c in customer_find(queryset=Customer.objects.all(), email=CUSTOMER["email"])] == [
            customer.pk
        ]
        assert not any(user.has_usable_password() for user in User.objects.all())


def _owner(tenant):
    with tenant_context(tenant):
        return User.objects.get(username="alice")


def test_an_altered_export_is_refused_and_leaves_no_tenant(shop_a, cast_a, tenant_a, tmp_path):
    export = run_export(tenant_a, cast_a["owner"])
    files = unzip(export_bytes(tenant_a, export))
    files["inventory_product.jsonl"] = files["inventory_product.jsonl"].replace(b'"9.99"', b'"0.01"', 1)
    path = tmp_path / "altered.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    with pytest.raises(ExportError, match="differs"):
        tenant_import(path=path, slug="alice-forged")
    assert not Tenant.objects.filter(slug="alice-forged").exists()
