"""Webhooks against a real local receiver: order, retries, signature, dedup id, disable after
24 hours of failures, SSRF refusals, tenant isolation, and a real worker delivering a sale."""

import json
import time
from datetime import timedelta
from uuid import UUID

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from integrations import net
from integrations.delivery import backoff, endpoint_drain
from integrations.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from tenants.context import tenant_context
from tests.conftest import transactional
from tests.integrations.conftest import verify
from tests.inventory.conftest import product_make, sale_post, stock_put


def register(client, url: str, events=("product.changed",), **extra) -> dict:
    answer = client.post("/api/v1/webhooks/", {"url": url, "events": list(events), **extra})
    assert answer.status_code == 201, answer.content
    return answer.json()


def drain(tenant, webhook: dict):
    with tenant_context(tenant):
        return endpoint_drain(endpoint_id=UUID(webhook["id"]))


def rename(client, product, name: str):
    answer = client.patch(f"/api/v1/products/{product.pk}/", {"name": name})
    assert answer.status_code == 200, answer.content


@pytest.fixture
def coffee(tenant_a, stores_a):
    product = product_make(tenant_a, "COF-1", "4.50", "14.00")
    stock_put(tenant_a, stores_a[0], product, 10)
    return product


def test_deliveries_go_out_in_order_one_at_a_time_with_the_same_id_on_a_retry(
    api, cast_a, tenant_a, coffee, receiver
):
    hooks = receiver(statuses=[503])
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url())
    for n in range(1, 5):
        rename(client, coffee, f"v{n}")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = drain(tenant_a, webhook)
        assert first.sent == 0 and first.retry_at == timezone.now() + timedelta(seconds=10)
        assert len(hooks.requests) == 1  # the next waits for the first: one in flight
        assert drain(tenant_a, webhook).sent == 0 and len(hooks.requests) == 1  # not due yet
        clock.shift(timedelta(seconds=10))
        assert drain(tenant_a, webhook).sent == 4
    requests = hooks.wait_for(5)
    ids = [r["headers"]["kassa-delivery"] for r in requests]
    assert ids[0] == ids[1] and len(set(ids)) == 4  # a retry carries the same delivery id
    names = [json.loads(r["body"])["data"]["name"] for r in requests]
    assert names == ["v1", "v1", "v2", "v3", "v4"]
    with tenant_context(tenant_a):
        secret = WebhookEndpoint.objects.get(pk=webhook["id"]).secret
        assert list(
            DeliveryAttempt.objects.order_by("delivery_id", "number").values_list("number", "status_code")
        ) == [(1, 503), (2, 200), (1, 200), (1, 200), (1, 200)]
    for request in requests:
        assert request["headers"]["kassa-event"] == "product.changed"
        assert request["headers"]["content-type"] == "application/json"
        header = request["headers"]["kassa-signature"]
        assert verify(secret, header, request["body"], now=int(header.split(",")[0][2:]))
        assert not verify(secret, header, request["body"] + b" ", now=int(header.split(",")[0][2:]))


def _after_sends(monkeypatch, count: int, change):
    """Run `change` once the drain has sent `count` deliveries, before it sends the next: a
    PATCH that arrives while a drain is between two deliveries."""
    real, sent = net.post, []

    def post(url, body, headers):
        answer = real(url, body, headers)
        sent.append(url)
        if len(sent) == count:
            change()
        return answer

    monkeypatch.setattr(net, "post", post)


def test_an_endpoint_turned_off_during_a_drain_gets_nothing_more(
    api, cast_a, tenant_a, coffee, receiver, monkeypatch
):
    hooks = receiver()
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url())
    for n in range(1, 6):
        rename(client, coffee, f"v{n}")

    def turn_off():
        assert client.patch(f"/api/v1/webhooks/{webhook['id']}/", {"active": False}).status_code == 200

    _after_sends(monkeypatch, 2, turn_off)
    assert drain(tenant_a, webhook).sent == 2
    assert [json.loads(r["body"])["data"]["name"] for r in hooks.requests] == ["v1", "v2"]
    with tenant_context(tenant_a):
        assert list(Delivery.objects.order_by("id").values_list("status", flat=True)) == [
            "succeeded",
            "succeeded",
            "pending",
            "pending",
            "pending",
        ]


