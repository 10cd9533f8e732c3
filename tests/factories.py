"""factory_boy factories of the test cast: tenants, stores, users and products, made as Kassa makes them.

Each goes through the service the application uses (tenant onboarding, `user_create`,
`product_create`) inside its tenant's context, so a made object is one the app could have made.
Onboarding is the maintenance role's (`tenant_create` steps up with `as_maintenance()` inside
the test's transaction); everything else is made as the application role, as a request would.
Every field has a default: `UserFactory(tenant=t)` is some cashier of every store of `t`,
`UserFactory(tenant=t, username="sam", role="store_manager", stores=[store])` a named one.
"""

from decimal import Decimal

import factory

from accounts.models import Role, User
from accounts.services import user_create
from inventory.models import Product
from inventory.services.catalogue import product_create
from lifecycle.services.onboarding import tenant_create
from tenants.context import tenant_context
from tenants.models import Store, Tenant

PASSWORD = "correct-horse-battery-7"


class TenantFactory(factory.Factory):
    """A tenant with its domain, data key and owner (`owner`, signing in with PASSWORD)."""

    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"chain-{n}")
    name = factory.LazyAttribute(lambda tenant: tenant.slug.title())
    owner = "owner"

    @classmethod
    def _create(cls, model_class, *, slug, name, owner):
        tenant, _ = tenant_create(
            slug=slug, name=name, region="local", owner_username=owner, owner_password=PASSWORD
        )
        return tenant


class InTenant(factory.Factory):
    """Made inside the context of the `tenant` passed in (required), as a request of it would."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, tenant, **fields):
        with tenant_context(tenant):
            return cls.make(**fields)

    @classmethod
    def make(cls, **fields):
        return cls._meta.model.objects.create(**fields)


class StoreFactory(InTenant):
    class Meta:
        model = Store

    name = factory.Sequence(lambda n: f"Store {n}")


class UserFactory(InTenant):
    """A user holding the built-in `role` in `stores` (every store if none), password settled."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    role = "cashier"
    stores = ()
    password = PASSWORD

    @classmethod
    def make(cls, *, role, stores, **fields):
        return user_create(
            roles=[Role.objects.get(builtin=role)], stores=list(stores), must_change_password=False, **fields
        )


class ServiceUserFactory(UserFactory):
    """A service user (no password, no sign-in) holding `role`, by default the integrator."""

    username = factory.Sequence(lambda n: f"service{n}")
    role = "integrator"
    password = None
    is_service = True


class ProductFactory(InTenant):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n}")
    name = factory.LazyAttribute(lambda product: f"Product {product.sku}")
    price = Decimal("4.50")
    tax_rate = Decimal("14.00")

    @classmethod
    def make(cls, **fields):
        return product_create(actor=None, **fields)
