"""Webhook delivery under the load test: every tenant subscribes a local receiver to `sale.created`;
the latency is from the sale's creation (its `created_at`, just before the commit) to the
receiver's arrival, over the whole run, measured after the worker has drained its queue."""

from __future__ import annotations

import http.server
import json
import threading
import time
from datetime import datetime

from bench.load import generator


class Receiver:
    def __init__(self):
        self.arrivals: list[tuple[float, dict, str]] = []  # (arrival time, event, Kassa-Delivery)
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.arrivals.append((time.time(), json.loads(body), self.headers["Kassa-Delivery"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((generator.HOST, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{generator.HOST}:{self.server.server_address[1]}/kassa-hooks"

    def sale_ids(self) -> set[str]:
        with self.lock:
            return {event["data"]["id"] for _, event, _ in self.arrivals}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def webhooks_register(fixture: dict, url: str | None) -> None:
    """One webhook per tenant, to the receiver (the endpoints of an earlier run are replaced);
    with no url, none."""
    from integrations.models import WebhookEndpoint
    from integrations.services import webhook_create
    from tenants.context import tenant_context
    from tenants.models import Tenant

    for entry in fixture["tenants"]:
        with tenant_context(Tenant.objects.get(pk=entry["id"])):
            WebhookEndpoint.objects.all().delete()
            if url is not None:
                webhook_create(actor=None, url=url, events=["sale.created"])


def drain_wait(receiver: Receiver, phases, seconds: float = 120) -> float:
    """Wait until every answered sale has arrived (or nothing arrived for 15 s); the seconds waited."""
    wanted = {sale_id for phase in phases for _, sale_id in phase.sales}
    started = last_change = time.monotonic()
    seen = 0
    while time.monotonic() - started < seconds:
        got = receiver.sale_ids()
        if wanted <= got:
            break
        if len(got) != seen:
            seen, last_change = len(got), time.monotonic()
        elif time.monotonic() - last_change > 15:
            break
        time.sleep(0.5)
    return time.monotonic() - started


def latency_report(receiver: Receiver, phases) -> dict:
    wanted = {sale_id for phase in phases for _, sale_id in phase.sales}
    with receiver.lock:
        arrivals = list(receiver.arrivals)
    latencies = [
        (arrived - datetime.fromisoformat(event["data"]["created_at"].replace("Z", "+00:00")).timestamp())
        * 1000
        for arrived, event, _ in arrivals
    ]
    deliveries = [delivery for _, _, delivery in arrivals]
    got = {event["data"]["id"] for _, event, _ in arrivals}
    return {
        "sales_answered": len(wanted),
        "delivered": len(arrivals),
        "missing": len(wanted - got),
        "repeated_delivery_ids": len(deliveries) - len(set(deliveries)),
        "p50_ms": generator.percentile(latencies, 50),
        "p95_ms": generator.percentile(latencies, 95),
        "p99_ms": generator.percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
    }
