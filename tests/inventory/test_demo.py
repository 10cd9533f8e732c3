from accounts import authz
from accounts.models import User
from inventory.models import Product, Sale, StockLevel, StockMovement
from kassa.demo import demo_seed
from tenants.models import Store, Tenant


def test_the_demo_tenant_is_a_living_shop_with_a_user_per_role(db, settings, tmp_path, as_tenant):
    settings.VAR_DIR = tmp_path
    credentials, created = demo_seed()
    assert created
    assert set(credentials["users"]) == {"owner", "manager", "cashier", "integrator", "auditor"}
    with as_tenant(Tenant.objects.get(slug="demo")):
        assert Store.objects.count() == 2
        assert Product.objects.count() >= 24
        assert Sale.objects.count() >= 10
        for level in StockLevel.objects.all():
            assert level.quantity == sum(
                StockMovement.objects.filter(store=level.store, product=level.product).values_list(
                    "quantity", flat=True
                )
            )
            assert level.quantity >= 0
        for username, password in credentials["users"].items():
            assert User.objects.get(username=username).check_password(password)
        cashier = User.objects.get(username="cashier")
        assert authz.store_ids(cashier, "sell") == {Store.objects.get(code="MAIN").pk}
        # The back office has work waiting: a delivery and a transfer for Main Street, drafts for Harbour.
        from backoffice.models import PurchaseOrder, Transfer

        assert PurchaseOrder.objects.filter(store__code="MAIN", status="ordered").count() == 1
        assert Transfer.objects.filter(to_store__code="MAIN", status="in_transit").count() == 1
        assert StockLevel.objects.filter(reorder_quantity=24).count() == StockLevel.objects.count()


def test_seeding_again_after_a_lost_file_keeps_the_shop_and_renews_passwords(
    db, settings, tmp_path, as_tenant
):
    settings.VAR_DIR = tmp_path
    first, _ = demo_seed()
    with as_tenant(Tenant.objects.get(slug="demo")):
        counts = (Product.objects.count(), Sale.objects.count(), StockMovement.objects.count())
    (tmp_path / "demo-credentials.json").unlink()
    second, created = demo_seed()
    assert not created
    assert second["users"]["cashier"] != first["users"]["cashier"]
    with as_tenant(Tenant.objects.get(slug="demo")):
        assert (Product.objects.count(), Sale.objects.count(), StockMovement.objects.count()) == counts
        assert User.objects.get(username="cashier").check_password(second["users"]["cashier"])
    assert demo_seed() == (second, False)
