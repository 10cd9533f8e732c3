"""Account pages (tokens, language), the admin dashboard, the shared navigation, the platform host."""

from decimal import Decimal

from accounts.models import ApiToken, User
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
from tests.conftest import PASSWORD, token_for, web_client


def get(client, path, **extra):
    return client.get(path, secure=True, **extra)


def post(client, path, data=None):
    return client.post(path, data or {}, secure=True)


def test_own_tokens_are_listed_and_revoked(cast_a, tenant_a, as_tenant, web):
    token_for(cast_a["cashier"])
    with as_tenant(tenant_a):
        token = ApiToken.objects.get(user=cast_a["cashier"])
    client = web(cast_a["cashier"])
    page = get(client, "/account/")
    assert token.prefix.encode() in page.content
    assert post(client, f"/account/tokens/{token.pk}/revoke/").status_code == 302
    with as_tenant(tenant_a):
        token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.prefix.encode() not in get(client, "/account/").content


def test_another_users_token_answers_404_and_stays_live(cast_a, tenant_a, as_tenant, web):
    token_for(cast_a["owner"])
    with as_tenant(tenant_a):
        token = ApiToken.objects.get(user=cast_a["owner"])
    assert post(web(cast_a["cashier"]), f"/account/tokens/{token.pk}/revoke/").status_code == 404
    with as_tenant(tenant_a):
        token.refresh_from_db()
    assert token.revoked_at is None


def test_the_browser_language_picks_finnish(cast_a, web):
    page = get(web(), "/login/", HTTP_ACCEPT_LANGUAGE="fi-FI,fi;q=0.9")
    assert b'<html lang="fi">' in page.content and "Käyttäjätunnus".encode() in page.content
    assert b"Username" in get(web(), "/login/", HTTP_ACCEPT_LANGUAGE="en-GB").content


def test_the_profile_language_wins_over_the_browser(cast_a, tenant_a, as_tenant, web):
    client = web(cast_a["cashier"])
    assert post(client, "/account/language/", {"language": "fi"}).status_code == 302
    page = get(client, "/account/", HTTP_ACCEPT_LANGUAGE="en")
    assert b"Kirjaudu ulos" in page.content
    with as_tenant(tenant_a):
        assert User.objects.get(pk=cast_a["cashier"].pk).language == "fi"


def test_an_unknown_language_is_refused_and_changes_nothing(cast_a, tenant_a, as_tenant, web):
    client = web(cast_a["cashier"])
    response = post(client, "/account/language/", {"language": "xx"})
    assert response.status_code == 302
    assert b"Unknown language." in get(client, "/account/").content
    with as_tenant(tenant_a):
        assert User.objects.get(pk=cast_a["cashier"].pk).language == ""


def test_the_lockout_message_is_translated(cast_a, web):
    client = web()
    for _ in range(10):
        post(client, "/login/", {"username": "cody", "password": "nope-nope-nope-1"})
    page = client.post(
        "/login/", {"username": "cody", "password": PASSWORD}, secure=True, HTTP_ACCEPT_LANGUAGE="fi"
    )
    assert "Tili on lukittu; yritä uudelleen 30 minuutin kuluttua.".encode() in page.content


def test_the_password_page_names_each_broken_rule(cast_a, web):
    client = web(cast_a["cashier"])
    page = post(client, "/account/password/", {"current_password": PASSWORD, "new_password": "short"})
    assert b'data-rule="too_short"' in page.content
    assert b"data-broken" in page.content.split(b'id="policy"')[1].split(b"</ul>")[0]


def test_the_admin_index_shows_the_chains_day(cast_a, stores_a, coffee, tenant_a, as_tenant, web):
    with as_tenant(tenant_a):
        sale_create(
            store=stores_a[0],
            lines=[SaleLineInput(product=coffee, quantity=10)],
            payments=[PaymentInput(method="card", amount=Decimal("45.00"))],
            actor=cast_a["owner"],
        )
    post(web_client(), "/login/", {"username": "mallory", "password": "nope-nope-nope-1"})
    page = get(web(cast_a["owner"]), "/admin/").content.decode()
    sales = page.split('id="sales-today"')[1].split("</table>")[0]
    assert "Main street" in sales and "45.00" in sales
    assert "COF-1" in page.split('id="low-stock"')[1].split("</table>")[0]  # sold out, reorder point 0
    assert "mallory" in page.split('id="failed-signins"')[1].split("</table>")[0]


def test_the_cashiers_admin_index_leaves_out_what_they_may_not_read(cast_a, web):
    page = get(web(cast_a["cashier"]), "/admin/").content.decode()
    assert 'id="failed-signins"' not in page and 'id="sales-today"' not in page
    assert 'id="low-stock"' in page


def test_the_navigation_shows_what_each_user_may_open(cast_a, web):
    cashier = get(web(cast_a["cashier"]), "/account/").content.decode()
    assert 'href="/pos/"' in cashier and 'href="/audit/"' not in cashier
    auditor = get(web(cast_a["auditor"]), "/account/").content.decode()
    assert 'href="/audit/"' in auditor and 'href="/pos/"' not in auditor


def test_tenant_users_cannot_sign_in_on_the_platform_host(cast_a, web):
    page = post(web_client(host="127.0.0.1"), "/login/", {"username": "alice", "password": PASSWORD})
    assert page.status_code == 200 and b"Wrong username or password." in page.content
    assert b"Platform staff sign-in" in page.content