def test_a_url_changed_during_a_drain_takes_the_next_delivery(
    api, cast_a, tenant_a, coffee, receiver, monkeypatch
):
    old, new = receiver(), receiver()
    client = api(cast_a["owner"])
    webhook = register(client, old.url())
    for n in range(1, 6):
        rename(client, coffee, f"v{n}")

    def move():
        answer = client.patch(f"/api/v1/webhooks/{webhook['id']}/", {"url": new.url()})
        assert answer.status_code == 200

    _after_sends(monkeypatch, 2, move)
    assert drain(tenant_a, webhook).sent == 5
    assert [json.loads(r["body"])["data"]["name"] for r in old.requests] == ["v1", "v2"]
    assert [json.loads(r["body"])["data"]["name"] for r in new.requests] == ["v3", "v4", "v5"]


def test_failures_back_off_then_give_up_and_disable_the_endpoint_after_24_hours(
    api, cast_a, tenant_a, coffee, receiver, django_capture_on_commit_callbacks
):
    hooks = receiver(default=500)
    owner = cast_a["owner"]
    with tenant_context(tenant_a):
        type(owner).objects.filter(pk=owner.pk).update(email="alice@example.com", language="fi")
    client = api(owner)
    webhook = register(client, hooks.url())
    rename(client, coffee, "broken")
    start = timezone.now()
    waits = []
    with time_machine.travel(start, tick=False) as clock, django_capture_on_commit_callbacks(execute=True):
        for _ in range(60):
            result = drain(tenant_a, webhook)
            if result.retry_at is None:
                break
            waits.append((result.retry_at - timezone.now()).total_seconds())
            clock.move_to(result.retry_at)
            if len(waits) == 3:
                rename(client, coffee, "queued behind")  # a second delivery waits behind the first
    assert waits[:11] == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
    assert waits == [backoff(n).total_seconds() for n in range(1, len(waits) + 1)]
    with tenant_context(tenant_a):
        endpoint = WebhookEndpoint.objects.get(pk=webhook["id"])
        deliveries = list(Delivery.objects.order_by("id"))
        assert not endpoint.active and endpoint.disabled_at is not None
        assert endpoint.disabled_at - start >= timedelta(hours=24)
        assert [d.status for d in deliveries] == ["failed", "failed"]
        assert deliveries[0].attempts == len(waits) + 1
        assert deliveries[1].attempts == 0  # never sent: the first was never delivered
    assert len(hooks.requests) == len(waits) + 1
    assert all(r["headers"]["kassa-delivery"] == str(deliveries[0].uid) for r in hooks.requests)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    assert hooks.url() in mail.outbox[0].body and "24 tuntia" in mail.outbox[0].body  # in her language
    assert mail.outbox[0].subject == "Kassa: webhook kytkettiin pois päältä"
    # Turned on again, it works as new.
    answer = client.patch(f"/api/v1/webhooks/{webhook['id']}/", {"active": True})
    assert answer.status_code == 200 and answer.json()["active"] and answer.json()["disabled_at"] is None


def test_the_test_ping_and_the_delivery_log(api, cast_a, tenant_a, receiver):
    hooks = receiver(statuses=[500])
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url(), events=["sale.created"])
    answer = client.post(f"/api/v1/webhooks/{webhook['id']}/test/")
    assert answer.status_code == 202, answer.content
    ping = answer.json()["delivery"]
    with time_machine.travel(timezone.now(), tick=False) as clock:
        drain(tenant_a, webhook)
        clock.shift(timedelta(seconds=10))
        drain(tenant_a, webhook)
    events = hooks.events()
    assert [kind for kind, _ in events] == ["ping", "ping"]
    assert events[0][1]["data"] == {"webhook": webhook["id"]}
    log = client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries/").json()
    assert [(a["delivery"], a["attempt"], a["status_code"], a["succeeded"]) for a in log["results"]] == [
        (ping, 2, 200, True),
        (ping, 1, 500, False),
    ]
    assert log["results"][0]["event_type"] == "ping" and log["results"][0]["delivery_status"] == "succeeded"


