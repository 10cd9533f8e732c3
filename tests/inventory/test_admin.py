"""The tenant-scoped admin: tenant, store and permission limits on every page."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from inventory.models import Category, Product, Sale, StockMovement, Supplier
from inventory.services.catalogue import category_create, store_update, supplier_create
from inventory.services.customers import customer_create
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
from tenants.models import Store
from tests.conftest import PASSWORD, signed_in
from tests.inventory.conftest import stock_of, stock_put

HOST = "alice-chain.localhost"


def get(client, path):
    return client.get(path, secure=True)


def post(client, path, data):
    return client.post(path, data, secure=True)


def test_tenant_users_see_only_their_tenants_catalogue(cast_a, coffee, bobs_product):
    client = signed_in(cast_a["owner"])
    index = get(client, "/admin/")
    assert index.status_code == 200
    listing = get(client, "/admin/inventory/product/")
    assert listing.status_code == 200
    assert b"COF-1" in listing.content and b"BOB-1" not in listing.content
    assert b"Product BOB-1" not in get(client, "/admin/inventory/product/?q=BOB-1").content


@pytest.mark.parametrize(
    "page",
    [
        "/admin/inventory/product/{product}/change/",
        "/admin/inventory/stocklevel/{stock}/change/",
        "/admin/inventory/sale/{sale}/change/",
        "/admin/inventory/customer/{customer}/change/",
        "/admin/inventory/supplier/{supplier}/change/",
        "/admin/tenants/store/{store}/change/",
    ],
)
def test_another_tenants_objects_answer_404(cast_a, tenant_b, stores_b, bobs_product, as_tenant, page):
    from inventory.models import StockLevel

    with as_tenant(tenant_b):
        sale = sale_create(
            store=stores_b[0],
            lines=[SaleLineInput(product=bobs_product, quantity=1)],
            payments=[PaymentInput(method="card", amount=bobs_product.price)],
            actor=None,
        )
        ids = {
            "product": bobs_product.pk,
            "stock": StockLevel.objects.get(product=bobs_product).pk,
            "sale": sale.pk,
            "customer": customer_create(actor=None, name="Bobby").pk,
            "supplier": supplier_create(actor=None, name="Bob supplies").pk,
            "store": stores_b[0].pk,
        }
    assert get(signed_in(cast_a["owner"]), page.format(**ids)).status_code == 404


def test_platform_host_admin_is_for_platform_staff_only(cast_a):
    client = Client(HTTP_HOST="127.0.0.1")
    client.post("/login/", {"username": "alice", "password": PASSWORD}, secure=True)
    response = get(client, "/admin/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_admins_own_login_form_is_not_used(db, tenant_a):
    response = Client(HTTP_HOST=HOST).post(
        "/admin/login/", {"username": "alice", "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("role", "page"),
    [
        ("cashier", "/admin/inventory/product/add/"),
        ("cashier", "/admin/inventory/product/import/"),
        ("cashier", "/admin/inventory/stockmovement/add/"),
        ("cashier", "/admin/inventory/sale/"),
        ("cashier", "/admin/inventory/stockmovement/"),
        ("auditor", "/admin/inventory/customer/"),
        ("store_manager", "/admin/tenants/store/add/"),
    ],
)
def test_a_lacking_permission_is_forbidden(cast_a, coffee, role, page):
    assert get(signed_in(cast_a[role]), page).status_code == 403


def test_a_refused_post_changes_nothing(cast_a, coffee, tenant_a, as_tenant):
    client = signed_in(cast_a["cashier"])
    answer = post(
        client,
        "/admin/inventory/product/add/",
        {"sku": "NEW", "name": "New", "price": "1", "cost": "0", "tax_rate": "0"},
    )
    assert answer.status_code == 403
    with as_tenant(tenant_a):
        assert not Product.objects.filter(sku="NEW").exists()


def test_store_managers_see_and_act_in_their_store_only(cast_a, stores_a, coffee, tenant_a, as_tenant):
    stock_put(tenant_a, stores_a[1], coffee, 3)
    client = signed_in(cast_a["store_manager"])
    levels = get(client, "/admin/inventory/stocklevel/")
    assert levels.status_code == 200
    assert stores_a[0].name.encode() in levels.content
    assert stores_a[1].name.encode() not in levels.content
    form = get(client, "/admin/inventory/stockmovement/add/")
    assert form.status_code == 200
    assert str(stores_a[0].pk).encode() in form.content
    store_field = form.content.split(b'name="store"')[1].split(b"</select>")[0]
    assert str(stores_a[1].pk).encode() not in store_field
    refused = post(
        client,
        "/admin/inventory/stockmovement/add/",
        {"store": stores_a[1].pk, "product": coffee.pk, "operation": "receive", "amount": 5, "reason": ""},
    )
    assert refused.status_code == 200  # the form refuses the store it does not offer
    assert stock_of(tenant_a, stores_a[1], coffee) == 3
    done = post(
        client,
        "/admin/inventory/stockmovement/add/",
        {
            "store": stores_a[0].pk,
            "product": coffee.pk,
            "operation": "receive",
            "amount": 5,
            "reason": "delivery",
        },
    )
    assert done.status_code == 302
    assert stock_of(tenant_a, stores_a[0], coffee) == 15


def test_bad_input_in_a_form_is_shown_and_changes_nothing(cast_a, coffee, tenant_a, as_tenant):
    client = signed_in(cast_a["owner"])
    answer = post(
        client,
        "/admin/inventory/product/add/",
        {"sku": "BAD", "name": "Bad", "price": "abc", "cost": "0", "tax_rate": "0"},
    )
    assert answer.status_code == 200 and b"errorlist" in answer.content
    duplicate = post(
        client,
        "/admin/inventory/product/add/",
        {"sku": "COF-1", "name": "Dup", "price": "1", "cost": "0", "tax_rate": "0"},
    )
    # The service's refusal is a form error on the form as typed (it used to redirect and lose it).
    assert duplicate.status_code == 200 and b"Another product has this sku." in duplicate.content
    assert b'value="Dup"' in duplicate.content
    with as_tenant(tenant_a):
        assert not Product.objects.filter(sku="BAD").exists()
        assert Product.objects.filter(sku="COF-1").count() == 1
    oversell = post(
        client,
        "/admin/inventory/stockmovement/add/",
        {"store": "", "product": coffee.pk, "operation": "adjust", "amount": -50, "reason": "x"},
    )
    assert oversell.status_code == 200 and b"errorlist" in oversell.content


def test_products_are_created_through_the_service(cast_a, tenant_a, as_tenant):
    client = signed_in(cast_a["owner"])
    answer = post(
        client,
        "/admin/inventory/product/add/",
        {"sku": "ADM-1", "name": "Admin made", "price": "2.50", "cost": "1", "tax_rate": "7", "active": "on"},
    )
    assert answer.status_code == 302
    with as_tenant(tenant_a):
        assert Product.objects.get(sku="ADM-1").tenant_id == tenant_a.pk


def test_csv_import_reports_each_bad_row_and_keeps_the_good_ones(cast_a, coffee, tenant_a, as_tenant):
    from inventory.importing import product_import_run

    client = signed_in(cast_a["owner"])
    data = "sku,name,price,tax_rate\nNEW-1,Bagel,1.30,7\nNEW-2,Broken,abc,7\nCOF-1,Coffee renamed,4.80,14\n,No sku,1,0\n"
    answer = post(
        client, "/admin/inventory/product/import/", {"file": SimpleUploadedFile("p.csv", data.encode())}
    )
    assert answer.status_code == 302  # to the job's page; a worker imports the rows
    job_id = answer["Location"].rstrip("/").rsplit("/", 1)[1]
    product_import_run(tenant=tenant_a, job_id=job_id)
    text = get(client, answer["Location"]).content.decode()
    assert "1 created, 1 updated, 2 refused" in text
    assert "<td>3</td>" in text and "<td>5</td>" in text
    with as_tenant(tenant_a):
        assert Product.objects.get(sku="NEW-1").name == "Bagel"
        assert Product.objects.get(sku="COF-1").name == "Coffee renamed"
        assert not Product.objects.filter(name="Broken").exists()
    bad_header = post(
        client,
        "/admin/inventory/product/import/",
        {"file": SimpleUploadedFile("p.csv", b"code,title\nx,y\n")},
    )
    assert bad_header.status_code == 400


def test_import_products_command_shows_progress_and_errors(tenant_a, tmp_path, as_tenant, capsys):
    path = tmp_path / "products.csv"
    path.write_text("sku,name,price\nCMD-1,One,1.00\nCMD-2,Two,-3\n")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_products", str(path), "--tenant", tenant_a.slug, stdout=out, stderr=err)
    assert refused.value.returncode == 2
    assert "1 created, 0 updated, 1 refused" in out.getvalue()
    assert "line 3: price" in err.getvalue()
    with as_tenant(tenant_a):
        assert list(Product.objects.values_list("sku", flat=True)) == ["CMD-1"]


def test_sales_are_listed_per_store_and_refunded_through_the_service(
    cast_a, stores_a, coffee, tenant_a, as_tenant
):
    stock_put(tenant_a, stores_a[1], coffee, 2)
    with as_tenant(tenant_a):
        mine, other = (
            sale_create(
                store=store,
                lines=[SaleLineInput(product=coffee, quantity=1)],
                payments=[PaymentInput(method="card", amount=coffee.price)],
                actor=cast_a["owner"],
            )
            for store in stores_a
        )
    client = signed_in(cast_a["store_manager"])
    assert get(client, f"/admin/inventory/sale/{mine.pk}/change/").status_code == 200
    assert get(client, f"/admin/inventory/sale/{other.pk}/change/").status_code == 404
    chosen = {"action": "refund_whole", "_selected_action": [str(mine.pk), str(other.pk)]}
    asked = post(
        client, "/admin/inventory/sale/", chosen
    )  # a bulk action asks first, listing what it selected
    assert asked.status_code == 200 and b'id="confirm-yes"' in asked.content
    assert f"receipt {mine.receipt_number}".encode() in asked.content
    with as_tenant(tenant_a):
        assert Sale.objects.get(pk=mine.pk).status == "completed"
    answer = post(client, "/admin/inventory/sale/", {**chosen, "kassa_confirmed": "yes"})
    assert answer.status_code == 302
    with as_tenant(tenant_a):
        assert Sale.objects.get(pk=mine.pk).status == "refunded"
        assert Sale.objects.get(pk=other.pk).status == "completed"
        assert StockMovement.objects.filter(kind="refund").count() == 1
    assert stock_of(tenant_a, stores_a[0], coffee) == 10


def test_customers_are_found_by_exact_email(cast_a, tenant_a, as_tenant):
    with as_tenant(tenant_a):
        customer_create(actor=None, name="Carol", email="carol@example.com")
        customer_create(actor=None, name="Dave", email="dave@example.com")
    page = get(signed_in(cast_a["cashier"]), "/admin/inventory/customer/?q=Carol@Example.com")
    assert page.status_code == 200
    assert b"carol@example.com" in page.content and b"dave@example.com" not in page.content


def test_a_refused_store_change_is_a_form_error_and_keeps_the_input(cast_a, stores_a, tenant_a, as_tenant):
    with as_tenant(tenant_a):
        store_update(store=stores_a[1], actor=None, code="HBR")
    answer = post(
        signed_in(cast_a["owner"]),
        f"/admin/tenants/store/{stores_a[0].pk}/change/",
        {
            "name": "Main street renamed",
            "code": "HBR",
            "address": "1 Main street",
            "time_zone": "Europe/Helsinki",
        },
    )
    assert answer.status_code == 200
    assert b"Another store has this code." in answer.content
    assert b'value="Main street renamed"' in answer.content and b"1 Main street" in answer.content
    with as_tenant(tenant_a):
        store = Store.objects.get(pk=stores_a[0].pk)
        assert (store.name, store.code, store.address) == ("Main street", "", "")


def test_a_refused_stock_movement_is_a_form_error_and_writes_nothing(
    cast_a, stores_a, coffee, tenant_a, as_tenant
):
    with as_tenant(tenant_a):
        movements = StockMovement.objects.count()
    answer = post(
        signed_in(cast_a["store_manager"]),
        "/admin/inventory/stockmovement/add/",
        {
            "store": stores_a[0].pk,
            "product": coffee.pk,
            "operation": "adjust",
            "amount": -50,
            "reason": "broken shelf",
        },
    )
    assert answer.status_code == 200
    assert b"Not enough stock of COF-1: 10 available, 50 wanted." in answer.content
    assert b'value="-50"' in answer.content and b'value="broken shelf"' in answer.content
    assert stock_of(tenant_a, stores_a[0], coffee) == 10
    with as_tenant(tenant_a):
        assert StockMovement.objects.count() == movements


def test_a_transfer_without_a_destination_is_a_form_error(cast_a, stores_a, coffee, tenant_a, as_tenant):
    answer = post(
        signed_in(cast_a["owner"]),
        "/admin/inventory/stockmovement/add/",
        {"store": stores_a[0].pk, "product": coffee.pk, "operation": "transfer", "amount": 2, "reason": ""},
    )
    assert answer.status_code == 200 and b"A transfer needs the store to send to." in answer.content
    assert stock_of(tenant_a, stores_a[0], coffee) == 10


def test_categories_and_suppliers_are_saved_through_the_services(cast_a, tenant_a, as_tenant):
    client = signed_in(cast_a["owner"])
    assert post(client, "/admin/inventory/category/add/", {"name": "Drinks"}).status_code == 302
    assert post(client, "/admin/inventory/category/add/", {"name": "Snacks"}).status_code == 302
    assert post(client, "/admin/inventory/supplier/add/", {"name": "Beans Ltd"}).status_code == 302
    with as_tenant(tenant_a):
        snacks = Category.objects.get(name="Snacks")
    # The tenant's uniqueness rule is the service's: a form error, not a database error.
    renamed = post(client, f"/admin/inventory/category/{snacks.pk}/change/", {"name": "Drinks"})
    assert renamed.status_code == 200 and b"Another category has this name." in renamed.content
    again = post(client, "/admin/inventory/supplier/add/", {"name": "Beans Ltd", "email": "b@example.com"})
    assert again.status_code == 200 and b"Another supplier has this name." in again.content
    assert b'value="b@example.com"' in again.content
    with as_tenant(tenant_a):
        assert sorted(Category.objects.values_list("name", flat=True)) == ["Drinks", "Snacks"]
        assert Supplier.objects.filter(name="Beans Ltd").count() == 1


def test_a_category_without_manage_products_is_refused(cast_a, tenant_a, as_tenant):
    with as_tenant(tenant_a):
        drinks = category_create(actor=None, name="Drinks")
    client = signed_in(cast_a["cashier"])
    assert (
        post(client, f"/admin/inventory/category/{drinks.pk}/change/", {"name": "Sweets"}).status_code == 403
    )
    with as_tenant(tenant_a):
        assert Category.objects.get(pk=drinks.pk).name == "Drinks"
