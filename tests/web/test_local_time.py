"""Pages speak local time: the audit review's days are the chain's, the dashboard's "today" each
store's own."""

from datetime import UTC, datetime
from decimal import Decimal

import time_machine

from auditlog.models import SignInEvent
from inventory.services.catalogue import store_create
from inventory.services.sales import PaymentInput, SaleLineInput, sale_create
from tests.inventory.conftest import stock_put


def test_the_audit_reviews_days_are_the_chains_local_days(cast_a, tenant_a, as_tenant, web):
    # 22:30 UTC on 9 June is already 10 June in Helsinki (UTC+3 in summer).
    with as_tenant(tenant_a):
        SignInEvent.objects.create(
            username="night-owl",
            outcome="success",
            channel="web",
            created_at=datetime(2025, 6, 9, 22, 30, tzinfo=UTC),
        )
    client = web(cast_a["owner"])
    with time_machine.travel(datetime(2025, 6, 11, 9, 0, tzinfo=UTC), tick=False):
        tenth = client.get("/audit/?since=2025-06-10&until=2025-06-10", secure=True)
        ninth = client.get("/audit/?since=2025-06-09&until=2025-06-09", secure=True)
    assert tenth.status_code == ninth.status_code == 200
    assert b"night-owl" in tenth.content and b"night-owl" not in ninth.content
    assert b"2025-06-10 01:30" in tenth.content  # shown in the chain's time, not UTC


def test_the_dashboards_today_is_each_stores_own_day(cast_a, tenant_a, stores_a, coffee, as_tenant, web):
    with as_tenant(tenant_a):
        brooklyn = store_create(actor=None, name="Brooklyn", time_zone="America/New_York")
    stock_put(tenant_a, brooklyn, coffee, 5)
    # 23:30 in New York on 10 March: 05:30 on 11 March in Helsinki.
    with time_machine.travel(datetime(2025, 3, 11, 3, 30, tzinfo=UTC), tick=False), as_tenant(tenant_a):
        for store in (brooklyn, stores_a[0]):
            sale_create(
                store=store,
                lines=[SaleLineInput(product=coffee, quantity=1)],
                payments=[PaymentInput("card", Decimal("4.50"))],
                actor=None,
            )
    client = web(cast_a["owner"])
    with time_machine.travel(datetime(2025, 3, 11, 4, 15, tzinfo=UTC), tick=False):  # 00:15 in New York
        page = client.get("/admin/", secure=True).content.decode()
    today = page[page.index('id="sales-today"') :]
    today = today[: today.index("</table>")]
    # New York's sale was yesterday there; Helsinki's is today.
    assert "Main street" in today and "Brooklyn" not in today
