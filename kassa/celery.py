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