def test_the_secret_is_shown_once_and_kept_encrypted(api, cast_a, tenant_a):
    client = api(cast_a["owner"])
    created = register(client, "https://hooks.example.com/kassa")
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert "secret" not in client.get(f"/api/v1/webhooks/{created['id']}/").json()
    assert all("secret" not in row for row in client.get("/api/v1/webhooks/").json()["results"])
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_webhookendpoint WHERE id = %s", [created["id"]])
        stored = bytes(cursor.fetchone()[0])
    assert secret.encode() not in stored
    with tenant_context(tenant_a):
        assert WebhookEndpoint.objects.get(pk=created["id"]).secret == secret
    # A repeated create with the same Idempotency-Key does not show the secret again.
    body = {"url": "https://hooks.example.com/other", "events": ["sale.created"]}
    assert client.post("/api/v1/webhooks/", body, HTTP_IDEMPOTENCY_KEY="w-1").status_code == 201
    again = client.post("/api/v1/webhooks/", body, HTTP_IDEMPOTENCY_KEY="w-1")
    assert again.status_code == 409 and "secret" not in again.json()


@pytest.mark.parametrize(
    "name",
    [
        'Kahvi "Java" \\ 100 %',
        "it's ½ — 漢字 ☕ \U0001f600",
        '{"data": [1, 2]} \\"x\\"',
        "a\ttab and\r\nlines",
    ],
)
def test_events_carry_quotes_backslashes_and_any_script_byte_for_byte(
    api, cast_a, tenant_a, coffee, receiver, name
):
    hooks = receiver()
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url())
    rename(client, coffee, name)
    shown = client.get(f"/api/v1/products/{coffee.pk}/").json()
    drain(tenant_a, webhook)
    [request] = hooks.wait_for(1)
    assert json.loads(request["body"])["data"] == shown and shown["name"] == name


def test_an_event_exists_only_if_its_change_committed(api, cast_a, tenant_a, stores_a, coffee):
    client = api(cast_a["owner"])
    register(client, "https://hooks.example.com/kassa", events=["sale.created", "stock.changed"])
    sale = {
        "store": str(stores_a[0].pk),
        "lines": [{"product": str(coffee.pk), "quantity": 99}],
        "payments": [{"method": "cash", "amount": "500.00"}],
    }
    assert client.post("/api/v1/sales/", sale).status_code == 409  # not enough stock: rolled back
    with tenant_context(tenant_a):
        assert not Event.objects.exists() and not Delivery.objects.exists()
    sale["lines"][0]["quantity"] = 2
    assert client.post("/api/v1/sales/", sale).status_code == 201
    with tenant_context(tenant_a):
        assert sorted(Event.objects.values_list("kind", flat=True)) == ["sale.created", "stock.changed"]
        assert Delivery.objects.count() == 2


def test_events_carry_the_objects_as_the_api_shows_them(api, cast_a, tenant_a, stores_a, coffee, receiver):
    hooks = receiver()
    client = api(cast_a["owner"])
    webhook = register(
        client, hooks.url(), events=["product.changed", "sale.created", "sale.refunded", "stock.changed"]
    )
    rename(client, coffee, "Dark roast")
    sale = client.post(
        "/api/v1/sales/",
        {
            "store": str(stores_a[0].pk),
            "lines": [{"product": str(coffee.pk), "quantity": 2}],
            "payments": [{"method": "cash", "amount": "10.00"}],
        },
    ).json()
    refund = client.post(f"/api/v1/sales/{sale['id']}/refund/", {"restock": False}).json()
    drain(tenant_a, webhook)
    events = dict((kind, body["data"]) for kind, body in hooks.events())
    product = client.get(f"/api/v1/products/{coffee.pk}/").json()
    assert events["product.changed"] == product
    assert events["sale.created"] == {**sale}
    assert events["sale.refunded"] == refund
    stock = events["stock.changed"]
    assert (stock["product"], stock["store"], stock["quantity"], stock["change"], stock["kind"]) == (
        str(coffee.pk),
        str(stores_a[0].pk),
        8,
        -2,
        "sale",
    )


