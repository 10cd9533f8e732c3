import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")

app = Celery("kassa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="kassa.ping")
def ping_task() -> str:
    return "pong"
