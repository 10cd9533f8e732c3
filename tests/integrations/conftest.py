"""A real webhook receiver for the tests: an HTTP(S) server in a thread that records every request."""

import http.server
import json
import ssl
import threading
import time
from pathlib import Path

import pytest

from kassa.tls import ensure_certificate


class Receiver:
    """Answers each POST with the next scripted status (then `default`) and records it."""

    def __init__(self, *, tls_dir: Path | None = None, statuses=(), default: int = 200, headers=None):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        self.default = default
        self.answer_headers = headers or {}
        self.arrived = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "at": time.time(),
                            "answered": status,
                        }
                    )
                    receiver.arrived.notify_all()
                self.send_response(status)
                for name, value in receiver.answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls_dir is not None:
            cert, key = ensure_certificate(tls_dir, "example.test")  # also *.example.test
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme, self.cert = "https", cert
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host: str = "127.0.0.1", path: str = "/hooks") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"the receiver got {len(self.requests)} of {count} requests"
                self.arrived.wait(left)
        return list(self.requests)

    def events(self) -> list[tuple[str, dict]]:
        return [(r["headers"]["kassa-event"], json.loads(r["body"])) for r in self.requests]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver():
    made = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for one in made:
        one.stop()


def verify(secret: str, header: str, body: bytes, tolerance: int = 300, now: float | None = None) -> bool:
    """The receiver's check, as docs/integrators.md writes it."""
    import hashlib
    import hmac

    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])