def test_one_tenants_webhooks_never_carry_anothers_data(
    api, cast_a, cast_b, tenant_a, tenant_b, stores_a, stores_b, coffee, receiver
):
    alices, bobs = receiver(), receiver()
    every = ["product.changed", "stock.changed", "sale.created", "customer.changed"]
    alice, bob = api(cast_a["owner"]), api(cast_b["owner"])
    hook_a, hook_b = register(alice, alices.url(), every), register(bob, bobs.url(), every)
    bobs_tea = product_make(tenant_b, "BOB-1", "1.00", "0")
    rename(alice, coffee, "Alice's coffee")
    rename(bob, bobs_tea, "Bob's tea")
    assert alice.post("/api/v1/customers/", {"notes": "Alice's regular"}).status_code == 201
    stock_put(tenant_b, stores_b[0], bobs_tea, 4)
    # Bob's worker context cannot drain Alice's endpoint, nor see her deliveries.
    with tenant_context(tenant_b):
        assert endpoint_drain(endpoint_id=UUID(hook_a["id"])).sent == 0
        assert not Delivery.objects.filter(endpoint_id=hook_a["id"]).exists()
    drain(tenant_a, hook_a)
    drain(tenant_b, hook_b)
    text_a = b"".join(r["body"] for r in alices.requests).decode()
    text_b = b"".join(r["body"] for r in bobs.requests).decode()
    assert alices.requests and bobs.requests
    with tenant_context(tenant_a):
        alice_ids = {str(pk) for pk in type(coffee).objects.values_list("pk", flat=True)}
    for forbidden in (str(bobs_tea.pk), "BOB-1", "Bob's", str(stores_b[0].pk)):
        assert forbidden not in text_a
    for forbidden in (*alice_ids, "COF-1", "Alice's", str(stores_a[0].pk)):
        assert forbidden not in text_b
    assert [r["headers"]["kassa-event"] for r in bobs.requests] == [
        "product.changed",  # created
        "product.changed",  # renamed
        "stock.changed",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/kassa",  # plain http
        "https://127.0.0.1/hooks",  # loopback
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped loopback
        "https://10.1.2.3/hooks",  # private
        "https://192.168.1.10/hooks",
        "https://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
        "https://100.64.0.1/hooks",  # shared address space
        "https://224.0.0.1/hooks",  # multicast
        "https://0.0.0.0/hooks",
        "https://localhost/hooks",
        "https://printer.local/hooks",
        "https://intranet/hooks",
        "https://user:pass@hooks.example.com/",
        "ftp://hooks.example.com/",
        "https://hooks.example.com/\x00",
        "https://" + "a" * 2100 + ".com/",
    ],
)
def test_an_unsafe_url_is_refused_when_registered_in_production(api, cast_a, tenant_a, settings, url):
    settings.KASSA_WEBHOOK_ALLOW_HTTP = settings.KASSA_WEBHOOK_ALLOW_PRIVATE = False
    answer = api(cast_a["owner"]).post("/api/v1/webhooks/", {"url": url, "events": ["sale.created"]})
    assert answer.status_code == 400 and "url" in answer.json()["fields"], answer.content
    with tenant_context(tenant_a):
        assert not WebhookEndpoint.objects.exists()


def test_an_address_resolved_at_send_time_is_checked_and_redirects_are_not_followed(
    api, cast_a, tenant_a, coffee, receiver, settings
):
    """hooks.example.test is registered while it looks public; at send time it resolves to
    loopback, so nothing is sent. A 302 answer is a failure and its Location is not visited."""
    target, elsewhere = receiver(), receiver()
    client = api(cast_a["owner"])
    webhook = register(client, f"https://hooks.example.test:{target.port}/hooks")
    settings.KASSA_WEBHOOK_RESOLVE = {"hooks.example.test": "127.0.0.1"}
    settings.KASSA_WEBHOOK_ALLOW_PRIVATE = False
    rename(client, coffee, "x")
    drain(tenant_a, webhook)
    with tenant_context(tenant_a):
        attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None and attempt.error == "refused: address not allowed: 127.0.0.1"
    assert target.requests == []
    settings.KASSA_WEBHOOK_ALLOW_PRIVATE = True
    mover = receiver(statuses=[302], headers={"Location": elsewhere.url()})
    settings.KASSA_WEBHOOK_ALLOW_HTTP = True
    moved = register(client, mover.url())
    rename(client, coffee, "y")
    drain(tenant_a, moved)
    assert [r["answered"] for r in mover.requests] == [302]
    assert elsewhere.requests == []
    with tenant_context(tenant_a):
        assert DeliveryAttempt.objects.filter(endpoint_id=moved["id"]).get().status_code == 302


