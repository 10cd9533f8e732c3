"""The load generator at a fixed rate (bench/load/mix.lua's EVERY, `wrk.run(rate=...)`): real wrk
against a small HTTP server that holds one answer back.

At a fixed rate it sends the rate asked, and an answer's latency counts from when its request was
due: the requests a slow answer held back on its connection are late by that much, so a stall
shows in the tail as it would for tills that kept coming (no coordinated omission). In a closed
loop the same stall is one slow answer.
"""

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load import wrk

STALL_AT = 10  # the tenth request is answered after STALL seconds
STALL = 0.4


@pytest.fixture
def server():
    seen = {"requests": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: one connection per wrk thread
        disable_nagle_algorithm = True  # headers and body in two writes: no 40 ms delayed-ACK wait

        def do_GET(self):
            with lock:
                seen["requests"] += 1
                number = seen["requests"]
            if number == STALL_AT:
                time.sleep(STALL)
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def data(tmp_path):
    def person():
        return {"id": str(uuid.uuid4()), "token": uuid.uuid4().hex}

    fixture = {
        "tenants": [
            {
                "id": str(uuid.uuid4()),
                "host": "bench.example",
                "owner": person(),
                "integrator": person(),
                "stores": [{"id": str(uuid.uuid4()), "cashier": person()}],
                "stocked": [str(uuid.uuid4()) for _ in range(5)],
                "products": 100,
            }
        ]
    }
    return wrk.data_write(fixture, tmp_path / "fixture.lua")


def detail(data, port, tmp_path, *, rate=None, seconds=2.0):
    return wrk.run(
        "bare",
        data,
        port,
        {"product_detail": 1},
        name="pacing",
        threads=2,
        seconds=seconds,
        out_dir=tmp_path / "wrk",
        rate=rate,
    )


def test_at_a_fixed_rate_it_sends_that_rate_and_a_stall_delays_what_was_due_behind_it(server, data, tmp_path):
    phase = detail(data, server, tmp_path, rate=40)  # each of the 2 connections one every 50 ms
    assert all(r.ok for r in phase.results)
    assert 64 <= len(phase.results) <= 84  # 40 a second for 2 s
    held = sorted(r.ms for r in phase.results if r.ms >= 200)
    # The held answer (~400 ms) and the requests due on its connection while it was held, sent
    # after it, each late by 50 ms less than the one before (350, 300, 250 ms, ...): counted from
    # when they were sent, only the held one would be slow.
    assert len(held) >= 4
    assert held[-1] >= STALL * 1000 * 0.9
    fast = sorted(r.ms for r in phase.results if r.ms < 200)
    assert fast[len(fast) // 2] < 20  # the rest is answered at once


def test_in_a_closed_loop_the_same_stall_is_one_slow_answer(server, data, tmp_path):
    phase = detail(data, server, tmp_path)
    assert all(r.ok for r in phase.results)
    assert len(phase.results) > 3 * 84  # as fast as the server answers, not 40 a second
    held = [r.ms for r in phase.results if r.ms >= 200]
    assert len(held) == 1 and held[0] >= STALL * 1000 * 0.9
