"""The load generator: Debian's `wrk` (C, epoll) running bench/load/mix.lua, one connection per
thread. The Python clients of generator.py took a core's worth of CPU from the servers they
measured; wrk takes a few per cent (its CPU time is reported with every phase).

Each wrk thread writes one line per answer; they become the same `Phase` generator.py makes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from bench.load.generator import Phase, Result

HOST = "127.0.0.1"  # loopback only
WRK = os.environ.get("KASSA_WRK") or "wrk"  # the one tools/bench-prerequisites installs
SCRIPT = Path(__file__).with_name("mix.lua")
GRACE = 2  # seconds after the last request is sent for the answers in flight


def available() -> bool:
    return shutil.which(WRK) is not None


def _lua(value) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ",".join(_lua(v) for v in value) + "}"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if not all(c.isalnum() or c in "-_.:" for c in text):
        raise ValueError(f"not a plain value: {text!r}")
    return f'"{text}"'


def data_write(fixture: dict, path: Path) -> Path:
    """The fixture as a Lua table: hosts, ids and the tokens of each tenant's people."""
    tenants = [
        {
            "id": t["id"],
            "host": t["host"],
            "owner": t["owner"]["token"],
            "integrator": t["integrator"]["token"],
            "stores": [
                {"id": s["id"], "token": s["cashier"]["token"], "cashier": s["cashier"]["id"]}
                for s in t["stores"]
            ],
            "stocked": t["stocked"],
            "products": t["products"],
        }
        for t in fixture["tenants"]
    ]
    path.write_text("return " + _lua(tenants) + "\n")
    os.chmod(path, 0o600)  # it holds the bench users' tokens
    return path


def run(
    side: str,
    data: Path,
    port: int,
    mix: dict[str, int],
    *,
    name: str,
    threads: int,
    seconds: float,
    out_dir: Path,
    seed: int = 1,
    rate: float | None = None,
) -> Phase:
    """`threads` connections for `seconds`, closed-loop or, given `rate`, sending that many requests
    a second in all (each connection one every threads / rate seconds); the answers as a Phase."""
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = out_dir / name.replace(":", "-")
    for old in out_dir.glob(prefix.name + ".*.tsv"):
        old.unlink()
    spec = ",".join(f"{k}={v}" for k, v in mix.items())
    command = [
        WRK,
        "-t",
        str(threads),
        "-c",
        str(threads),
        "-d",
        f"{round(seconds + GRACE)}s",
        "--timeout",
        "30s",
        "-s",
        str(SCRIPT),
        f"http://{HOST}:{port}",
        "--",
        str(data),
        side,
        spec,
        str(prefix),
        str(seed),
        str(seconds),
        uuid.uuid4().hex,
        f"{threads * 1000 / rate:.3f}" if rate else "0",
    ]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # nosec B603
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    output = process.stdout.read().decode() if process.stdout else ""
    elapsed = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {output[-500:]}")
    phase = Phase(name, seconds)  # requests are sent for `seconds`, answers counted to the end
    phase.generator_cpu = (usage.ru_utime + usage.ru_stime) / elapsed  # type: ignore[attr-defined]
    socket_errors = 0
    for line in output.splitlines():
        if line.startswith("wrk-errors "):
            fields = dict(item.split("=") for item in line.split()[1:])
            socket_errors = sum(int(fields[k]) for k in ("connect", "read", "write", "timeout"))
    for path in sorted(out_dir.glob(prefix.name + ".*.tsv")):
        for line in path.read_text().splitlines():
            kind, code, ms, ok, tenant, sale, replayed, note = line.split("\t", 7)
            passed = ok == "1"
            phase.results.append(Result(kind, int(code), float(ms), passed, note))
            if kind == "sale" and passed and sale:
                phase.sales.append((tenant, sale))
            elif kind == "sale_replay":
                phase.replays.append((tenant, sale, replayed))
        path.unlink()
    for _ in range(socket_errors):
        phase.results.append(Result("socket", 0, 0.0, False, "wrk socket error"))
    return phase