def test_tls_goes_to_the_checked_address_and_verifies_the_host_name(
    api, cast_a, tenant_a, coffee, receiver, settings, tmp_path
):
    """The host name is never resolved by the connection itself: KASSA_WEBHOOK_RESOLVE maps it to the
    checked address, TLS verifies the certificate for the name (SNI), and Host carries it."""
    hooks = receiver(tls_dir=tmp_path / "tls")
    settings.KASSA_WEBHOOK_RESOLVE = {"hooks.example.test": "127.0.0.1"}
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url(host="hooks.example.test"))
    rename(client, coffee, "untrusted")
    drain(tenant_a, webhook)  # the system's CAs do not trust the test certificate
    with tenant_context(tenant_a):
        assert DeliveryAttempt.objects.get().error.startswith("TLS certificate not trusted")
    settings.KASSA_WEBHOOK_CA_FILE = str(hooks.cert)
    with time_machine.travel(timezone.now() + timedelta(seconds=11), tick=False):
        assert drain(tenant_a, webhook).sent == 1
    assert hooks.requests[0]["headers"]["host"] == f"hooks.example.test:{hooks.port}"


def test_managing_webhooks_needs_the_permission_and_bad_input_changes_nothing(api, cast_a, tenant_a):
    body = {"url": "https://hooks.example.com/", "events": ["sale.created"]}
    for role in ("cashier", "store_manager", "auditor"):
        answer = api(cast_a[role]).post("/api/v1/webhooks/", body)
        assert answer.status_code == 403 and answer.json()["code"] == "permission_denied", role
        assert api(cast_a[role]).get("/api/v1/webhooks/").status_code == 403
    assert api(cast_a["integrator"]).post("/api/v1/webhooks/", body).status_code == 201
    owner = api(cast_a["owner"])
    with tenant_context(tenant_a):
        before = list(WebhookEndpoint.objects.values_list("id", "url", "events", "active"))
    for bad in (
        {"url": "https://hooks.example.com/", "events": ["sale.deleted"]},
        {"url": "https://hooks.example.com/", "events": []},
        {"url": "https://hooks.example.com/", "events": ["sale.created"], "secret": "mine"},
        {"url": "x" * 10_000, "events": ["sale.created"]},
        {"url": "https://hooks.example.com/\u0000", "events": ["sale.created"]},
        {"events": ["sale.created"]},
    ):
        answer = owner.post("/api/v1/webhooks/", bad)
        assert answer.status_code == 400 and answer.json()["code"] == "invalid", (bad, answer.content)
    with tenant_context(tenant_a):
        webhook = WebhookEndpoint.objects.get()
    answer = owner.patch(f"/api/v1/webhooks/{webhook.pk}/", {"events": ["nope"]})
    assert answer.status_code == 400
    with tenant_context(tenant_a):
        assert list(WebhookEndpoint.objects.values_list("id", "url", "events", "active")) == before
    assert owner.get("/api/v1/webhooks/not-a-uuid/").status_code == 404


@transactional
def test_a_real_worker_delivers_a_signed_sale_within_seconds(
    api, cast_a, tenant_a, stores_a, receiver, celery_worker
):
    hooks = receiver()
    product = product_make(tenant_a, "COF-9", "4.50", "14.00")
    stock_put(tenant_a, stores_a[0], product, 100)
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url(), events=["sale.created"])
    latencies = []
    for n in range(5):
        sent = time.time()
        answer = client.post(
            "/api/v1/sales/",
            {
                "store": str(stores_a[0].pk),
                "lines": [{"product": str(product.pk), "quantity": 1}],
                "payments": [{"method": "card", "amount": "4.50"}],
            },
        )
        assert answer.status_code == 201
        request = hooks.wait_for(n + 1, timeout=60)[n]
        latencies.append(request["at"] - sent)
        assert json.loads(request["body"])["data"]["id"] == answer.json()["id"]
        assert verify(webhook["secret"], request["headers"]["kassa-signature"], request["body"])
    print(f"webhook latency (commit to receipt, real worker): {[round(x * 1000) for x in latencies]} ms")
    assert max(latencies) < 10
    deadline = time.monotonic() + 30
    with tenant_context(tenant_a):
        while set(Delivery.objects.values_list("status", flat=True)) != {"succeeded"}:
            assert time.monotonic() < deadline, "the worker did not record the deliveries"
            time.sleep(0.1)


