"""The access-log review: scoped like the audit API, filters that refuse bad input, CSV of the filter."""

import csv
import io
import json
from datetime import timedelta

from django.utils import timezone

from auditlog.models import SignInEvent
from inventory.models import Sale
from tests.conftest import make_user


def get(client, path):
    return client.get(path, secure=True)


def signin_events(tenant, as_tenant, username, outcomes, ip="203.0.113.9", hours_ago=1, user=None):
    with as_tenant(tenant):
        at = timezone.now() - timedelta(hours=hours_ago)
        for outcome in outcomes:
            SignInEvent.objects.create(
                username=username,
                user_id=user.pk if user else None,
                outcome=outcome,
                reason="bad_password" if outcome == "failure" else "",
                channel="web",
                ip=ip,
                created_at=at,
            )


def sell(client, store, product, quantity=1):
    response = client.post(
        f"/pos/{store.pk}/sales/",
        json.dumps(
            {
                "lines": [{"product": str(product.pk), "quantity": quantity}],
                "payments": [{"method": "card", "amount": str(product.price * quantity)}],
            }
        ),
        content_type="application/json",
        secure=True,
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_the_owner_sees_the_timeline_and_who_fails(cast_a, tenant_a, as_tenant, web):
    signin_events(tenant_a, as_tenant, "mallory", ["failure"] * 4, ip="198.51.100.7", hours_ago=30)
    signin_events(tenant_a, as_tenant, "cody", ["success", "success"], user=cast_a["cashier"], hours_ago=50)
    page = get(web(cast_a["owner"]), "/audit/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg class="timeline"' in html and html.count('class="bar-failed"') >= 1
    assert 'id="count-failed">4<' in html
    top_ips = html.split('id="top-ips"')[1].split("</table>")[0]
    assert "198.51.100.7" in top_ips and ">4<" in top_ips
    assert "mallory" in html.split('id="top-users"')[1].split("</table>")[0]


def test_filters_narrow_every_list(cast_a, tenant_a, as_tenant, web):
    signin_events(tenant_a, as_tenant, "mallory", ["failure"] * 3, ip="198.51.100.7")
    signin_events(tenant_a, as_tenant, "eve", ["failure"], ip="198.51.100.8")
    html = get(web(cast_a["owner"]), "/audit/?ip=198.51.100.8&outcome=failure").content.decode()
    signins = html.split('id="signins"')[1].split("</table>")[0]
    assert "eve" in signins and "mallory" not in signins


def test_a_day_range_is_drawn_per_hour(cast_a, web):
    today = timezone.localdate().isoformat()
    assert b"Sign-ins per hour" in get(web(cast_a["owner"]), f"/audit/?since={today}&until={today}").content


def test_bad_filters_are_named_and_answer_400(cast_a, stores_a, web):
    client = web(cast_a["owner"])
    bad_ip = get(client, "/audit/?ip=not-an-address")
    assert bad_ip.status_code == 400 and b"Enter a valid IPv4 or IPv6 address." in bad_ip.content
    backwards = get(client, "/audit/?since=2026-02-02&until=2026-01-01")
    assert backwards.status_code == 400 and b"The start is after the end." in backwards.content
    assert get(client, "/audit/?user=00000000-0000-0000-0000-000000000000").status_code == 400


def test_a_store_manager_sees_only_their_stores(cast_a, stores_a, coffee, tea, tenant_a, as_tenant, web):
    from tests.inventory.conftest import stock_put

    stock_put(tenant_a, stores_a[1], tea, 5)
    harbour = make_user(tenant_a, "hank", "cashier", [stores_a[1]])
    signin_events(tenant_a, as_tenant, "hank", ["failure"] * 2, user=harbour)
    owner = web(cast_a["owner"])
    main_sale = sell(owner, stores_a[0], coffee)
    harbour_sale = sell(owner, stores_a[1], tea)
    manager = web(cast_a["store_manager"])
    html = get(manager, "/audit/").content.decode()
    # An id is shown by its last 12 digits, the random ones: a sale's rows have time-ordered ids
    # (UUIDv7), whose first 12 digits are the millisecond they were made in.
    assert main_sale["id"] in html and harbour_sale["id"][-12:] not in html
    assert f"…{main_sale['id'][-12:]}<" in html
    assert "hank" not in html.split('id="top-users"')[1].split("</table>")[0]
    assert f"/pos/{stores_a[1].pk}/" not in html
    assert get(manager, f"/audit/?store={stores_a[1].pk}").status_code == 400
    assert get(manager, f"/audit/?user={harbour.pk}").status_code == 400
    object_page = f"/audit/object/?model=inventory.sale&object_id={harbour_sale['id']}"
    assert get(manager, object_page).status_code == 404
    assert get(owner, object_page).status_code == 200


def test_the_history_of_a_sale_shows_its_changes_and_requests(
    cast_a, stores_a, coffee, tenant_a, as_tenant, web
):
    owner = web(cast_a["owner"])
    sale = sell(owner, stores_a[0], coffee, 2)
    with as_tenant(tenant_a):
        line = Sale.objects.get(pk=sale["id"]).lines.get()
    owner.post(f"{sale['receipt_url']}refund/", {f"line-{line.pk}": "2", "restock": "on"}, secure=True)
    page = get(owner, f"/audit/object/?model=inventory.sale&object_id={sale['id']}")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="event insert"') == 1 and html.count('class="event update"') >= 1
    assert f"POST /pos/{stores_a[0].pk}/sales/" in html and "refund/" in html
    assert "refunded_total" in html


def test_object_history_refuses_half_a_question_and_other_tenants_objects(
    cast_a, tenant_b, stores_b, bobs_product, web
):
    client = web(cast_a["owner"])
    assert get(client, "/audit/object/").status_code == 200
    assert get(client, "/audit/object/?model=inventory.sale").status_code == 400
    assert (
        get(client, f"/audit/object/?model=inventory.product&object_id={bobs_product.pk}").status_code == 404
    )


def test_the_csv_holds_what_is_filtered(cast_a, tenant_a, as_tenant, web):
    signin_events(tenant_a, as_tenant, "mallory", ["failure"] * 3, ip="198.51.100.7")
    signin_events(tenant_a, as_tenant, "eve", ["failure"], ip="198.51.100.8")
    response = get(web(cast_a["owner"]), "/audit/export/?log=logins&ip=198.51.100.7")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["username"] for row in rows] == ["mallory"] * 3
    assert get(web(cast_a["owner"]), "/audit/export/?log=nothing").status_code == 404
    assert get(web(cast_a["owner"]), "/audit/export/?log=access&ip=nope").status_code == 400


def test_users_without_log_permissions_get_403(cast_a, web):
    client = web(cast_a["cashier"])
    assert get(client, "/audit/").status_code == 403
    assert get(client, "/audit/export/?log=logins").status_code == 403
    assert get(client, "/audit/object/?model=inventory.sale&object_id=1").status_code == 403


def test_the_platform_host_has_no_tenant_log(db, web):
    assert get(web(host="127.0.0.1"), "/audit/").status_code == 404


def test_support_access_sessions_are_listed_for_the_chain(cast_a, tenant_a, as_tenant, web):
    import uuid

    from accounts.models import SupportGrant
    from auditlog.models import AccessEvent

    with as_tenant(tenant_a):
        grant = SupportGrant.objects.create(
            staff_username="stella",
            reason="ticket 4711: stock counts look wrong",
            permissions=["view_sales"],
            granted_by=cast_a["owner"],
            expires_at=timezone.now() + timedelta(days=1),
        )
        for path in ("/api/v1/sales/", "/api/v1/stock/"):
            AccessEvent.objects.create(
                tenant_id=tenant_a.pk,
                request_id=uuid.uuid4(),
                support_grant_id=grant.pk,
                host="alice-chain.localhost",
                method="GET",
                path=path,
                status=200,
                duration_ms=3.0,
            )
    html = get(web(cast_a["owner"]), "/audit/").content.decode()
    support = html.split('id="support"')[1].split("</table>")[0]
    assert "stella" in support and "ticket 4711" in support and ">2<" in support
