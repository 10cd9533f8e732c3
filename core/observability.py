"""Structured logs, Prometheus metrics and alerts: what operators watch.

- Logs are JSON lines with the request id (`X-Request-ID`) of the request being served.
- Metrics: requests by kind and status class, latency, sign-in failures, lockouts, task
  outcomes. Served at /metrics to KASSA_METRICS_ALLOWED_IPS only; several processes
  (gunicorn workers) share them through PROMETHEUS_MULTIPROC_DIR.
- Alerts (core.alerts) for bursts of failed sign-ins and lockouts per tenant.
"""

import json
import logging
import os
import time
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotFound
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from core.net import client_ip

request_id_var: ContextVar[str] = ContextVar("kassa_request_id", default="")

REQUESTS = Counter("kassa_http_requests_total", "HTTP requests answered", ["kind", "method", "status"])
LATENCY = Histogram(
    "kassa_http_request_duration_seconds",
    "Time to answer a request",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SIGNIN_FAILURES = Counter("kassa_signin_failures_total", "Failed sign-in attempts", ["channel", "reason"])
LOCKOUTS = Counter("kassa_lockouts_total", "Accounts locked out", ["channel"])
TASKS = Counter("kassa_task_outcomes_total", "Celery task outcomes", ["task", "outcome"])


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id (and the exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _kind(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "web"


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        kind = _kind(request.path)
        LATENCY.labels(kind).observe(time.perf_counter() - started)
        REQUESTS.labels(kind, request.method, f"{response.status_code // 100}xx").inc()
        return response


def metrics_view(request):
    if client_ip(request) not in settings.KASSA_METRICS_ALLOWED_IPS:
        return HttpResponseNotFound()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def task_outcome(task_name: str, outcome: str) -> None:
    TASKS.labels(task_name, outcome).inc()
