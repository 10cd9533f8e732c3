"""CSV imports as a Finnish shop writes them: decimal commas, semicolons, new categories, dry runs."""

import io
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from backoffice.models import StocktakeLine
from backoffice.services.stocktakes import stocktake_start
from inventory.importing import (
    csv_rows,
    number_parse,
    product_import_create,
    product_import_run,
    products_import,
)
from inventory.models import Category, Product, ProductImport
from tests.conftest import transactional
from tests.inventory.test_admin import get, post, signed_in


@pytest.mark.parametrize(
    ("text", "locale", "value"),
    [
        ("1,20", "fi", "1.20"),
        ("1.20", "fi", "1.20"),
        ("1 234,50", "fi", "1234.50"),
        ("1\u00a0234,50", "fi", "1234.50"),
        ("-0,5", "fi", "-0.5"),
        ("1,234.50", "en", "1234.50"),
        ("12,345,678", "en", "12345678"),
        ("1.20", "en", "1.20"),
        (" 7 ", "en", "7"),
    ],
)
def test_numbers_are_read_the_chains_way(text, locale, value):
    assert number_parse(text, locale=locale) == Decimal(value)


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("1.234,50", "fi"),
        ("1,2,3", "fi"),
        ("abc", "fi"),
        ("", "fi"),
        ("1,20", "en"),
        ("12,34,567", "en"),
        ("1e3", "en"),
        ("NaN", "fi"),
    ],
)
def test_ambiguous_numbers_are_refused_with_the_chains_example(text, locale):
    with pytest.raises(ValidationError) as refused:
        number_parse(text, locale=locale, name="price")
    assert ("1 234,50" if locale == "fi" else "1,234.50") in str(refused.value)


FINNISH = (
    "\ufeffsku;name;price;cost;category\n"
    "NEW-1;Pulla;1,20;0,45;Leipomo\n"
    "NEW-2;Kahvi 500 g;4,95;2,10;Kahvi\n"
    "NEW-3;Rikki;1.234,50;;Leipomo\n"
    "COF-1;Coffee;4,50;;\n"
)


def test_a_finnish_spreadsheet_is_read_with_semicolons_and_decimal_commas(
    cast_a, coffee, tenant_a, as_tenant
):
    header, rows = csv_rows(FINNISH)
    assert header == ["sku", "name", "price", "cost", "category"]
    with as_tenant(tenant_a):
        refused = products_import(rows=rows, actor=cast_a["owner"], locale="fi")
        assert not Product.objects.filter(sku__startswith="NEW").exists()  # unknown categories refused
        assert [line for line, _message in refused.errors] == [2, 3, 4]
        assert "Leipomo" in refused.errors[0][1]
        result = products_import(rows=rows, actor=cast_a["owner"], locale="fi", create_categories=True)
        assert (result.created, result.updated, result.unchanged, len(result.errors)) == (2, 0, 1, 1)
        assert result.categories_created == ["Leipomo", "Kahvi"]
        bun = Product.objects.get(sku="NEW-1")
        assert (bun.price, bun.cost, bun.category.name) == (Decimal("1.20"), Decimal("0.45"), "Leipomo")
        assert "1 234,50" in result.errors[0][1]  # what the chain's numbers look like


def test_a_dry_run_changes_nothing_and_says_what_would_change(cast_a, coffee, tenant_a, as_tenant):
    _header, rows = csv_rows(
        "sku,name,price,category\nCOF-1,Coffee renamed,4.80,Drinks\nNEW-9,Bagel,1.30,Drinks\n"
    )
    with as_tenant(tenant_a):
        stamp = Product.objects.get(sku="COF-1").updated_at
        result = products_import(
            rows=rows, actor=cast_a["owner"], locale="en", create_categories=True, dry_run=True
        )
        assert result.dry_run and (result.created, result.updated) == (1, 1)
        assert result.categories_created == ["Drinks"]  # once, though two rows name it
        changes = {sku: (action, fields) for _line, sku, action, fields in result.changes}
        assert changes["COF-1"] == (
            "updated",
            {"name": [coffee.name, "Coffee renamed"], "price": ["4.50", "4.80"], "category": ["", "Drinks"]},
        )
        assert changes["NEW-9"][0] == "created"
        assert not Product.objects.filter(sku="NEW-9").exists()
        assert not Category.objects.exists()
        unchanged = Product.objects.get(sku="COF-1")
        assert (unchanged.name, unchanged.price, unchanged.updated_at) == (
            coffee.name,
            Decimal("4.50"),
            stamp,
        )


def test_unchanged_rows_are_not_written_again(cast_a, coffee, tenant_a, as_tenant):
    from auditlog.models import ChangeEvent

    _header, rows = csv_rows(f"sku,name,price\nCOF-1,{coffee.name},4.50\n")
    with as_tenant(tenant_a):
        before = ChangeEvent.objects.count()
        result = products_import(rows=rows, actor=cast_a["owner"], locale="en")
        assert (result.unchanged, result.updated) == (1, 0)
        assert ChangeEvent.objects.count() == before


