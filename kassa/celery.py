import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")

app = Celery("kassa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
