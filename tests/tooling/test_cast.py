"""The test base itself: both tenants' casts are alike, and what the factories make signs in."""

from accounts.models import RoleAssignment
from tenants.context import tenant_context
from tests.factories import ProductFactory, StoreFactory, UserFactory

ROLES = ["owner", "store_manager", "cashier", "integrator", "auditor"]


def assignments(cast: dict, first_store) -> dict[str, list[tuple[str, str]]]:
    """role key -> [(built-in role held, where: "every store", "first store" or "another store")]."""

    def where(assignment) -> str:
        if assignment.store_id is None:
            return "every store"
        return "first store" if assignment.store_id == first_store.pk else "another store"

    shape = {}
    for key, user in cast.items():
        with tenant_context(user.tenant):
            held = RoleAssignment.objects.filter(user=user).select_related("role")
            shape[key] = sorted((assignment.role.builtin, where(assignment)) for assignment in held)
    return shape


def test_cast_b_mirrors_cast_a_in_bobs_chain(cast_a, cast_b, stores_a, stores_b, tenant_a, tenant_b):
    assert list(cast_a) == list(cast_b) == ROLES
    assert {user.tenant_id for user in cast_a.values()} == {tenant_a.pk}
    assert {user.tenant_id for user in cast_b.values()} == {tenant_b.pk}
    assert assignments(cast_b, stores_b[0]) == assignments(cast_a, stores_a[0])
    assert assignments(cast_b, stores_b[0])["cashier"] == [("cashier", "first store")]
    assert assignments(cast_b, stores_b[0])["owner"] == [("owner", "every store")]


def test_every_one_of_both_casts_signs_in_on_its_tenants_host(cast_a, cast_b, web):
    for user in [*cast_a.values(), *cast_b.values()]:
        page = web(user).get("/account/", secure=True)
        assert page.status_code == 200 and user.username.encode() in page.content


def test_the_factories_fill_in_what_they_are_not_told(tenant_b, web):
    store = StoreFactory(tenant=tenant_b)
    user = UserFactory(tenant=tenant_b, stores=[store])
    product = ProductFactory(tenant=tenant_b)
    with tenant_context(tenant_b):
        assert RoleAssignment.objects.get(user=user).role.builtin == "cashier"
        assert product.name == f"Product {product.sku}" and product.tenant_id == tenant_b.pk
    assert store.tenant_id == tenant_b.pk and store.name.startswith("Store ")
    # The register sends a cashier of one store straight to it.
    assert web(user).get("/pos/", secure=True)["Location"] == f"/pos/{store.pk}/"
