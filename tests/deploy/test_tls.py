"""`make run`'s TLS, tried from the outside: TLS 1.2 with ECDHE and AEAD ciphers only, and TLS 1.3.

A gunicorn started as runstack starts it (deploy/gunicorn.conf.py, the development certificate
of kassa/tls.py) on a free port; each client below offers one thing, and the server's answer
is what is asserted: a refusal comes back as the server's TLS alert, not as a client that could
not offer the protocol at all.
"""

import os
import socket
import ssl
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from kassa.tls import ensure_certificate

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cert, key = ensure_certificate(tmp_path_factory.mktemp("tls"), "localhost")
    port = free_port()
    env = {**os.environ, "KASSA_PROCESS": "web"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kassa.wsgi", "-c", "deploy/gunicorn.conf.py", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--certfile", str(cert), "--keyfile", str(key)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                handshake(port, client(ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3))
                break
            except OSError:
                assert process.poll() is None, "gunicorn exited at start"
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
                time.sleep(0.3)
        yield port
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)


def client(minimum, maximum, ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    # Security level 0: this client may offer what a modern default would refuse to.
    context.set_ciphers((ciphers or "ALL") + ":@SECLEVEL=0")
    with warnings.catch_warnings():  # offering TLS 1.1 is deprecated: that is the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version, context.maximum_version = minimum, maximum
    return context


def handshake(port: int, context: ssl.SSLContext) -> tuple[str, str]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.version(), tls.cipher()[0]


def test_tls_1_1_is_refused_by_the_server(server):
    with pytest.raises(ssl.SSLError) as refused:
        handshake(server, client(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1))
    # The server's alert, not a client unable to offer TLS 1.1.
    assert "ALERT_PROTOCOL_VERSION" in refused.value.reason or "PROTOCOL_VERSION" in str(refused.value)


@pytest.mark.parametrize(
    "suite", ["ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA"]
)
def test_a_cbc_suite_is_refused_under_tls_1_2(server, suite):
    context = client(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, suite)
    assert [c["name"] for c in context.get_ciphers() if not c["name"].startswith("TLS_")] == [suite]
    with pytest.raises(ssl.SSLError) as refused:
        handshake(server, context)
    assert "HANDSHAKE_FAILURE" in refused.value.reason


@pytest.mark.parametrize("suite", ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                   "ECDHE-ECDSA-CHACHA20-POLY1305"])  # fmt: skip
def test_an_ecdhe_aead_suite_is_accepted_under_tls_1_2(server, suite):
    version, cipher = handshake(server, client(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, suite))
    assert (version, cipher) == ("TLSv1.2", suite)


def test_tls_1_2_offered_everything_gets_an_aead_suite(server):
    version, cipher = handshake(server, client(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2))
    assert version == "TLSv1.2"
    assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)


def test_tls_1_3_is_accepted(server):
    version, cipher = handshake(server, client(ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3))
    assert version == "TLSv1.3"
    assert cipher in {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
