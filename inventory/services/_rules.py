"""Rules shared by the inventory services: the actor's permission, field checks, money."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext

from accounts import authz
from tenants.models import Store

CENT = Decimal("0.01")

UNIQUE_PER_TENANT = {"Product": "sku", "Supplier": "name", "Category": "name", "Store": "code"}


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def require(actor, permission: str, store: Store | None = None) -> None:
    """Refuse unless `actor` holds `permission` (in `store`, when given); `None` is the system."""
    if actor is not None and not authz.can(actor, permission, store):
        if store is not None:
            raise PermissionDenied(
                gettext("You may not %(action)s in %(store)s.")
                % {"action": permission.replace("_", " "), "store": store.name}
            )
        raise PermissionDenied(gettext("You may not %(action)s.") % {"action": permission.replace("_", " ")})


def clean(instance, exclude: Sequence[str] = ()) -> None:
    """Validate the fields, and the tenant's uniqueness rule that full_clean skips (it excludes tenant)."""
    instance.full_clean(exclude=["tenant", *exclude], validate_unique=False, validate_constraints=False)
    field = UNIQUE_PER_TENANT.get(type(instance).__name__)
    value = getattr(instance, field, None) if field else None
    if field and value:
        others = type(instance).objects.filter(**{field: value}).exclude(pk=instance.pk)
        if others.exists():
            raise ValidationError(
                {
                    field: gettext("Another %(thing)s has this %(field)s.")
                    % {"thing": type(instance)._meta.verbose_name, "field": field}
                }
            )
    external_id_check(instance)


def external_id_check(instance) -> None:
    """An integrator's `external_id` names one row of the tenant (when set)."""
    value = getattr(instance, "external_id", "")
    if value and type(instance).objects.filter(external_id=value).exclude(pk=instance.pk).exists():
        raise ValidationError(
            {
                "external_id": gettext("Another %(thing)s has this external_id.")
                % {"thing": type(instance)._meta.verbose_name}
            }
        )


def refresh_stamp(instance) -> None:
    """Read back `updated_at`, which the database sets (inventory.sync) after an update."""
    instance.refresh_from_db(fields=["updated_at"])


def positive(quantity: int, field: str = "quantity") -> None:
    if not isinstance(quantity, int) or quantity <= 0:
        raise ValidationError({field: gettext("Must be a positive whole number.")})
