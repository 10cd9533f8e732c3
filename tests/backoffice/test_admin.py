"""The back office in the admin: autocomplete that never leaks, bulk actions that ask first,
reorder settings through the service, lists limited to the user's stores."""

from urllib.parse import urlencode

from backoffice.models import PurchaseOrder, Stocktake
from backoffice.services.stocktakes import stocktake_start
from backoffice.services.transfers import TransferLineInput, transfer_send
from inventory.models import StockLevel
from inventory.services.catalogue import category_create
from tenants.models import Store
from tests.backoffice.conftest import order_make
from tests.conftest import signed_in
from tests.inventory.conftest import product_make, stock_put
from tests.inventory.test_admin import get, post


def autocomplete(client, app: str, model: str, field: str, term: str = "") -> list[str]:
    query = urlencode({"app_label": app, "model_name": model, "field_name": field, "term": term})
    answer = get(client, f"/admin/autocomplete/?{query}")
    assert answer.status_code == 200, answer.content[:300]
    return [row["text"] for row in answer.json()["results"]]


def test_autocomplete_never_shows_another_tenants_or_another_stores_rows(
    cast_a, stores_a, tenant_b, stores_b, beans, bobs_supplier, as_tenant
):
    product_make(tenant_b, "BEAN-B", "1.00", name="Bob's beans")
    with as_tenant(tenant_b):
        category_create(actor=None, name="Bob's shelf")
    owner, manager = signed_in(cast_a["owner"]), signed_in(cast_a["store_manager"])
    # Stores: the owner's chain has two; the store manager works in one; Bob's never appear.
    assert sorted(autocomplete(owner, "backoffice", "purchaseorder", "store")) == ["Harbour", "Main street"]
    assert autocomplete(manager, "backoffice", "purchaseorder", "store") == ["Main street"]
    assert autocomplete(manager, "backoffice", "purchaseorder", "store", "Harb") == []
    assert autocomplete(owner, "backoffice", "purchaseorder", "store", "Bob") == []
    # Products (the movement form's 228-entry drop-down is now this search) and suppliers.
    assert autocomplete(owner, "inventory", "stockmovement", "product", "bean") == ["BEAN-1 Product BEAN-1"]
    assert autocomplete(owner, "inventory", "stockmovement", "product", "6400000000011") == [
        "BEAN-1 Product BEAN-1"
    ]
    assert autocomplete(owner, "backoffice", "purchaseorder", "supplier") == ["Roastery Oy"]
    assert autocomplete(owner, "inventory", "product", "category", "Bob") == []
    # The cashier works in the first store only: its stores are the only ones offered anywhere.
    cashier = signed_in(cast_a["cashier"])
    assert autocomplete(cashier, "backoffice", "stocktake", "store") == ["Main street"]
    assert autocomplete(cashier, "inventory", "stockmovement", "product", "BEAN-B") == []


def test_the_movement_form_and_the_product_form_use_autocomplete(cast_a, beans):
    client = signed_in(cast_a["owner"])
    movement = get(client, "/admin/inventory/stockmovement/add/").content.decode()
    assert (
        'data-ajax--url="/admin/autocomplete/"' in movement and 'data-model-name="stockmovement"' in movement
    )
    assert "BEAN-1 Product BEAN-1</option>" not in movement  # no list of every product
    product = get(client, f"/admin/inventory/product/{beans.pk}/change/").content.decode()
    assert product.count("admin-autocomplete") >= 2  # category and supplier


def test_a_purchase_order_is_added_in_the_admin_and_ordered_after_confirming(
    cast_a, stores_a, roaster, beans, tenant_a, as_tenant
):
    client = signed_in(cast_a["store_manager"])
    added = post(
        client,
        "/admin/backoffice/purchaseorder/add/",
        {
            "supplier": str(roaster.pk),
            "store": str(stores_a[0].pk),
            "notes": "weekly",
            "lines-TOTAL_FORMS": "0",
            "lines-INITIAL_FORMS": "0",
        },
    )
    assert added.status_code == 302, added.content[:2000]
    with as_tenant(tenant_a):
        order = PurchaseOrder.objects.get()
        assert (order.status, order.created_by_id, order.notes) == (
            "draft",
            cast_a["store_manager"].pk,
            "weekly",
        )
    # Not in a store the manager does not purchase for: a form error, nothing made.
    refused = post(
        client,
        "/admin/backoffice/purchaseorder/add/",
        {
            "supplier": str(roaster.pk),
            "store": str(stores_a[1].pk),
            "lines-TOTAL_FORMS": "0",
            "lines-INITIAL_FORMS": "0",
        },
    )
    assert refused.status_code == 200 and b"errorlist" in refused.content
    page = get(client, f"/admin/backoffice/purchaseorder/{order.pk}/change/").content.decode()
    assert f"/backoffice/{stores_a[0].pk}/purchase-orders/{order.pk}/" in page  # the task page, for the lines
    with_line = order_make(tenant_a, stores_a[0], roaster, [(beans, 1, "1.00")], ordered=False)
    chosen = {"action": "order_selected", "_selected_action": [str(order.pk), str(with_line.pk)]}
    asked = post(client, "/admin/backoffice/purchaseorder/", chosen)
    assert asked.status_code == 200 and b'id="confirm-yes"' in asked.content
    with as_tenant(tenant_a):
        assert PurchaseOrder.objects.filter(status="ordered").count() == 0
    done = post(client, "/admin/backoffice/purchaseorder/", {**chosen, "kassa_confirmed": "yes"})
    assert done.status_code == 302
    with as_tenant(tenant_a):
        statuses = dict(PurchaseOrder.objects.values_list("pk", "status"))
    assert statuses == {
        order.pk: "draft",
        with_line.pk: "ordered",
    }  # the empty one was refused, with a message


