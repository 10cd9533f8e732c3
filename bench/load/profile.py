"""Where a request's time goes, per middleware and per statement, in process on the bench database.

    python -m bench.load.profile [--requests 200] [--kinds product_detail,product_list,sale]

Needs the database of an earlier `make bench-load` (var/bench-load/fixture.json). Django's test
client drives the real middleware stack with a probe between every two layers; a layer's time
is what it spends before and after the layer below it (the innermost "handler" is URL
resolution, `process_view`, DRF and the view). Statements are timed on the request's connection
(ORM and raw), the tenant's `set_config` and the access-log writes on their own.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager

from bench.load import run as bench_run

_marks: list[tuple[int, str, float]] = []  # (layer index, "in"/"out", time)


def _probe_marks() -> list[tuple[int, str, float]]:
    """The marks of the probes Django loaded (this module under its own name, not __main__)."""
    from bench.load import profile as loaded

    return loaded._marks


def _probe(index: int):
    class Probe:
        def __init__(self, get_response):
            self.get_response = get_response

        def __call__(self, request):
            _marks.append((index, "in", time.perf_counter()))
            try:
                return self.get_response(request)
            finally:
                _marks.append((index, "out", time.perf_counter()))

    Probe.__name__ = Probe.__qualname__ = f"Probe{index}"
    return Probe


PROBES = [_probe(i) for i in range(40)]
for _i, _p in enumerate(PROBES):
    globals()[f"Probe{_i}"] = _p


def _stack(middleware: list[str]) -> list[str]:
    probed = []
    for index, path in enumerate(middleware):
        probed += [f"bench.load.profile.Probe{index}", path]
    return [*probed, f"bench.load.profile.Probe{len(middleware)}"]


def _layers(middleware: list[str]) -> dict[str, float]:
    """Each layer's own time in the last request, from the probes' marks."""
    at = {(i, d): t for i, d, t in _probe_marks()}
    if len(at) != 2 * (len(middleware) + 1):
        raise RuntimeError(f"probes missing: {sorted(at)}")
    layers = {}
    for index, path in enumerate(middleware):
        inner = index + 1
        own = (at[(inner, "in")] - at[(index, "in")]) + (at[(index, "out")] - at[(inner, "out")])
        layers[path.rsplit(".", 1)[-1]] = own * 1000
    n = len(middleware)
    layers["handler (resolve, DRF, view)"] = (at[(n, "out")] - at[(n, "in")]) * 1000
    return layers


_SHAPE = re.compile(r"'[^']*'|\"s\d+_x\d+\"|\b\d+\b")


@contextmanager
def _statements(times: dict[str, list[float]]):
    from django.db import connections

    from auditlog import writer
    from tenants.db import base

    apply_tenant, execute = base._apply_tenant, writer.execute

    def timed_apply(connection, wanted):
        started = time.perf_counter()
        try:
            return apply_tenant(connection, wanted)
        finally:
            times["set_config (tenant)"].append((time.perf_counter() - started) * 1000)

    def timed_execute(sql, params):
        started = time.perf_counter()
        try:
            return execute(sql, params)
        finally:
            name = "audit: access row" if "auditlog_access" in sql else "audit: API-call row"
            times[name].append((time.perf_counter() - started) * 1000)

    def wrapper(run, sql, params, many, context):
        started = time.perf_counter()
        try:
            return run(sql, params, many, context)
        finally:
            shape = _SHAPE.sub("?", " ".join(str(sql).split()))[:90]
            times[shape].append((time.perf_counter() - started) * 1000)

    base._apply_tenant, writer.execute = timed_apply, timed_execute
    try:
        with connections["default"].execute_wrapper(wrapper):
            yield
    finally:
        base._apply_tenant, writer.execute = apply_tenant, execute


def profile(fixture: dict, kinds: list[str], requests: int) -> dict:
    from django.conf import settings
    from django.test import Client, override_settings

    tenant = fixture["tenants"][0]
    integrator = Client(
        HTTP_HOST=tenant["host"], HTTP_AUTHORIZATION=f"Bearer {tenant['integrator']['token']}"
    )
    stores = tenant["stores"]

    def sale(n):
        store = stores[n % len(stores)]
        cashier = Client(HTTP_HOST=tenant["host"], HTTP_AUTHORIZATION=f"Bearer {store['cashier']['token']}")
        body = {
            "store": store["id"],
            "lines": [{"product": p, "quantity": 1} for p in tenant["stocked"][n % 90 : n % 90 + 3]],
            "payments": [{"method": "cash", "amount": "1000.00"}],
        }
        return cashier.post(
            "/api/v1/sales/",
            json.dumps(body),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    calls = {
        "product_list": lambda n: integrator.get(f"/api/v1/products/?page={n % 190 + 1}"),
        "product_detail": lambda n: integrator.get(f"/api/v1/products/{tenant['stocked'][n % 100]}/"),
        "sale": sale,
    }
    middleware = list(settings.MIDDLEWARE)
    report = {}
    with override_settings(MIDDLEWARE=_stack(middleware)):
        for kind in kinds:
            for n in range(20):  # warm: imports, prepared statements, the token's last use
                calls[kind](n)
            layers: dict[str, list[float]] = defaultdict(list)
            statements: dict[str, list[float]] = defaultdict(list)
            totals = []
            for n in range(requests):
                _probe_marks().clear()
                started = time.perf_counter()
                with _statements(statements):
                    response = calls[kind](n)
                totals.append((time.perf_counter() - started) * 1000)
                assert response.status_code in (200, 201), (
                    kind,
                    response.status_code,
                    response.content[:200],
                )
                for name, ms in _layers(middleware).items():
                    layers[name].append(ms)
            report[kind] = {
                "request_ms": statistics.mean(totals),
                "layers_ms": {k: statistics.mean(v) for k, v in layers.items()},
                "statements": {
                    k: {"per_request": len(v) / requests, "ms": sum(v) / requests}
                    for k, v in sorted(statements.items(), key=lambda kv: -sum(kv[1]))
                },
            }
    return report


def _print(report: dict) -> None:
    for kind, r in report.items():
        print(f"\n== {kind}: {r['request_ms']:.2f} ms a request (in process, test client)")
        for name, ms in r["layers_ms"].items():
            print(f"  {ms:7.3f} ms  {name}")
        total = sum(s["per_request"] for s in r["statements"].values())
        spent = sum(s["ms"] for s in r["statements"].values())
        print(f"  statements: {total:.1f} a request, {spent:.2f} ms waiting")
        for sql, s in r["statements"].items():
            print(f"  {s['ms']:7.3f} ms  x{s['per_request']:.1f}  {sql}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load.profile")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--kinds", default="product_detail,product_list,sale")
    args = parser.parse_args(argv)
    bench_run._django()
    from bench.load import seed

    fixture = json.loads((bench_run.OUT / "fixture.json").read_text())
    seed.tokens_issue(fixture)
    report = profile(fixture, args.kinds.split(","), args.requests)
    (bench_run.OUT / "profile.json").write_text(json.dumps(report, indent=2))
    _print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
