import os
import sys

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")

app = Celery("kassa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_unsafe_role(sender=None, **kwargs):
    """A worker (or beat) whose database role could step outside row-level security does not start."""
    from core.env import ConfigError
    from tenants.roles import startup_check

    try:
        startup_check()
    except ConfigError as error:
        sys.stderr.write(f"kassa: configuration error: {error}\n")
        sys.stderr.flush()
        os._exit(3)  # one line, no traceback, from inside Celery's start-up


@signals.worker_init.connect
def _yield_to_requests(sender=None, **kwargs):
    """Before the pool and the worker's threads start (they inherit it): the worker's nice value
    at least KASSA_WORKER_NICE, so a web process on the same machine is scheduled first."""
    from django.conf import settings

    if os.getpriority(os.PRIO_PROCESS, 0) < settings.KASSA_WORKER_NICE:
        os.setpriority(os.PRIO_PROCESS, 0, settings.KASSA_WORKER_NICE)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_connections_checked(sender=None, **kwargs):
    """Around each task, as around each request: a connection past CONN_MAX_AGE or broken is closed.

    Only where the worker keeps connections between tasks (CELERY_DB_REUSE_MAX, kassa.settings);
    otherwise Celery's fixup closes them all around every task itself.
    """
    if app.conf.get("CELERY_DB_REUSE_MAX") and not getattr(sender.request, "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()


@signals.task_success.connect
def _task_succeeded(sender=None, **kwargs):
    from core.observability import task_outcome

    task_outcome(sender.name, "success")


@signals.task_failure.connect
def _task_failed(sender=None, **kwargs):
    from core.observability import task_outcome

    task_outcome(sender.name, "failure")


@signals.task_retry.connect
def _task_retried(sender=None, **kwargs):
    from core.observability import task_outcome

    task_outcome(sender.name, "retry")


@app.task(name="kassa.ping_task")
def ping_task() -> str:
    return "pong"


@app.task(bind=True, name="kassa.worker_name_task")
def worker_name_task(self, seconds: float = 0.0) -> str:
    """Which worker ran this (operations and the two-node test)."""
    import time

    time.sleep(seconds)
    return self.request.hostname


@app.task(bind=True, name="kassa.beat_heartbeat_task")
def beat_heartbeat_task(self) -> str:
    """Record which beat slot ran (its task id, `beat:<name>:<slot>`): the last 1,000 in Redis."""
    from django.core.cache import cache

    from kassa.beat import runs_key

    client = cache._cache.get_client(write=True)
    pipe = client.pipeline()
    pipe.lpush(runs_key(), self.request.id)
    pipe.ltrim(runs_key(), 0, 999)
    pipe.expire(runs_key(), 7 * 24 * 3600)
    pipe.execute()
    return self.request.id