def _queued() -> int:
    """Messages waiting in this test run's Celery queue (the broker's list in Redis)."""
    from django.conf import settings

    from kassa.celery import app

    with app.connection_for_read() as broker:
        return broker.default_channel.client.llen(settings.CELERY_TASK_DEFAULT_QUEUE)


def _sales_received(hooks, count: int) -> list[str]:
    return [json.loads(request["body"])["data"]["id"] for request in hooks.wait_for(count, timeout=60)]


@transactional
def test_a_burst_of_sales_queues_one_drain_that_sends_them_all_in_order(
    api, cast_a, tenant_a, stores_a, receiver
):
    from tests.conftest import start_worker, stop_worker

    hooks = receiver()
    product = product_make(tenant_a, "COF-8", "4.50", "14.00")
    stock_put(tenant_a, stores_a[0], product, 100)
    client = api(cast_a["owner"])
    register(client, hooks.url(), events=["sale.created"])
    before = _queued()
    sold = [sale_post(client, stores_a[0], product) for _ in range(8)]
    assert _queued() - before == 1  # eight commits, one drain queued: the others found it waiting
    worker, _ = start_worker()
    try:
        assert _sales_received(hooks, 8) == sold  # each once, in the order sold
        # The drain gave its claim back when it started: the next commit queues a drain of its own.
        sold.append(sale_post(client, stores_a[0], product))
        assert _sales_received(hooks, 9) == sold
    finally:
        stop_worker(worker)
    assert len(hooks.requests) == 9


@transactional
def test_a_wake_up_whose_drain_was_lost_is_made_good_by_the_sweep(api, cast_a, tenant_a, stores_a, receiver):
    from django.core.cache import cache

    from integrations.tasks import WAKE_KEY, deliveries_sweep_task
    from tests.conftest import start_worker, stop_worker

    hooks = receiver()
    product = product_make(tenant_a, "COF-7", "4.50", "14.00")
    stock_put(tenant_a, stores_a[0], product, 100)
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url(), events=["sale.created"])
    # A claim left by a drain that was queued and lost (a broker restart, say).
    cache.set(WAKE_KEY.format(tenant=tenant_a.pk, endpoint=webhook["id"]), 1, timeout=60)
    before = _queued()
    sold = sale_post(client, stores_a[0], product)
    assert _queued() == before  # the claim says a drain is coming: none is queued
    worker, _ = start_worker()
    try:
        time.sleep(2)
        assert hooks.requests == []  # nothing drains the endpoint ...
        assert deliveries_sweep_task() == 1  # ... until the sweep (every 60 s) wakes it
        assert _sales_received(hooks, 1) == [sold]
    finally:
        stop_worker(worker)


@transactional
def test_a_drain_that_finds_the_endpoint_taken_comes_back_for_what_the_other_missed(
    api, cast_a, tenant_a, stores_a, receiver
):
    """A drain ends at the end of the page it read; a delivery committed after that read wakes a
    drain of its own, which finds the first still holding the endpoint: it must come back."""
    import psycopg
    from django.core.cache import cache
    from django.db import connections

    from integrations.delivery import LOCK_NAMESPACE
    from integrations.tasks import WAKE_KEY, endpoint_drain_task
    from tests.conftest import start_worker, stop_worker

    hooks = receiver()
    product = product_make(tenant_a, "COF-9", "4.50", "14.00")
    stock_put(tenant_a, stores_a[0], product, 100)
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url(), events=["sale.created"])
    key = WAKE_KEY.format(tenant=tenant_a.pk, endpoint=webhook["id"])
    cache.set(key, 1, timeout=60)  # this drain's claim: the sale queues nothing more
    sold = sale_post(client, stores_a[0], product)
    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:  # the first drain, still sending
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, webhook["id"]])
        before = _queued()
        assert endpoint_drain_task.run(str(tenant_a.pk), webhook["id"]) == 0
        assert _queued() == before + 1  # it comes back, once:
        assert endpoint_drain_task.run(str(tenant_a.pk), webhook["id"], True) == 0
        assert _queued() == before + 1  # held again then, it leaves the endpoint to the sweep
    worker, _ = start_worker()
    try:
        assert _sales_received(hooks, 1) == [sold]
    finally:
        stop_worker(worker)


