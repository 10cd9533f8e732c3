"""What the webhook worker's CPU goes on: a delivery's drain, and Celery's own cost per task.

    python -m bench.load.worker [--drains 300] [--tasks 100]

Needs the database of an earlier `make bench-load` (var/bench-load/fixture.json). The first
tenant subscribes a receiver (its own process, so its CPU is not counted) to `sale.created`.

- In process: an outbox of one (or four) `sale.created` events committed, then drained with
  `integrations.delivery.endpoint_drain` as the task does (its tenant read first); this process's
  CPU and its PostgreSQL backend's, per delivery. The wake-up is left out (no task is queued).
- Through Celery: a worker started as `make bench-load` starts it (prefork, concurrency 1), sent
  a task every 250 ms; its processes' CPU per task for a drain task of no tenant (Celery's own
  cost: the message, the pool, the ack, with one Redis and one PostgreSQL round trip of the
  task's) and for a sale's event committed and woken as a sale does it (the whole delivery).
  The worker's idle CPU over the same time is shown first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess  # nosec B404 - the receiver and the worker, this file's own commands
import sys
import time
import uuid

from bench.load import cpu
from bench.load import run as bench_run

PAYLOAD = {"id": "bench", "lines": [{"sku": "B-1", "quantity": 1, "price": "1.00"}] * 3, "total": "3.00"}
RECEIVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _emit(tenant, count: int) -> None:
    from django.db import transaction

    from integrations.events import events_emit
    from tenants.context import tenant_context

    with tenant_context(tenant), transaction.atomic():
        events_emit([("sale.created", PAYLOAD)] * count)


def in_process(tenant, endpoint_id, *, drains: int, per: int) -> tuple[float, float]:
    """(this process's, its database backend's) CPU in ms per delivery."""
    from django.db import connection

    from integrations import delivery, tasks
    from tenants.context import tenant_context

    def drain() -> int:
        found = tasks._tenant(str(tenant.pk))
        with tenant_context(found):
            return delivery.endpoint_drain(endpoint_id=endpoint_id).sent

    for _ in range(20):  # warm: the statements prepared, the connection made
        _emit(tenant, per)
        drain()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    spent = database = 0.0
    for _ in range(drains):
        _emit(tenant, per)
        began, began_db = time.process_time(), cpu.process_seconds(backend)
        sent = drain()
        spent += time.process_time() - began
        database += cpu.process_seconds(backend) - began_db
        if sent != per:
            raise RuntimeError(f"{sent} sent of {per}")
    return 1000 * spent / (drains * per), 1000 * database / (drains * per)


def through_celery(tenant, *, tasks_sent: int) -> dict[str, float]:
    """The worker's CPU in ms per task: idle, a drain of no tenant, a sale's event woken."""
    from integrations.tasks import endpoint_drain_task

    env = {**os.environ, **bench_run.ENV, "KASSA_PROCESS": "worker"}
    worker = subprocess.Popen(  # nosec B603
        [
            *(sys.executable, "-m", "celery", "-A", "kassa", "worker", "--concurrency", "1"),
            *("--loglevel", "WARNING", "--hostname", "bench-worker@%h"),
            *("--without-gossip", "--without-mingle"),
        ],
        cwd=bench_run.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        bench_run._worker_wait("bench-worker@")
        nobody = str(uuid.uuid4())

        def worker_cpu() -> float:
            return sum(seconds for group, seconds in cpu.snapshot({}).values() if group == "celery")

        def per_task(send) -> float:
            began = worker_cpu()
            for _ in range(tasks_sent):
                send()
                time.sleep(0.25)
            time.sleep(2)
            return 1000 * (worker_cpu() - began) / tasks_sent

        return {
            "idle (per 250 ms)": per_task(lambda: None),
            "drain task of no tenant (Celery's own)": per_task(
                lambda: endpoint_drain_task.apply_async((nobody, nobody), countdown=0.2)
            ),
            "one sale's event, committed and woken": per_task(lambda: _emit(tenant, 1)),
        }
    finally:
        worker.terminate()
        worker.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load.worker")
    parser.add_argument("--drains", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=100, help="0: no worker started")
    args = parser.parse_args(argv)
    bench_run._django()
    from bench.load import webhooks
    from integrations.models import WebhookEndpoint
    from tenants.context import tenant_context
    from tenants.models import Tenant

    fixture = json.loads((bench_run.OUT / "fixture.json").read_text())
    receiver = subprocess.Popen(  # nosec B603
        [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(receiver.stdout.readline())  # type: ignore[union-attr]
        webhooks.webhooks_register({"tenants": fixture["tenants"][:1]}, f"http://127.0.0.1:{port}/hooks")
        tenant = Tenant.objects.get(pk=fixture["tenants"][0]["id"])
        with tenant_context(tenant):
            endpoint_id = WebhookEndpoint.objects.get().pk
        for per in (1, 4):
            mine, database = in_process(tenant, endpoint_id, drains=args.drains, per=per)
            print(
                f"in process, {per} a drain: {mine:.2f} ms of this process's CPU and "
                f"{database:.2f} ms of PostgreSQL's a delivery"
            )
        for name, ms in (through_celery(tenant, tasks_sent=args.tasks) if args.tasks else {}).items():
            print(f"through Celery: {ms:.2f} ms of the worker's CPU a task: {name}")
    finally:
        receiver.kill()
        receiver.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
