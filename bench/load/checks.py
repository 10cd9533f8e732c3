"""After the load: the ledger check (no lost or duplicated sale, stock equals the ledger) and
the database round trips of each request kind, counted in process on the same database."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager


def ledger_check(fixture: dict, phases, since) -> dict:
    from django.db import transaction
    from django.db.models import Count, OuterRef, Subquery, Sum
    from django.db.models.functions import Coalesce

    from inventory.models import Sale, SaleLine, StockLevel, StockMovement
    from tenants.context import tenant_context
    from tenants.models import Tenant

    answered: dict[str, list[str]] = {}
    for phase in phases:
        for tenant_id, sale_id in phase.sales:
            answered.setdefault(tenant_id, []).append(sale_id)
    replays = [r for p in phases for r in p.replays]
    problems = []
    duplicates = sum(len(ids) - len(set(ids)) for ids in answered.values())
    if duplicates:
        problems.append(f"{duplicates} sale ids answered twice")
    bad_replays = [r for r in replays if r[1] != r[2]]
    if bad_replays:
        problems.append(f"{len(bad_replays)} replays answered another sale")
    total_found = total_extra = stock_mismatch = 0
    for entry in fixture["tenants"]:
        ids = set(answered.get(entry["id"], []))
        with tenant_context(Tenant.objects.get(pk=entry["id"])), transaction.atomic():
            sales = Sale.objects.filter(cashier__isnull=False, created_at__gte=since)
            found = sales.filter(pk__in=ids).count()
            made = sales.count()
            total_found += found
            total_extra += made - found
            if found != len(ids):
                problems.append(f"{entry['slug']}: {len(ids) - found} answered sales missing")
            if made != len(ids):
                problems.append(f"{entry['slug']}: {made - len(ids)} sales made but never answered 201")
            lines = SaleLine.objects.filter(sale__in=sales).values("sale").annotate(n=Count("id"))
            moves = (
                StockMovement.objects.filter(sale__in=sales, kind="sale")
                .values("sale")
                .annotate(n=Count("id"))
            )
            if any(row["n"] != 3 for row in lines) or any(row["n"] != 3 for row in moves):
                problems.append(f"{entry['slug']}: a sale without exactly 3 lines and 3 movements")
            ledger_sum = (
                StockMovement.objects.filter(store=OuterRef("store"), product=OuterRef("product"))
                .values("store")
                .annotate(s=Sum("quantity"))
                .values("s")
            )
            mismatched = (
                StockLevel.objects.annotate(ledger=Coalesce(Subquery(ledger_sum), 0))
                .exclude(quantity=models_F("ledger"))
                .count()
            )
            stock_mismatch += mismatched
            if mismatched:
                problems.append(f"{entry['slug']}: {mismatched} stock levels differ from their ledger")
    return {
        "ok": not problems,
        "answered_201": sum(len(v) for v in answered.values()),
        "found_once": total_found,
        "unanswered_extra": total_extra,
        "replays": len(replays),
        "stock_rows_off_ledger": stock_mismatch,
        "problems": problems[:10],
    }


def models_F(name):
    from django.db.models import F

    return F(name)


@contextmanager
def _counting():
    """Count round trips made inside the block: ORM statements (BEGIN and COMMIT included), tenant
    set_config calls of their own and audit writes; a set_config sent in one query string with
    the statement after it is shown apart (`set_config_folded`), not as a round trip."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from auditlog import writer
    from tenants.db import base

    counts = {"set_config": 0, "set_config_folded": 0, "audit": 0}
    apply_tenant, execute = base._apply_tenant, writer.execute
    fold_tenant = getattr(base, "_fold_tenant", None)

    def counted_apply(connection, wanted):
        counts["set_config"] += 1
        return apply_tenant(connection, wanted)

    def counted_fold(*args, **kwargs):
        counts["set_config_folded"] += 1  # in the same round trip as the statement it precedes
        return fold_tenant(*args, **kwargs)

    def counted_execute(sql, params):
        counts["audit"] += 1
        return execute(sql, params)

    base._apply_tenant, writer.execute = counted_apply, counted_execute
    if fold_tenant is not None:
        base._fold_tenant = counted_fold
    try:
        with CaptureQueriesContext(connections["default"]) as captured:
            yield counts
        counts["orm"] = len(captured.captured_queries)
        counts["total"] = counts["orm"] + counts["set_config"] + counts["audit"]
    finally:
        base._apply_tenant, writer.execute = apply_tenant, execute
        if fold_tenant is not None:
            base._fold_tenant = fold_tenant


def query_counts(fixture: dict) -> dict:
    """Each kind three times, the second and third counted and the lower kept: a token's last-use
    write comes once a minute (a BEGIN, its set_config, the UPDATE and a COMMIT), and when the
    minute turned between the calls it fell into the counted one (a sale counted 24, not 20)."""
    import datetime

    from django.test import Client, override_settings

    tenant = fixture["tenants"][0]
    store = tenant["stores"][0]
    product = tenant["stocked"][0]
    day = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")

    def client(person):
        return Client(HTTP_HOST=tenant["host"], HTTP_AUTHORIZATION=f"Bearer {person['token']}")

    integrator, owner, cashier = (
        client(tenant["integrator"]),
        client(tenant["owner"]),
        client(store["cashier"]),
    )
    sale_body = {
        "store": store["id"],
        "lines": [{"product": p, "quantity": 1} for p in tenant["stocked"][:3]],
        "payments": [{"method": "cash", "amount": "1000.00"}],
    }
    kassa = {
        "product_list": lambda: integrator.get("/api/v1/products/?page=7"),
        "product_detail": lambda: integrator.get(f"/api/v1/products/{product}/"),
        "stock": lambda: integrator.get(f"/api/v1/stock/?store={store['id']}&product={product}"),
        "product_update": lambda: integrator.patch(
            f"/api/v1/products/{product}/", json.dumps({"price": "3.10"}), content_type="application/json"
        ),
        "access_log": lambda: owner.get(
            f"/api/v1/audit/access/?user={store['cashier']['id']}&since={day}T00:00:00Z&until={day}T23:59:59Z"
        ),
        "sale": lambda: cashier.post(
            "/api/v1/sales/",
            json.dumps(sale_body),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        ),
    }
    counts: dict = {}
    for kind, call in kassa.items():
        call()
        counted = []
        for _ in range(2):
            with _counting() as c:
                response = call()
            assert response.status_code in (200, 201), (kind, response.status_code, response.content[:200])
            counted.append(c)
        counts[kind] = min(counted, key=lambda c: c["total"])
    bare = Client(HTTP_HOST="127.0.0.1", HTTP_X_BENCH_TENANT=tenant["id"])
    bare_calls = {
        "product_list": lambda: bare.get("/bare/products/?page=7"),
        "product_detail": lambda: bare.get(f"/bare/products/{product}/"),
        "sale": lambda: bare.post(
            "/bare/sales/",
            json.dumps({"store": store["id"], "lines": sale_body["lines"]}),
            content_type="application/json",
        ),
    }
    with override_settings(
        ROOT_URLCONF="bench.load.bare_urls", MIDDLEWARE=["django.middleware.common.CommonMiddleware"]
    ):
        for kind, call in bare_calls.items():
            call()
            totals = []
            for _ in range(2):
                with _counting() as c:
                    response = call()
                assert response.status_code in (200, 201), (kind, response.status_code)
                totals.append(c["total"])
            counts[kind]["bare_total"] = min(totals)
    return counts
