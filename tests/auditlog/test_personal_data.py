"""No personal data in plaintext outside its encrypted columns (issue 14, item 4).

A customer is created, changed, looked up and sold to through the API, the admin and the
register; then every text, JSON and bytea column of every table of the database (Django's and
the libraries' included) is scanned for the customer's name, e-mail and phone.
"""

import json
import uuid

from django.contrib.admin.models import LogEntry

from inventory.models import Customer
from tenants.context import tenant_context
from tests.conftest import HttpsApiClient, signed_in, token_for, transactional
from tests.exports.test_customer_rights import traces
from tests.inventory.conftest import coffee  # noqa: F401 - the fixture
from tests.pos.test_register import post_json, sale_body

NAME, EMAIL, PHONE = "Oona Quillfeather", "oona.quill@example.net", "+358 40 7654321"
ADMIN_NAME, ADMIN_EMAIL = "Veikko Nummelin-Saari", "veikko.ns@example.net"


@transactional
def test_customer_contact_data_is_nowhere_in_plaintext_after_api_admin_and_register_use(
    cast_a,
    tenant_a,
    stores_a,
    coffee,  # noqa: F811 - the fixture imported above
):
    owner = cast_a["owner"]
    client = HttpsApiClient(token_for(owner))
    created = client.post(
        "/api/v1/customers/",
        {"name": NAME, "email": EMAIL, "phone": PHONE, "notes": "likes dark roast"},
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert created.status_code == 201, created.content
    customer_id = created.json()["id"]
    assert client.patch(f"/api/v1/customers/{customer_id}/", {"phone": PHONE + "9"}).status_code == 200
    for query in (f"email={EMAIL}", f"phone={PHONE}"):
        assert client.get(f"/api/v1/customers/?{query}").status_code == 200
    # A name as a search the list does not take: refused (400), and logged like any other.
    assert client.get(f"/api/v1/customers/?q={NAME}").status_code == 400
    assert client.get(f"/api/v1/customers/{customer_id}/").json()["email"] == EMAIL
    assert client.get(f"/api/v1/customers/{customer_id}/export/").status_code == 200

    web = signed_in(owner)
    added = web.post(
        "/admin/inventory/customer/add/",
        {"name": ADMIN_NAME, "email": ADMIN_EMAIL, "phone": "", "notes": ""},
        secure=True,
    )
    assert added.status_code == 302, added.content[:500]
    with tenant_context(tenant_a):
        admin_customer = next(c for c in Customer.objects.all() if c.name == ADMIN_NAME)
    changed = web.post(
        f"/admin/inventory/customer/{admin_customer.pk}/change/",
        {"name": ADMIN_NAME, "email": ADMIN_EMAIL, "phone": PHONE, "notes": ""},
        secure=True,
    )
    assert changed.status_code == 302, changed.content[:500]
    assert web.get(f"/admin/inventory/customer/{admin_customer.pk}/change/", secure=True).status_code == 200

    cashier = signed_in(cast_a["cashier"])
    body = {**sale_body(coffee), "customer": customer_id}
    assert post_json(cashier, f"/pos/{stores_a[0].pk}/sales/", body).status_code in (200, 201)

    assert traces([coffee.name]), "the scan finds a value stored in plain text"
    assert traces([NAME, EMAIL, PHONE, ADMIN_NAME, ADMIN_EMAIL]) == []
    assert LogEntry.objects.count() == 0  # Django's admin history is not written at all


@transactional
def test_the_admin_history_of_an_object_is_the_change_log(cast_a, tenant_a):
    web = signed_in(cast_a["owner"])
    web.post("/admin/inventory/category/add/", {"name": "Teas"}, secure=True)
    from inventory.models import Category

    with tenant_context(tenant_a):
        category = Category.objects.get(name="Teas")
    response = web.get(f"/admin/inventory/category/{category.pk}/history/", secure=True)
    assert response.status_code == 302
    assert response["Location"] == f"/audit/object/?model=inventory.category&object_id={category.pk}"
    page = web.get(response["Location"], secure=True)
    assert page.status_code == 200 and b"Teas" in page.content
    assert LogEntry.objects.count() == 0


def test_personal_fields_are_masked_in_logged_bodies_and_queries():
    from auditlog import redact

    customers = redact.personal_names_for("/api/v1/customers/")
    body = json.dumps({"name": NAME, "email": EMAIL, "nested": [{"phone": PHONE}], "id": "x"}).encode()
    text, _ = redact.redact_body(body, "application/json", customers)
    assert NAME not in text and EMAIL not in text and PHONE not in text and '"id":"x"' in text
    products = redact.personal_names_for("/api/v1/products/")
    text, _ = redact.redact_body(b'{"name": "Coffee", "email": "a@b.c"}', "application/json", products)
    assert "Coffee" in text and "a@b.c" not in text
    assert EMAIL not in redact.redact_query(f"email={EMAIL}&page=2", customers)
    assert "page=2" in redact.redact_query(f"email={EMAIL}&page=2", customers)