@transactional
def test_a_drain_of_what_one_page_holds_reads_the_queue_once(api, cast_a, tenant_a, coffee, receiver):
    from django.test.utils import CaptureQueriesContext

    from integrations.delivery import QUEUE

    hooks = receiver()
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url())
    for name in ("one", "two", "three"):
        rename(client, coffee, name)
    with tenant_context(tenant_a), CaptureQueriesContext(connection) as sent:
        drained = endpoint_drain(endpoint_id=UUID(webhook["id"]))
    assert drained.sent == 3 and not drained.more and len(hooks.requests) == 3
    assert sum(QUEUE.name in query["sql"] for query in sent.captured_queries) == 1


@transactional
def test_a_drain_of_one_delivery_is_four_round_trips_and_its_record_one_transaction(
    api, cast_a, tenant_a, coffee, receiver, monkeypatch
):
    """The lock, the endpoint with its queue, the attempt's record (its own implicit transaction,
    the tenant's setting folded in front: no BEGIN, set_config or COMMIT of its own), the unlock."""
    from django.test.utils import CaptureQueriesContext

    from integrations.delivery import QUEUE, RECORD
    from tenants.db import base

    hooks = receiver()
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url())
    rename(client, coffee, "one")
    separate = []
    apply_tenant = base._apply_tenant
    monkeypatch.setattr(base, "_apply_tenant", lambda c, w: (separate.append(w), apply_tenant(c, w)))
    with tenant_context(tenant_a), CaptureQueriesContext(connection) as sent:
        drained = endpoint_drain(endpoint_id=UUID(webhook["id"]))
    assert drained.sent == 1 and len(hooks.requests) == 1
    statements = [query["sql"] for query in sent.captured_queries]
    assert len(statements) == 4, statements
    assert "pg_try_advisory_lock" in statements[0] and QUEUE.name in statements[1]
    assert RECORD.name in statements[2] and statements[2].startswith("SELECT set_config('kassa.tenant_id'")
    assert "pg_advisory_unlock" in statements[3]
    assert separate == []
    with tenant_context(tenant_a):
        delivery = Delivery.objects.get()
        assert delivery.status == Delivery.Status.SUCCEEDED and delivery.attempts == 1
        attempt = DeliveryAttempt.objects.get()
        assert attempt.succeeded
        assert (
            attempt.id.version == 7
        )  # time-ordered, as every appended row (tests/perf/test_time_ordered_ids.py)


@transactional
def test_a_drain_hands_over_after_its_time_and_the_next_goes_on_in_order(
    api, cast_a, tenant_a, coffee, receiver, monkeypatch
):
    """A slow receiver holds a drain (and, pooled, its transaction) no longer than DRAIN_SECONDS:
    the drain ends with `more`, so the task queues the next at once, which goes on in order."""
    from integrations import delivery

    hooks = receiver()
    client = api(cast_a["owner"])
    webhook = register(client, hooks.url())
    for name in ("one", "two", "three"):
        rename(client, coffee, name)
    monkeypatch.setattr(delivery, "DRAIN_SECONDS", 0)  # every send is past the time
    runs = [drain(tenant_a, webhook) for _ in range(3)]
    # The last ends where its page did: nothing was left to hand over.
    assert [(run.sent, run.more) for run in runs] == [(1, True), (1, True), (1, False)]
    assert [event["data"]["name"] for _, event in hooks.events()] == ["one", "two", "three"]
    last = drain(tenant_a, webhook)
    assert (last.sent, last.more) == (0, False)