def test_the_back_office_lists_show_only_the_users_stores(
    cast_a, stores_a, roaster, beans, tenant_a, as_tenant
):
    mine = order_make(tenant_a, stores_a[0], roaster, [(beans, 1, "1.00")])
    theirs = order_make(tenant_a, stores_a[1], roaster, [(beans, 1, "1.00")])
    stock_put(tenant_a, stores_a[1], beans, 3)
    with as_tenant(tenant_a):
        harbour_count = stocktake_start(store=stores_a[1], actor=None)
        incoming = transfer_send(
            from_store=stores_a[1],
            to_store=stores_a[0],
            lines=[TransferLineInput(product=beans, quantity=1)],
            actor=None,
        )
        other_store = Store.objects.create(name="Airport")
        elsewhere = transfer_send(
            from_store=stores_a[1],
            to_store=other_store,
            lines=[TransferLineInput(product=beans, quantity=1)],
            actor=None,
        )
    client = signed_in(cast_a["store_manager"])
    assert get(client, f"/admin/backoffice/purchaseorder/{mine.pk}/change/").status_code == 200
    assert get(client, f"/admin/backoffice/purchaseorder/{theirs.pk}/change/").status_code == 404
    assert get(client, f"/admin/backoffice/stocktake/{harbour_count.pk}/change/").status_code == 404
    assert (
        get(client, f"/admin/backoffice/transfer/{incoming.pk}/change/").status_code == 200
    )  # coming to them
    assert get(client, f"/admin/backoffice/transfer/{elsewhere.pk}/change/").status_code == 404
    listing = get(client, "/admin/backoffice/purchaseorder/").content.decode()
    assert f">{mine.number}<" in listing and f">{theirs.number}<" not in listing


def test_a_stocktake_is_started_in_the_admin_and_read_there(cast_a, stores_a, beans, tenant_a, as_tenant):
    client = signed_in(cast_a["store_manager"])
    assert (
        post(
            client,
            "/admin/backoffice/stocktake/add/",
            {
                "store": str(stores_a[0].pk),
                "note": "spring",
                "lines-TOTAL_FORMS": "0",
                "lines-INITIAL_FORMS": "0",
            },
        ).status_code
        == 302
    )
    with as_tenant(tenant_a):
        stocktake = Stocktake.objects.get()
        assert stocktake.lines.get().expected == 10 and stocktake.started_by_id == cast_a["store_manager"].pk
    page = get(client, f"/admin/backoffice/stocktake/{stocktake.pk}/change/").content.decode()
    assert 'name="_save"' not in page  # read here; counted on the task page
    assert f"/backoffice/{stores_a[0].pk}/stocktakes/{stocktake.pk}/" in page


def test_reorder_settings_are_edited_in_the_admin_through_the_service(
    cast_a, stores_a, beans, tenant_a, as_tenant
):
    with as_tenant(tenant_a):
        level = StockLevel.objects.get(store=stores_a[0], product=beans)
    url = f"/admin/inventory/stocklevel/{level.pk}/change/"
    client = signed_in(cast_a["store_manager"])
    saved = post(client, url, {"reorder_point": "6", "reorder_quantity": "24"})
    assert saved.status_code == 302, saved.content[:2000]
    refused = post(client, url, {"reorder_point": "-3", "reorder_quantity": "24"})
    assert refused.status_code == 200 and b"errorlist" in refused.content
    assert (
        post(signed_in(cast_a["cashier"]), url, {"reorder_point": "1", "reorder_quantity": "1"}).status_code
        == 403
    )
    with as_tenant(tenant_a):
        level.refresh_from_db()
    assert (level.reorder_point, level.reorder_quantity, level.quantity) == (6, 24, 10)
    listing = get(client, "/admin/inventory/stocklevel/").content.decode()
    assert '<td class="field-reorder_quantity">24</td>' in listing
