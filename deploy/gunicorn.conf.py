"""gunicorn settings for Kassa, shared by `make run` and production (see deploy/README.md)."""

import os
import ssl

# gunicorn serves the web process only: the application role, never maintenance or owner credentials.
os.environ["KASSA_PROCESS"] = "web"

bind = os.environ.get("KASSA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = 1
worker_class = "sync"
timeout = 60
graceful_timeout = 20
keepalive = 5
# Restart workers now and then so a slow leak cannot grow without bound.
max_requests = 5000
max_requests_jitter = 500
limit_request_line = 8190
limit_request_fields = 100
accesslog = None  # Kassa writes its own access log (auditlog); the proxy keeps its own
errorlog = "-"
# Forwarded headers (X-Forwarded-*, SCRIPT_NAME) only from the proxies named; none by default.
forwarded_allow_ips = os.environ.get("KASSA_TRUSTED_PROXIES", "")
proc_name = "kassa-web"


# When gunicorn terminates TLS itself (`make run`): TLS 1.3, and TLS 1.2 with ECDHE key exchange and
# AEAD ciphers only (AES-GCM, ChaCha20-Poly1305): no CBC (LUCKY13), no static RSA, no SHA-1 MACs.
# TLS 1.3's suites are all AEAD. deploy/nginx.conf and nginx-compose.conf offer the same.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def ssl_context(conf, default_ssl_context_factory):
    context = default_ssl_context_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return context


def on_starting(server):
    """No product or version in the Server header."""
    import gunicorn.http.wsgi

    gunicorn.http.wsgi.SERVER = "kassa"


# Python's cyclic garbage collector: a young pass every 700 new container objects and a full one
# every hundred of those, each full pass walking every object of the loaded application. Measured
# in process (bench/RESULTS.md): with the application frozen out of the collector after it loads
# and the passes below, a sale costs 7 % less CPU and a product list page 9 % less (a detail the
# same); a worker holds ~9 MB more after 3,000 sales (garbage cycles wait for a larger young
# pass; reference counting frees the rest at once), and max_requests restarts it anyway.
GC_THRESHOLDS = (50_000, 50, 100)


def post_worker_init(worker):
    """After the worker loaded the application: freeze it out of the collector, widen the passes."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def child_exit(server, worker):
    """Drop a finished worker's live gauges from the shared Prometheus files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def worker_abort(worker):
    """A request the timeout kills is still logged (status 504) before the worker exits."""
    from auditlog.middleware import request_in_flight_abort

    request_in_flight_abort()
