"""Run the load test: a database of its own, Kassa and the bare baseline under gunicorn with the
production settings (deploy/gunicorn.conf.py), a Celery worker, then the phases (each kind alone
on both sides in turn, the mix, both sides in turn in one mix of the kinds bare serves, Kassa's
mix at fixed rates below the mix's own), the ledger check and the query counts. Prints one table;
writes var/bench-load/results.json.

    python -m bench.load [--reuse] [--mix-seconds 30] [--ratio-seconds 8] [--threads 6]
                         [--generator wrk|python]

The load comes from Debian's wrk (bench/load/mix.lua, one connection per thread; its CPU share
is printed with the figures, so it can be seen not to be what limits); `--generator python`
keeps the first wave's Python-thread clients (bench/load/generator.py) for comparison.

Plain HTTP on loopback (KASSA_HTTPS=false, KASSA_DEBUG off): TLS would cost both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.load import cpu, generator, webhooks, wrk

ROOT = Path(__file__).resolve().parent.parent.parent
DB_NAME = "kassa_bench"
KASSA_PORT = 8811
BARE_PORT = 8812
ENV = {
    "KASSA_DB_NAME": DB_NAME,
    "KASSA_HTTPS": "false",
    "KASSA_DEBUG": "false",
    "KASSA_REDIS_DB": "4",  # broker 4, cache 5: apart from `make run` (0, 1) and the tests (8, 9)
    "KASSA_CACHE_PREFIX": "bench",
    "KASSA_CELERY_QUEUE": "bench",
    "KASSA_LOG_LEVEL": "WARNING",
}
# The realistic mix: cashiers sell, integrators sync, administrators read the access log.
MIX = {
    "sale": 30,
    "product_list": 15,
    "product_detail": 15,
    "stock": 20,
    "product_update": 10,
    "access_log": 10,
}
# The same mix on both sides, of the kinds bare serves (sale 50 %, list 25 %, detail 25 %): how far
# bare itself is from "sale p99 in the mix <= 3x bare detail p99 alone" with closed-loop clients.
SAME_MIX = {"sale": 30, "product_list": 15, "product_detail": 15}
# Kassa's mix again at fixed rates, as shares of the rate its closed-loop mix reached in the same
# run (not a target): a chain's tills send at the rate their customers come, not as fast as the
# server answers, so the mix's latency below saturation is the figure a chain sees.
PACED = (0.25, 0.5, 0.75)
OUT = ROOT / "var" / "bench-load"
KINDS = ("product_list", "product_detail", "sale")
SHORT = {"product_list": "list", "product_detail": "detail", "sale": "sale"}
# Issue 17's targets (ratios to bare in the same run, median of rounds).
RATIO_TARGETS = {"product_list": 0.80, "product_detail": 0.70, "sale": 0.70}
QUERY_TARGETS = {"product_list": 6, "product_detail": 5, "sale": 20}


def _django():
    os.environ.update(ENV)
    os.environ.setdefault("KASSA_PROCESS", "manage")  # creates and seeds the bench database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    import django

    django.setup()


def _database(reuse: bool) -> bool:
    """Create (or keep, with --reuse) the bench database; True when it must be seeded."""
    import psycopg
    from django.db import connections

    params = connections["owner"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["dbname"] = "postgres"
    with psycopg.connect(**params, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        fixture = OUT / "fixture.json"
        if reuse and exists and fixture.exists():
            return False
        # The name is this module's constant; identifiers cannot be parameters.
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME} OWNER kassa_owner")
    return True


def _wait(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:  # nosec B310
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers on port {port}")
        time.sleep(0.3)


def _servers() -> dict[str, subprocess.Popen]:
    metrics = OUT / "metrics"
    metrics.mkdir(parents=True, exist_ok=True)
    for f in metrics.glob("*.db"):
        f.unlink()
    env = {**os.environ, **ENV, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    # No worker restarts during a run (production's max_requests): a restart mid-phase is noise,
    # and a worker started later would load whatever the code is then.
    gunicorn = [
        *(sys.executable, "-m", "gunicorn", "kassa.wsgi", "-c", "deploy/gunicorn.conf.py"),
        *("--max-requests", "0"),
    ]
    log = open(OUT / "servers.log", "ab")  # noqa: SIM115 - kept open for the servers' lifetime
    processes = {
        "kassa": subprocess.Popen(  # nosec B603
            [*gunicorn, "--bind", f"127.0.0.1:{KASSA_PORT}"],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "kassa.settings"},
            stdout=log,
            stderr=log,
        ),
        "bare": subprocess.Popen(  # nosec B603
            [*gunicorn, "--bind", f"127.0.0.1:{BARE_PORT}"],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "bench.load.bare_settings"},
            stdout=log,
            stderr=log,
        ),
        "worker": subprocess.Popen(  # nosec B603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "kassa",
                "worker",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
                "--hostname",
                "bench@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env={**env, "KASSA_PROCESS": "worker"},
            stdout=log,
            stderr=log,
        ),
    }
    _wait(KASSA_PORT)
    _wait(BARE_PORT)
    _worker_wait("bench@")
    return processes


def _worker_wait(hostname: str, seconds: float = 120) -> None:
    """Until the Celery worker answers a ping: a production worker is up before the tills are.
    (Without it the warm-up's sales waited for the worker's start, ~20 s on a loaded machine, and
    their webhooks made the latency's p99.)"""
    from kassa.celery import app

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(hostname in name for reply in app.control.ping(timeout=1) for name in reply):
            return
    raise RuntimeError(f"the Celery worker {hostname} did not start in {seconds:.0f} s")


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for p in processes.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes.values():
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database of an earlier run")
    parser.add_argument("--mix-seconds", type=float, default=30)
    parser.add_argument("--ratio-seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--generator", choices=("wrk", "python"), default="wrk")
    parser.add_argument(
        "--no-webhooks",
        action="store_true",
        help="subscribe no receiver to sale.created (the webhook worker's share of the figures)",
    )
    args = parser.parse_args(argv)
    if args.generator == "wrk" and not wrk.available():
        print("wrk is not installed: tools/bench-prerequisites installs it", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    _django()
    # The code the in-process query counts will run, loaded now with the servers' (not later).
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connections
    from django.urls import get_resolver

    from bench.load import checks, seed

    WSGIHandler()
    get_resolver().url_patterns  # noqa: B018 - imports every view
    fresh = _database(args.reuse)
    fixture_file = OUT / "fixture.json"
    if fresh:
        call_command("migrate", interactive=False, verbosity=0)
        fixture = seed.seed()
    else:
        fixture = json.loads(fixture_file.read_text())
        print(f"reusing database {DB_NAME}")
    seed.tokens_issue(fixture)
    receiver = webhooks.Receiver()
    webhooks.webhooks_register(fixture, None if args.no_webhooks else receiver.url)

    def drain_wait(phases: list, seconds: float = 120) -> float:
        # Only Kassa's sales send webhooks: waiting for bare's would idle out the 15 s quiet limit.
        kassa_only = [p for p in phases if p.name.startswith("kassa:")]
        return 0.0 if args.no_webhooks else webhooks.drain_wait(receiver, kassa_only, seconds=seconds)

    fixture_file.write_text(
        json.dumps({"tenants": [{k: v for k, v in t.items()} for t in fixture["tenants"]]})
    )
    connections.close_all()

    import datetime

    since = datetime.datetime.now(datetime.UTC)
    processes = _servers()
    phases: list[generator.Phase] = []
    data = wrk.data_write(fixture, OUT / "fixture.lua")
    kassa = generator.Kassa(fixture, KASSA_PORT)
    bare = generator.Bare(fixture, BARE_PORT)

    ports = {"kassa": KASSA_PORT, "bare": BARE_PORT}

    def load(
        side: str, mix: dict[str, int], *, name: str, seconds: float, seed: int = 1, rate: float | None = None
    ) -> generator.Phase:
        before = cpu.snapshot(ports)
        phase = _load(side, mix, name=name, seconds=seconds, seed=seed, rate=rate)
        phase.cpu = cpu.per_request(before, cpu.snapshot(ports), len(phase.results))  # type: ignore[attr-defined]
        return phase

    def _load(
        side: str, mix: dict[str, int], *, name: str, seconds: float, seed: int = 1, rate: float | None = None
    ) -> generator.Phase:
        if args.generator == "wrk":
            port = KASSA_PORT if side == "kassa" else BARE_PORT
            return wrk.run(
                side,
                data,
                port,
                mix,
                name=name,
                threads=args.threads,
                seconds=seconds,
                out_dir=OUT / "wrk",
                seed=seed,
                rate=rate,
            )
        target = kassa if side == "kassa" else bare
        return generator.run(
            target, mix, name=name, threads=args.threads, seconds=seconds, max_requests=200_000, seed=seed
        )

    try:
        # Warm every worker (imports, connections, prepared statements) on both sides.
        warm = load("kassa", MIX, name="kassa:warm", seconds=5)
        load("bare", {"product_list": 1, "product_detail": 1}, name="warm", seconds=3)
        # Ratios: each kind alone, Kassa and bare in turn, so drift of the machine hits both alike:
        # the side that goes first alternates from round to round (what one phase leaves behind,
        # such as the database's background writes after a sale phase, falls on each side as often).
        # Each starts once the webhooks of every sale before it are delivered: the worker's backlog
        # would otherwise take the CPU of whichever side runs next (the CPU split showed it).
        for r in range(args.rounds):
            for kind in KINDS:
                for side in ("kassa", "bare") if r % 2 == 0 else ("bare", "kassa"):
                    drain_wait([warm, *phases], seconds=60)
                    phases.append(
                        load(
                            side, {kind: 1}, name=f"{side}:{kind}:{r}", seconds=args.ratio_seconds, seed=r + 2
                        )
                    )
        drain_wait([warm, *phases], seconds=60)
        mix = load("kassa", MIX, name="kassa:mix", seconds=args.mix_seconds, seed=9)
        same: dict[str, generator.Phase] = {}
        for side in ("bare", "kassa"):
            drain_wait([warm, *phases, mix, *same.values()], seconds=60)
            same[side] = load(
                side, SAME_MIX, name=f"{side}:same-mix", seconds=args.mix_seconds * 2 / 3, seed=11
            )
        # The fixed rates need wrk's pacing (mix.lua); the Python clients only run a closed loop.
        paced: list[tuple[float, float, generator.Phase]] = []
        for share in PACED if args.generator == "wrk" else ():
            drain_wait([warm, *phases, mix, *same.values(), *(p for _, _, p in paced)], seconds=60)
            rate = share * len(mix.results) / mix.seconds
            phase = load(
                "kassa", MIX, name=f"kassa:paced:{share:g}", seconds=args.mix_seconds, seed=13, rate=rate
            )
            paced.append((share, rate, phase))
        kassa_phases = [
            warm,
            *(p for p in phases if p.name.startswith("kassa:")),
            mix,
            same["kassa"],
            *(p for _, _, p in paced),
        ]
        drained = drain_wait(kassa_phases)
    finally:
        _stop(processes)
        receiver.stop()
    # results.json says whether a receiver was subscribed: a run without one is not the default's.
    hooks = (
        {"subscribed": False}
        if args.no_webhooks
        else {
            "subscribed": True,
            **webhooks.latency_report(receiver, kassa_phases),
            "drain_wait_s": round(drained, 1),
        }
    )

    ledger = checks.ledger_check(fixture, kassa_phases, since)
    queries = checks.query_counts(fixture)
    report = _report(args, phases, mix, ledger, queries, same, paced)
    report["webhooks"] = hooks
    (OUT / "results.json").write_text(json.dumps(report, indent=2))
    _print(report)
    return 0 if report["errors"] == 0 and ledger["ok"] and hooks.get("missing", 0) == 0 else 1


def _stats(results) -> dict:
    ms = [r.ms for r in results]
    return {
        "count": len(results),
        "errors": sum(not r.ok for r in results),
        "p50": generator.percentile(ms, 50),
        "p95": generator.percentile(ms, 95),
        "p99": generator.percentile(ms, 99),
    }


def _busy(phase) -> float:
    """The share of the machine's cores the servers' processes used in a phase."""
    ms_per_request = sum(getattr(phase, "cpu", {}).values())
    return ms_per_request * len(phase.results) / phase.seconds / 1000 / (os.cpu_count() or 1)


def cpu_groups(side: str) -> tuple[str, ...]:
    """The process groups a side's requests spend CPU in: its gunicorn, then what it shares."""
    return (side, "postgres", "redis", "celery")


def _report(args, phases, mix, ledger, queries, same, paced) -> dict:
    ratios = {}
    for kind in KINDS:
        rps = {"kassa": [], "bare": []}
        lat = {"kassa": [], "bare": []}
        cpu = {"kassa": [], "bare": []}
        split: dict[str, list[dict]] = {"kassa": [], "bare": []}
        for p in phases:
            side, k, _ = p.name.split(":")
            if k == kind:
                rps[side].append(sum(r.kind == kind for r in p.results) / p.seconds)
                lat[side].extend(r.ms for r in p.results if r.kind == kind)
                cpu[side].append(getattr(p, "generator_cpu", float("nan")))
                split[side].append(getattr(p, "cpu", {}))
        ratios[kind] = {
            "kassa_rps": statistics.median(rps["kassa"]),
            "bare_rps": statistics.median(rps["bare"]),
            "ratio": statistics.median(rps["kassa"]) / statistics.median(rps["bare"]),
            "ratio_per_round": [k / b for k, b in zip(rps["kassa"], rps["bare"], strict=True)],
            "kassa_p50": generator.percentile(lat["kassa"], 50),
            "bare_p50": generator.percentile(lat["bare"], 50),
            "kassa_p99": generator.percentile(lat["kassa"], 99),
            "bare_p99": generator.percentile(lat["bare"], 99),
            "generator_cpu": {side: max(v) for side, v in cpu.items()},
            # ms of CPU per request by process group (median of rounds): the servers' own split.
            "cpu_ms": {
                side: {
                    group: statistics.median(r.get(group, 0.0) for r in rounds) for group in cpu_groups(side)
                }
                for side, rounds in split.items()
                if rounds
            },
        }
    kinds = {kind: _stats(results) for kind, results in sorted(mix.by_kind().items())}
    every = [*phases, mix, *same.values(), *(p for _, _, p in paced)]
    errors = sum(not r.ok for p in every for r in p.results)
    samples = [r.note for p in every for r in p.results if not r.ok][:5]
    sale_p99 = kinds.get("sale", {}).get("p99", float("nan"))
    bare_detail_p99 = ratios["product_detail"]["bare_p99"]
    targets: dict = {}
    for kind in KINDS:
        r = ratios[kind]
        targets[f"{kind} ratio >= {RATIO_TARGETS[kind]:.2f}"] = [
            r["ratio"],
            r["ratio"] >= RATIO_TARGETS[kind],
        ]
        p99 = r["kassa_p99"] / r["bare_p99"]
        targets[f"{kind} p99 alone <= 1.5x bare"] = [p99, p99 <= 1.5]
        q = queries.get(kind, {}).get("total")
        targets[f"{kind} queries <= {QUERY_TARGETS[kind]}"] = [q, q is not None and q <= QUERY_TARGETS[kind]]
    mixed = sale_p99 / bare_detail_p99
    targets["sale p99 in the mix <= 3x bare detail p99 alone"] = [mixed, mixed <= 3]
    targets["errors == 0"] = [errors, errors == 0]
    targets["ledger ok"] = [ledger["ok"], ledger["ok"]]
    return {
        "generator": args.generator,
        "threads": args.threads,
        "load_average": list(os.getloadavg()),
        "mix_seconds": round(mix.seconds, 1),
        "mix_rps": len(mix.results) / mix.seconds,
        "mix_generator_cpu": getattr(mix, "generator_cpu", None),
        "kinds": kinds,
        # Not a target: both sides in SAME_MIX, one after the other.
        "same_mix": {
            side: {
                "seconds": round(p.seconds, 1),
                "rps": len(p.results) / p.seconds,
                "kinds": {kind: _stats(results) for kind, results in sorted(p.by_kind().items())},
                "sale_p99_over_bare_detail_p99_alone": _stats(p.by_kind().get("sale", []))["p99"]
                / bare_detail_p99,
            }
            for side, p in same.items()
        },
        # Not a target: Kassa's mix at fixed shares of its closed-loop mix's rate. `cpu_busy` is the
        # share of the machine's cores its servers (gunicorn, PostgreSQL, Redis, the worker) used.
        "paced_mix": [
            {
                "share": share,
                "rate": rate,
                "rps": len(p.results) / p.seconds,
                "cpu_busy": _busy(p),
                "kinds": {kind: _stats(results) for kind, results in sorted(p.by_kind().items())},
                "sale_p99_over_bare_detail_p99_alone": _stats(p.by_kind().get("sale", []))["p99"]
                / bare_detail_p99,
            }
            for share, rate, p in paced
        ],
        "ratios": ratios,
        "errors": errors,
        "error_samples": samples,
        "ledger": ledger,
        "queries": queries,
        "targets": targets,
    }


def _print(report: dict) -> None:
    load = ", ".join(f"{x:.2f}" for x in report["load_average"])
    print(
        f"\n{report['generator']} load generator, {report['threads']} closed-loop clients; "
        f"load average at the end {load} (2 cores, shared)"
    )
    print("\neach kind alone, Kassa and bare in turn (median of rounds; p99 over the rounds):")
    print(
        f"{'kind':<16}{'Kassa req/s':>12}{'bare req/s':>11}{'ratio':>7}{'rounds':>25}"
        f"{'Kassa p99':>10}{'bare p99':>9}{'queries':>9}{'wrk CPU':>9}"
    )
    for kind, r in report["ratios"].items():
        rounds = "/".join(f"{x:.2f}" for x in r["ratio_per_round"])
        q = report["queries"].get(kind, {})
        cpu = max(r["generator_cpu"].values())
        print(
            f"{kind:<16}{r['kassa_rps']:>12.0f}{r['bare_rps']:>11.0f}{r['ratio']:>7.2f}  {rounds:>23}"
            f"{r['kassa_p99']:>8.1f}ms{r['bare_p99']:>7.1f}ms{q.get('total', '')!s:>5} / {q.get('bare_total', '')!s:<2}"
            f"{cpu:>8.0%}"
        )
    print("\nCPU per request on this machine, ms (median of rounds): the side's gunicorn, PostgreSQL,")
    print("Redis and the Celery worker (webhooks); wrk's own is the column above")
    print(f"{'kind':<16}{'side':<7}{'total':>7}{'gunicorn':>10}{'postgres':>10}{'redis':>7}{'celery':>8}")
    for kind, r in report["ratios"].items():
        for side, split in r.get("cpu_ms", {}).items():
            total = sum(split.values())
            print(
                f"{kind if side == 'kassa' else '':<16}{side:<7}{total:>7.2f}{split[side]:>10.2f}"
                f"{split['postgres']:>10.2f}{split['redis']:>7.2f}{split['celery']:>8.2f}"
            )
    cpu = report.get("mix_generator_cpu")
    cpu_text = f", generator {cpu:.0%} of a core" if cpu is not None else ""
    print(f"\nmixed load: {report['mix_seconds']} s, {report['mix_rps']:.0f} req/s in all{cpu_text}")
    print(f"{'kind':<16}{'count':>7}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'queries':>9}")
    for kind, s in report["kinds"].items():
        q = report["queries"].get(kind, {}).get("total", "")
        print(
            f"{kind:<16}{s['count']:>7}{s['errors']:>8}{s['p50']:>9.1f}{s['p95']:>9.1f}{s['p99']:>9.1f}{q!s:>9}"
        )
    shares = ", ".join(f"{kind} {w * 100 // sum(SAME_MIX.values())} %" for kind, w in SAME_MIX.items())
    print(f"\nthe same mix on both sides, in turn ({shares}; not a target):")
    print(
        f"{'side':<7}{'req/s':>7}{'sale p50':>10}{'sale p99':>10}{'detail p99':>12}{'list p99':>10}  sale p99 / bare detail p99 alone"
    )
    for side, m in report["same_mix"].items():
        k = m["kinds"]
        print(
            f"{side:<7}{m['rps']:>7.0f}{k['sale']['p50']:>8.1f}ms{k['sale']['p99']:>8.1f}ms"
            f"{k['product_detail']['p99']:>10.1f}ms{k['product_list']['p99']:>8.1f}ms"
            f"  {m['sale_p99_over_bare_detail_p99_alone']:.2f}x"
        )
    if report["paced_mix"]:
        print(
            f"\nKassa's mix at fixed rates, shares of the closed-loop mix's {report['mix_rps']:.0f} req/s "
            "(latency from when each request was due; not a target):"
        )
        print(
            f"{'share':>6}{'asked':>7}{'req/s':>7}{'CPU busy':>10}{'sale p50':>10}{'sale p99':>10}"
            f"{'detail p99':>12}  sale p99 / bare detail p99 alone"
        )
        for m in report["paced_mix"]:
            k = m["kinds"]
            print(
                f"{m['share']:>6.0%}{m['rate']:>7.0f}{m['rps']:>7.0f}{m['cpu_busy']:>10.0%}"
                f"{k['sale']['p50']:>8.1f}ms{k['sale']['p99']:>8.1f}ms{k['product_detail']['p99']:>10.1f}ms"
                f"  {m['sale_p99_over_bare_detail_p99_alone']:.2f}x"
            )
    print("\nqueries per request (ORM statements incl. BEGIN/COMMIT + tenant set_config + audit writes):")
    for kind, q in report["queries"].items():
        print(f"  {kind:<16} {q}")
    ledger = report["ledger"]
    print(f"\nledger: {ledger}")
    hooks = report.get("webhooks", {})
    if hooks.get("subscribed"):
        print(
            f"webhooks (sale.created, one worker): {hooks['delivered']} delivered for {hooks['sales_answered']} "
            f"sales, {hooks['missing']} missing, {hooks['repeated_delivery_ids']} repeated; latency from the "
            f"sale to the receiver p50 {hooks['p50_ms']:.0f} ms, p95 {hooks['p95_ms']:.0f}, p99 "
            f"{hooks['p99_ms']:.0f}, max {hooks['max_ms']:.0f} (queue drained {hooks['drain_wait_s']} s after the load)"
        )
    else:
        print("webhooks: none subscribed (--no-webhooks)")
    if report["error_samples"]:
        print(f"error samples: {report['error_samples']}")
    print("\ntargets (issue 17):")
    for name, (value, met) in report["targets"].items():
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"  {'met   ' if met else 'MISSED'} {name}: {shown}")
    r = report["ratios"]
    print(
        f"ratios: list={r['product_list']['ratio']:.2f} detail={r['product_detail']['ratio']:.2f} "
        f"sale={r['sale']['ratio']:.2f}"
    )
