"""Every accounts endpoint against every built-in role: allowed, or 403; another tenant's object 404."""

import pytest
from django.utils import timezone

from accounts.models import Role, SupportGrant, User
from tenants.context import tenant_context
from tests.conftest import make_user

ROLES = ["owner", "store_manager", "cashier", "integrator", "auditor"]

# (method, path template, body, roles allowed)
ENDPOINTS = [
    ("get", "/api/v1/me/", None, ROLES),
    ("get", "/api/v1/me/access/", None, ROLES),
    ("get", "/api/v1/me/tokens/", None, ROLES),
    ("get", "/api/v1/permissions/", None, ROLES),
    ("get", "/api/v1/users/", None, ["owner", "store_manager"]),
    ("get", "/api/v1/users/{user}/", None, ["owner", "store_manager"]),
    ("patch", "/api/v1/users/{user}/", {"full_name": "Renamed"}, ["owner", "store_manager"]),
    ("post", "/api/v1/users/{user}/unlock/", None, ["owner", "store_manager"]),
    (
        "post",
        "/api/v1/users/{user}/password/",
        {"new_password": "reset-password-4711"},
        ["owner", "store_manager"],
    ),
    ("post", "/api/v1/users/{user}/deactivate/", None, ["owner", "store_manager"]),
    ("get", "/api/v1/roles/", None, ["owner", "store_manager"]),
    ("post", "/api/v1/roles/", {"name": "Night shift", "permissions": ["sell"]}, ["owner"]),
    ("get", "/api/v1/roles/{role}/", None, ["owner"]),
    ("patch", "/api/v1/roles/{role}/", {"password_history": 6}, ["owner"]),
    ("get", "/api/v1/support-grants/", None, ["owner"]),
    ("post", "/api/v1/support-grants/", "grant", ["owner"]),
    ("post", "/api/v1/support-grants/{grant}/revoke/", None, ["owner"]),
]


# Recovery and keys also need the caller's second factor: every role signs in with a code here.
SECOND_FACTOR_ENDPOINTS = [
    ("post", "/api/v1/users/{user}/mfa/reset/", None, ["owner", "store_manager"]),
    ("post", "/api/v1/users/{inactive}/reactivate/", None, ["owner", "store_manager"]),
    ("get", "/api/v1/users/{service}/keys/", None, ["owner", "store_manager"]),
    (
        "post",
        "/api/v1/users/{service}/keys/",
        {"name": "sync", "scopes": ["sell"]},
        ["owner", "store_manager"],
    ),
    ("post", "/api/v1/keys/{key}/revoke/", None, ["owner", "store_manager"]),
    ("post", "/api/v1/keys/{key}/rotate/", None, ["owner", "store_manager"]),
]


def _body(body):
    if body == "grant":
        return {
            "staff_username": "sally",
            "reason": "ticket 42",
            "expires_at": (timezone.now() + timezone.timedelta(days=1)).isoformat(),
        }
    return body


def _service_objects(tenant, store) -> dict:
    """A deactivated cashier, and a service user (a cashier of `store`) with a key."""
    from accounts.models import ApiToken
    from tests.conftest import key_for
    from tests.factories import ServiceUserFactory

    inactive = make_user(tenant, f"gone-{tenant.slug}", "cashier", [store] if store else [])
    service = ServiceUserFactory(tenant=tenant, role="cashier", stores=[store] if store else [])
    key_for(service, scopes=["sell"])
    with tenant_context(tenant):
        User.objects.filter(pk=inactive.pk).update(is_active=False)
        key = ApiToken.objects.get(user=service)
    return {"inactive": inactive.pk, "service": service.pk, "key": key.pk}


@pytest.fixture
def objects_a(cast_a, tenant_a, stores_a, as_tenant):
    """A second cashier in the first store (the target of user actions), a custom role and a grant."""
    target = make_user(tenant_a, "casey", "cashier", [stores_a[0]])
    with as_tenant(tenant_a):
        role = Role.objects.get(builtin="cashier")
        grant = SupportGrant.objects.create(
            staff_username="sally",
            reason="r",
            permissions=["view_products"],
            granted_by=cast_a["owner"],
            expires_at=timezone.now() + timezone.timedelta(days=1),
        )
    return {"user": target.pk, "role": role.pk, "grant": grant.pk, **_service_objects(tenant_a, stores_a[0])}


@pytest.fixture
def objects_b(tenant_b, as_tenant):
    target = make_user(tenant_b, "bea", "cashier")
    with as_tenant(tenant_b):
        role = Role.objects.get(builtin="cashier")
        grant = SupportGrant.objects.create(
            staff_username="sally",
            reason="r",
            permissions=["view_products"],
            granted_by=User.objects.get(username="bob"),
            expires_at=timezone.now() + timezone.timedelta(days=1),
        )
    return {"user": target.pk, "role": role.pk, "grant": grant.pk, **_service_objects(tenant_b, None)}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
def test_role_is_allowed_or_forbidden(cast_a, objects_a, api, role, method, path, body, allowed):
    response = getattr(api(cast_a[role]), method)(path.format(**objects_a), _body(body))
    if role in allowed:
        assert response.status_code in (200, 201, 204), response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [(m, p, b) for m, p, b, _ in ENDPOINTS if "{" in p],
    ids=[p for _, p, _, _ in ENDPOINTS if "{" in p],
)
def test_another_tenants_object_is_not_found(cast_a, objects_b, api, method, path, body):
    response = getattr(api(cast_a["owner"]), method)(path.format(**objects_b), _body(body))
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"),
    SECOND_FACTOR_ENDPOINTS,
    ids=[f"{m} {p}" for m, p, _, _ in SECOND_FACTOR_ENDPOINTS],
)
def test_role_with_a_second_factor_is_allowed_or_forbidden(
    cast_a, objects_a, mfa_api, role, method, path, body, allowed
):
    response = getattr(mfa_api(cast_a[role]), method)(path.format(**objects_a), body)
    if role in allowed:
        assert response.status_code in (200, 201, 204), response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [(m, p, b) for m, p, b, _ in SECOND_FACTOR_ENDPOINTS],
    ids=[p for _, p, _, _ in SECOND_FACTOR_ENDPOINTS],
)
def test_another_tenants_object_is_not_found_with_a_second_factor_too(
    cast_a, objects_b, mfa_api, method, path, body
):
    response = getattr(mfa_api(cast_a["owner"]), method)(path.format(**objects_b), body)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_anonymous_gets_401_everywhere(objects_a):
    from tests.conftest import HttpsApiClient

    for method, path, body, _ in ENDPOINTS + SECOND_FACTOR_ENDPOINTS:
        response = getattr(HttpsApiClient(), method)(path.format(**objects_a), _body(body))
        assert response.status_code == 401, path
        assert response.json()["code"] == "not_authenticated"
