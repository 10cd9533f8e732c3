"""A bounded closed-loop load generator: N threads on loopback, each sending one request after
another until the time or the request budget runs out. Every answer is recorded (kind, status,
latency); nothing is retried."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

HOST = "127.0.0.1"  # loopback only


@dataclass
class Result:
    kind: str
    status: int
    ms: float
    ok: bool
    note: str = ""


@dataclass
class Phase:
    name: str
    seconds: float
    results: list[Result] = field(default_factory=list)
    sales: list[tuple[str, str]] = field(default_factory=list)  # (tenant id, sale id) of each 201
    replays: list[tuple[str, str, str]] = field(default_factory=list)  # (tenant, first id, replayed id)

    def by_kind(self) -> dict[str, list[Result]]:
        kinds: dict[str, list[Result]] = defaultdict(list)
        for r in self.results:
            kinds[r.kind].append(r)
        return kinds


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def _send(port: int, method: str, path: str, headers: dict, body: dict | None):
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


class Kassa:
    """The requests of each kind of user against Kassa's API, for one fixture."""

    def __init__(self, fixture: dict, port: int):
        self.tenants = fixture["tenants"]
        self.port = port

    def _headers(self, tenant, person) -> dict:
        return {"Host": tenant["host"], "Authorization": f"Bearer {person['token']}"}

    def request(self, kind: str, rng: random.Random, phase: Phase) -> Result:
        tenant = rng.choice(self.tenants)
        if kind == "sale":
            return self._sale(tenant, rng, phase)
        if kind == "access_log":
            person = tenant["owner"]
            cashier = rng.choice(tenant["stores"])["cashier"]
            day = time.strftime("%Y-%m-%d", time.gmtime())
            path = f"/api/v1/audit/access/?user={cashier['id']}&since={day}T00:00:00Z&until={day}T23:59:59Z"
            return self._get(kind, path, self._headers(tenant, person))
        person = tenant["integrator"]
        headers = self._headers(tenant, person)
        if kind == "product_list":
            page = rng.randint(1, tenant["products"] // 50)
            return self._get(kind, f"/api/v1/products/?page={page}", headers)
        if kind == "product_detail":
            return self._get(kind, f"/api/v1/products/{rng.choice(tenant['stocked'])}/", headers)
        if kind == "stock":
            store = rng.choice(tenant["stores"])["id"]
            if rng.random() < 0.5:
                return self._get(
                    kind, f"/api/v1/stock/?store={store}&product={rng.choice(tenant['stocked'])}", headers
                )
            return self._get(kind, f"/api/v1/stock/?store={store}&page={rng.randint(1, 2)}", headers)
        if kind == "product_update":
            product = rng.choice(tenant["stocked"])
            body = {"price": f"{rng.randint(100, 999) / 100:.2f}"}
            return self._call(kind, "PATCH", f"/api/v1/products/{product}/", headers, body, 200)
        raise ValueError(kind)

    def _get(self, kind, path, headers) -> Result:
        return self._call(kind, "GET", path, headers, None, 200)

    def _call(self, kind, method, path, headers, body, expected) -> Result:
        started = time.perf_counter()
        try:
            status, _, content = _send(self.port, method, path, headers, body)
        except OSError as error:
            return Result(kind, 0, (time.perf_counter() - started) * 1000, False, repr(error))
        ms = (time.perf_counter() - started) * 1000
        return Result(
            kind, status, ms, status == expected, "" if status == expected else content[:200].decode()
        )

    def _sale(self, tenant, rng, phase: Phase) -> Result:
        store = rng.choice(tenant["stores"])
        products = rng.sample(tenant["stocked"], 3)
        body = {
            "store": store["id"],
            "lines": [{"product": p, "quantity": rng.randint(1, 3)} for p in products],
            "payments": [{"method": "cash", "amount": "1000.00"}],
        }
        headers = {**self._headers(tenant, store["cashier"]), "Idempotency-Key": str(uuid.uuid4())}
        started = time.perf_counter()
        try:
            status, _, content = _send(self.port, "POST", "/api/v1/sales/", headers, body)
        except OSError as error:
            return Result("sale", 0, (time.perf_counter() - started) * 1000, False, repr(error))
        ms = (time.perf_counter() - started) * 1000
        if status != 201:
            return Result("sale", status, ms, False, content[:200].decode())
        sale_id = json.loads(content)["id"]
        phase.sales.append((tenant["id"], sale_id))
        if rng.random() < 0.05:  # the register did not see the answer and sends it again
            started = time.perf_counter()
            status, answer_headers, content = _send(self.port, "POST", "/api/v1/sales/", headers, body)
            replay_ms = (time.perf_counter() - started) * 1000
            replayed = json.loads(content).get("id") if status == 201 else ""
            phase.replays.append((tenant["id"], sale_id, replayed))
            ok = status == 201 and replayed == sale_id and answer_headers.get("Idempotent-Replayed") == "true"
            phase.results.append(
                Result("sale_replay", status, replay_ms, ok, "" if ok else content[:200].decode())
            )
        return Result("sale", status, ms, True)


class Bare:
    """The baseline's requests: the same rows, read or written without Kassa's layers."""

    def __init__(self, fixture: dict, port: int):
        self.tenants = fixture["tenants"]
        self.port = port
        self.kassa = Kassa(fixture, port)

    def request(self, kind: str, rng: random.Random, phase: Phase) -> Result:
        tenant = rng.choice(self.tenants)
        headers = {"Host": "127.0.0.1", "X-Bench-Tenant": tenant["id"]}
        if kind == "product_list":
            page = rng.randint(1, tenant["products"] // 50)
            return self.kassa._get(kind, f"/bare/products/?page={page}", headers)
        if kind == "product_detail":
            return self.kassa._get(kind, f"/bare/products/{rng.choice(tenant['stocked'])}/", headers)
        if kind == "sale":
            store = rng.choice(tenant["stores"])
            body = {
                "store": store["id"],
                "lines": [{"product": p, "quantity": 1} for p in rng.sample(tenant["stocked"], 3)],
            }
            return self.kassa._call(kind, "POST", "/bare/sales/", headers, body, 201)
        raise ValueError(kind)


def run(
    target, mix: dict[str, int], *, name: str, threads: int, seconds: float, max_requests: int, seed: int = 1
) -> Phase:
    """Closed loop: `threads` clients, each picking a kind by weight, for `seconds` at most."""
    phase = Phase(name, seconds)
    kinds, weights = list(mix), list(mix.values())
    deadline = time.monotonic() + seconds
    budget = [max_requests]
    lock = threading.Lock()

    def client(number: int):
        rng = random.Random(seed * 1000 + number)
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            result = target.request(rng.choices(kinds, weights)[0], rng, phase)
            phase.results.append(result)  # list.append is atomic under the GIL

    started = time.monotonic()
    workers = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(seconds + 60)
    phase.seconds = time.monotonic() - started
    return phase