def test_a_dry_run_job_keeps_its_file_until_applied_and_shows_its_changes(
    cast_a, coffee, tenant_a, as_tenant
):
    with as_tenant(tenant_a):
        tried = product_import_create(
            actor=cast_a["owner"], data=FINNISH, filename="tuotteet.csv", dry_run=True, create_categories=True
        )
        assert tried.locale == "fi"  # the tenant's, when the form leaves it to the chain
    product_import_run(tenant=tenant_a, job_id=tried.pk)
    client = signed_in(cast_a["owner"])
    page = get(client, f"/admin/inventory/product/import/{tried.pk}/").content.decode()
    assert "Nothing has changed yet: 2 would be created" in page and 'id="import-apply"' in page
    assert "Leipomo" in page and "NEW-1" in page
    with as_tenant(tenant_a):
        assert not Product.objects.filter(sku="NEW-1").exists()
        tried.refresh_from_db()
        assert tried.data == FINNISH and tried.progress == 100
    applied = post(client, f"/admin/inventory/product/import/{tried.pk}/apply/", {})
    assert applied.status_code == 302
    with as_tenant(tenant_a):
        tried.refresh_from_db()
        real = ProductImport.objects.exclude(pk=tried.pk).get()
        assert tried.data is None and tried.applied_at is not None
        assert (real.dry_run, real.data, real.create_categories, real.locale) == (False, FINNISH, True, "fi")
    product_import_run(tenant=tenant_a, job_id=real.pk)
    with as_tenant(tenant_a):
        assert Product.objects.get(sku="NEW-1").price == Decimal("1.20")
    # Applied once: the dry run cannot be applied again, and another user's is not found.
    again = post(client, f"/admin/inventory/product/import/{tried.pk}/apply/", {})
    assert again.status_code == 302
    with as_tenant(tenant_a):
        assert ProductImport.objects.count() == 2


def test_the_admin_form_offers_the_dry_run_categories_and_number_format(cast_a, tenant_a, as_tenant):
    client = signed_in(cast_a["owner"])
    form = get(client, "/admin/inventory/product/import/").content.decode()
    assert 'name="dry_run"' in form and 'name="create_categories"' in form and 'name="locale"' in form
    answer = post(
        client,
        "/admin/inventory/product/import/",
        {"file": SimpleUploadedFile("p.csv", FINNISH.encode()), "dry_run": "on", "locale": "en"},
    )
    assert answer.status_code == 302
    with as_tenant(tenant_a):
        job = ProductImport.objects.get()
        assert (job.dry_run, job.locale, job.create_categories) == (True, "en", False)


def test_the_command_does_a_dry_run_with_new_categories_and_finnish_numbers(
    cast_a, coffee, tenant_a, as_tenant, tmp_path
):
    path = tmp_path / "tuotteet.csv"
    path.write_text(FINNISH, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):  # one row is refused either way
        call_command(
            "import_products",
            str(path),
            "--tenant",
            tenant_a.slug,
            "--dry-run",
            "--create-categories",
            stdout=out,
            stderr=err,
        )
    assert "2 would be created" in out.getvalue() and "(dry run: nothing changed)" in out.getvalue()
    assert "category 'Leipomo' would be created" in out.getvalue() and "line 4:" in err.getvalue()
    with as_tenant(tenant_a):
        assert not Product.objects.filter(sku="NEW-1").exists()
    with pytest.raises(CommandError):
        call_command(
            "import_products",
            str(path),
            "--tenant",
            tenant_a.slug,
            "--create-categories",
            stdout=out,
            stderr=err,
        )
    with as_tenant(tenant_a):
        assert Product.objects.get(sku="NEW-2").price == Decimal("4.95")


def test_the_stock_count_command_checks_then_counts(cast_a, stores_a, coffee, tenant_a, as_tenant, tmp_path):
    with as_tenant(tenant_a):
        stocktake = stocktake_start(store=stores_a[0], actor=None)
    path = tmp_path / "laskenta.csv"
    path.write_text("barcode;counted\n4000000000017;8\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    args = ["import_stock_counts", str(path), "--tenant", tenant_a.slug, "--stocktake", str(stocktake.number)]
    call_command(*args, "--dry-run", stdout=out, stderr=err)
    assert "COF-1 not counted -> 8 (stock 10)" in out.getvalue() and "would be counted" in out.getvalue()
    with as_tenant(tenant_a):
        assert StocktakeLine.objects.get(stocktake=stocktake).counted is None
    call_command(*args, stdout=out, stderr=err)
    with as_tenant(tenant_a):
        assert StocktakeLine.objects.get(stocktake=stocktake).counted == 8
    with pytest.raises(CommandError):
        call_command(*args[:-1], "99", stdout=out, stderr=err)


@transactional
def test_a_dry_run_shows_its_percentage_while_a_real_worker_runs_it(
    cast_a, tenant_a, as_tenant, celery_worker
):
    rows = "".join(f"DRY-{n};Tuote {n};{n},50\n" for n in range(1500))
    client = signed_in(cast_a["owner"])
    answer = post(
        client,
        "/admin/inventory/product/import/",
        {"file": SimpleUploadedFile("p.csv", ("sku;name;price\n" + rows).encode()), "dry_run": "on"},
    )
    assert answer.status_code == 302
    seen = set()
    deadline = time.monotonic() + 120
    while True:
        with as_tenant(tenant_a):
            job = ProductImport.objects.get()
        seen.add(job.progress)
        if job.finished:
            break
        assert time.monotonic() < deadline, "the dry run did not finish within 120 s"
        time.sleep(0.05)
    assert job.status == "done" and job.created == 1500 and job.data
    assert any(0 < percent < 100 for percent in seen), seen  # written beside the rolled-back rows
    with as_tenant(tenant_a):
        assert not Product.objects.exists()
