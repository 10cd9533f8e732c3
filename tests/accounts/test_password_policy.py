import itertools

import pytest
import time_machine
from django.utils import timezone

from accounts.models import PasswordHistory, User
from tests.conftest import PASSWORD, HttpsApiClient, token_for


def change(user, new, current=PASSWORD):
    client = HttpsApiClient(token_for(user))
    return client.post("/api/v1/me/password/", {"current_password": current, "new_password": new})


@pytest.mark.parametrize(
    ("password", "rules"),
    [
        ("short1", {"too_short"}),
        ("onlylettersinthispassword", {"missing_digit"}),
        ("1q2w3e4r5t6y7u8i9o0p", {"too_common"}),
        ("123456789987654321", {"missing_letter", "too_common"}),
        ("cody-the-cashier-9", {"too_similar"}),
        ("x" * 129 + "1", {"too_long"}),
    ],
)
def test_each_rule_is_named(cast_a, password, rules):
    response = change(cast_a["cashier"], password)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert rules <= set(response.json()["fields"]["password"])


def test_a_good_password_is_accepted_and_ends_other_tokens(cast_a):
    other = HttpsApiClient(token_for(cast_a["cashier"]))
    client = HttpsApiClient(token_for(cast_a["cashier"]))
    response = client.post(
        "/api/v1/me/password/", {"current_password": PASSWORD, "new_password": "brisk-meadow-lantern-42"}
    )
    assert response.status_code == 204
    assert client.get("/api/v1/me/").status_code == 200
    assert other.get("/api/v1/me/").status_code == 401


def test_the_current_password_must_be_right_and_nothing_changes(cast_a, tenant_a, as_tenant):
    response = change(cast_a["cashier"], "brisk-meadow-lantern-42", current="wrong")
    assert response.status_code == 400
    assert "current_password" in response.json()["fields"]
    with as_tenant(tenant_a):
        assert User.objects.get(username="cody").check_password(PASSWORD)
        assert not PasswordHistory.objects.exists()


def test_history_refuses_the_last_four(cast_a):
    passwords = [PASSWORD, "amber-valley-orbit-11", "cobalt-river-summit-22", "dusty-harbor-lamp-33"]
    for current, new in itertools.pairwise(passwords):
        assert change(cast_a["cashier"], new, current=current).status_code == 204
    for old in passwords:
        response = change(cast_a["cashier"], old, current=passwords[-1])
        assert "reused" in response.json()["fields"]["password"], old
    assert change(cast_a["cashier"], "emerald-forest-gate-44", current=passwords[-1]).status_code == 204
    assert change(cast_a["cashier"], PASSWORD, current="emerald-forest-gate-44").status_code == 204


def test_an_expired_password_allows_only_the_change(cast_a):
    with time_machine.travel(timezone.now() + timezone.timedelta(days=91)):
        response = HttpsApiClient().post(
            "/api/v1/auth/token/", {"tenant": "alice-chain", "username": "cody", "password": PASSWORD}
        )
        assert response.status_code == 201
        assert response.json()["password_change_required"] is True
        client = HttpsApiClient(response.json()["token"])
        denied = client.get("/api/v1/users/")
        assert denied.status_code == 403
        assert denied.json()["code"] == "password_expired"
        assert client.get("/api/v1/me/").json()["password_change_required"] is True
        changed = client.post(
            "/api/v1/me/password/", {"current_password": PASSWORD, "new_password": "amber-valley-orbit-11"}
        )
        assert changed.status_code == 204
        assert client.get("/api/v1/me/").status_code == 401  # the change-only token has done its job


def test_a_first_password_must_be_changed_at_first_use(cast_a, api):
    from accounts.models import Role

    owner = api(cast_a["owner"])
    with __import__("tenants.context", fromlist=["x"]).tenant_context(cast_a["owner"].tenant):
        cashier_role = Role.objects.get(builtin="cashier")
    created = owner.post(
        "/api/v1/users/",
        {"username": "newbie", "password": "first-password-123", "roles": [str(cashier_role.pk)]},
    )
    assert created.status_code == 201, created.json()
    assert created.json()["must_change_password"] is True
    response = HttpsApiClient().post(
        "/api/v1/auth/token/",
        {"tenant": "alice-chain", "username": "newbie", "password": "first-password-123"},
    )
    assert response.json()["password_change_required"] is True


def test_passwords_are_hashed_with_argon2id(cast_a, settings):
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2Hasher")
    assert cast_a["cashier"].password.startswith("argon2$argon2id$")


def test_production_hasher_is_argon2id():
    from kassa import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
