import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")

app = Celery("kassa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="kassa.ping")
def ping_task() -> str:
    return "pong"


@app.task(bind=True, name="kassa.worker_name")
def worker_name_task(self, seconds: float = 0.0) -> str:
    """Which worker ran this (operations and the two-node test)."""
    import time

    time.sleep(seconds)
    return self.request.hostname
