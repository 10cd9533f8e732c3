"""The one authorization function: may this user do this, in this store?

API permission classes, the admin and services all ask `can`. A user's grants are read once
per request (one query) and kept on the user object.
"""

from __future__ import annotations

from uuid import UUID

from accounts.permissions import STORE_SCOPED

ALL_STORES = None


def grants_of(user) -> dict[str, set[UUID] | None]:
    """permission -> the store ids it holds in, or None for every store."""
    cached = getattr(user, "_kassa_grants", None)
    if cached is not None:
        return cached
    from accounts.models import RoleAssignment

    grants: dict[str, set[UUID] | None] = {}
    if user.is_authenticated and user.is_active and user.tenant_id is not None:
        rows = getattr(user, "_kassa_grant_rows", None)
        if rows is None:
            rows = RoleAssignment.objects.filter(user=user).values_list("role__permissions", "store_id")
        for permissions, store_id in rows:
            for permission in permissions:
                held = grants.setdefault(permission, set())
                if held is ALL_STORES:
                    continue
                if store_id is None or permission not in STORE_SCOPED:
                    grants[permission] = ALL_STORES
                else:
                    held.add(store_id)
    restriction = getattr(user, "_kassa_restrict_to", None)
    if restriction is not None:  # token scopes or a support grant narrow what the user holds
        grants = {p: s for p, s in grants.items() if p in restriction}
    user._kassa_grants = grants
    return grants


def grant_rows_set(user, rows) -> None:
    """The user's (permissions, store id) role rows, read with the token (accounts.tokens.token_find),
    so `grants_of` needs no query of its own in this request."""
    user._kassa_grant_rows = [(row["permissions"], _uuid(row["store"])) for row in rows or []]
    user.__dict__.pop("_kassa_grants", None)


def _uuid(value) -> UUID | None:
    return UUID(value) if isinstance(value, str) else value


def restrict(user, permissions) -> None:
    """Narrow this request's grants (integrator key scopes); never widens them."""
    user._kassa_restrict_to = set(permissions)
    user.__dict__.pop("_kassa_grants", None)


def grant_for_support(user, permissions) -> None:
    """Platform staff under a support grant hold exactly the grant's permissions, chain-wide."""
    user._kassa_grants = {permission: ALL_STORES for permission in permissions}


def second_factor_set(user, verified: bool) -> None:
    """Whether this request's credential was obtained with a second factor: a token issued by a
    sign-in that checked a TOTP or backup code (`ApiToken.second_factor`; never a key), or a
    browser session signed in the same way (the session's `kassa_second_factor`)."""
    user._kassa_second_factor = verified


def second_factor_verified(user) -> bool:
    return bool(getattr(user, "_kassa_second_factor", False))


def can(user, permission: str, store=None) -> bool:
    if user is None or not user.is_authenticated:
        return False
    grants = grants_of(user)
    if permission not in grants:
        return False
    stores = grants[permission]
    if stores is ALL_STORES or (store is None and permission not in STORE_SCOPED):
        return True
    if store is None:
        return bool(stores)  # somewhere: the caller filters by `store_ids` next
    store_id = store if isinstance(store, UUID) else store.pk
    return store_id in stores


def can_everywhere(user, permission: str) -> bool:
    """The user holds `permission` in every store (for chain-wide reads such as exports)."""
    return can(user, permission) and store_ids(user, permission) is ALL_STORES


def store_ids(user, permission: str) -> set[UUID] | None:
    """The stores where the user holds `permission` (None: every store; empty: none)."""
    return grants_of(user).get(permission, set())


def permissions_of(user) -> list[str]:
    return sorted(grants_of(user))
